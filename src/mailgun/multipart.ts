import { randomBytes } from 'node:crypto';

export type FormField = readonly [name: string, value: string];

/**
 * Writes `multipart/form-data` bodies for the messages endpoint. The campaign's fixed fields
 * are encoded once; each message appends only its own. Multipart (not urlencoded) because
 * Mailgun documents it for every call and it needs no escaping of 15 KB of HTML.
 */
export class MultipartWriter {
  readonly boundary: string;
  readonly contentType: string;
  private readonly staticPart: Buffer;
  private readonly closing: Buffer;

  constructor(staticFields: readonly FormField[], boundary = `herald-${randomBytes(18).toString('base64url')}`) {
    this.boundary = boundary;
    this.contentType = `multipart/form-data; boundary=${boundary}`;
    this.staticPart = Buffer.from(staticFields.map(([n, v]) => this.part(n, v)).join(''), 'utf8');
    this.closing = Buffer.from(`--${boundary}--\r\n`, 'latin1');
  }

  /** An upper bound of the bytes `writeInto` needs for these fields (UTF-8: ≤ 3 bytes per UTF-16 unit). */
  maxBytes(fields: readonly FormField[]): number {
    let n = this.staticPart.length + this.closing.length;
    for (const [name, value] of fields) n += 3 * (name.length + value.length) + this.boundary.length + 64;
    return n;
  }

  /**
   * Writes one message body — the static fields, then `fields` — into `target` at `offset`
   * and returns its length, or null when a value contains the boundary (practically
   * impossible with a random boundary; the caller fails that message rather than send a
   * corrupt body). Writing in place avoids an intermediate buffer per message.
   */
  writeInto(target: Buffer, offset: number, fields: readonly FormField[]): number | null {
    let at = offset + this.staticPart.copy(target, offset);
    for (const [name, value] of fields) {
      if (value.includes(this.boundary)) return null;
      at += target.write(this.partHeader(name), at, 'utf8');
      at += target.write(value, at, 'utf8');
      at += target.write('\r\n', at, 'latin1');
    }
    at += this.closing.copy(target, at);
    return at - offset;
  }

  private partHeader(name: string): string {
    const quoted = name.replace(/["\\\r\n]/g, (c) => (c === '"' ? '%22' : c === '\\' ? '\\\\' : ''));
    return `--${this.boundary}\r\nContent-Disposition: form-data; name="${quoted}"\r\n\r\n`;
  }

  private part(name: string, value: string): string {
    return `${this.partHeader(name)}${value}\r\n`;
  }
}
