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

  /**
   * One message body: the static fields, then `fields`. Returns null when a value contains
   * the boundary (the random boundary makes this practically impossible; the caller fails
   * the message rather than send a corrupt body).
   */
  build(fields: readonly FormField[]): Buffer | null {
    let dynamic = '';
    for (const [name, value] of fields) {
      if (value.includes(this.boundary)) return null;
      dynamic += this.part(name, value);
    }
    const dynamicLength = Buffer.byteLength(dynamic, 'utf8');
    const body = Buffer.allocUnsafe(this.staticPart.length + dynamicLength + this.closing.length);
    this.staticPart.copy(body, 0);
    body.write(dynamic, this.staticPart.length, 'utf8');
    this.closing.copy(body, this.staticPart.length + dynamicLength);
    return body;
  }

  private part(name: string, value: string): string {
    const quoted = name.replace(/["\\\r\n]/g, (c) => (c === '"' ? '%22' : c === '\\' ? '\\\\' : ''));
    return `--${this.boundary}\r\nContent-Disposition: form-data; name="${quoted}"\r\n\r\n${value}\r\n`;
  }
}
