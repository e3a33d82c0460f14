import { randomBytes } from 'node:crypto';

export type FormField = readonly [name: string, value: string];

/**
 * V8 before 13 (Node 20 and 22) writes a string as UTF-8 at memory speed only when all of it
 * is ASCII; one non-ASCII character (a `·` in a footer) sends the whole string down a path
 * that encodes one character at a time. Written in 2 KB slices, the ASCII slices keep the
 * fast path (`npm run bench:encode`; BENCHMARKS.md, "Why these hand-written parts"). Node 24 encodes whole
 * strings fast and would pay more for the slicing than it saves, so it writes whole strings.
 */
const UTF8_SLICE = Number(process.versions.v8.split('.')[0]) < 13 ? 2048 : Infinity;

/**
 * Writes `value` as UTF-8 into `target` at `offset`, `sliceLength` UTF-16 units at a time;
 * returns the bytes written. Slices never split a surrogate pair, so the bytes are those of
 * the whole string.
 */
export function writeUtf8(target: Buffer, offset: number, value: string, sliceLength = UTF8_SLICE): number {
  if (value.length <= sliceLength) return target.write(value, offset, 'utf8');
  let at = offset;
  for (let from = 0; from < value.length; ) {
    let end = Math.min(from + sliceLength, value.length);
    const last = value.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end++;
    at += target.write(value.slice(from, end), at, 'utf8');
    from = end;
  }
  return at - offset;
}

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
  /**
   * Each field name's part header, encoded once: names come from a fixed set in the code, and
   * building the header for every field of every message (a regex, a template string, a
   * UTF-8 write) was a measurable cost per message on Node 20 (BENCHMARKS.md, "Why these hand-written parts").
   */
  private readonly partHeaders = new Map<string, Buffer>();

  /**
   * `boundary` lets every render thread of one pool share a boundary, so bodies rendered on
   * different threads can travel under one Content-Type; it must be as unguessable as the default.
   */
  constructor(staticFields: readonly FormField[], boundary = `herald-${randomBytes(18).toString('base64url')}`) {
    this.boundary = boundary;
    this.contentType = `multipart/form-data; boundary=${boundary}`;
    this.staticPart = Buffer.concat(staticFields.flatMap(([name, value]) => [this.partHeader(name), Buffer.from(`${value}\r\n`, 'utf8')]));
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
   * and returns its length. Writing in place avoids an intermediate buffer per message.
   * Values are not searched for the boundary: it carries 144 random bits drawn in this
   * process, and neither template authors nor recipients ever see it (RFC 2046 §5.1.1), while
   * searching every HTML part for it cost about as much as encoding it (BENCHMARKS.md).
   */
  writeInto(target: Buffer, offset: number, fields: readonly FormField[]): number {
    let at = offset + this.staticPart.copy(target, offset);
    for (const [name, value] of fields) {
      at += this.partHeader(name).copy(target, at);
      at += writeUtf8(target, at, value);
      target[at++] = 0x0d;
      target[at++] = 0x0a;
    }
    at += this.closing.copy(target, at);
    return at - offset;
  }

  private partHeader(name: string): Buffer {
    let header = this.partHeaders.get(name);
    if (!header) {
      const quoted = name.replace(/["\\\r\n]/g, (c) => (c === '"' ? '%22' : c === '\\' ? '\\\\' : ''));
      header = Buffer.from(`--${this.boundary}\r\nContent-Disposition: form-data; name="${quoted}"\r\n\r\n`, 'utf8');
      this.partHeaders.set(name, header);
    }
    return header;
  }
}
