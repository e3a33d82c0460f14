import { gunzipSync } from 'node:zlib';

/** The fields of one message request. Big content fields are measured, not decoded. */
export interface ParsedMessage {
  fields: Map<string, string[]>;
  /** Byte length of each content field that was skipped (html, text, amp-html, attachment). */
  sizes: Map<string, number>;
  /** Where the (first) html part lies in the body, still encoded; decoded by `htmlOf` on demand. */
  htmlPart?: { body: Buffer; start: number; end: number; urlEncoded: boolean };
}

/** The html part of a parsed message, decoded: only when asked for (the mock's clicks want its links). */
export function htmlOf(parsed: ParsedMessage): string | undefined {
  const part = parsed.htmlPart;
  if (!part) return undefined;
  return part.urlEncoded ? decode(part.body.toString('latin1', part.start, part.end)) : part.body.toString('utf8', part.start, part.end);
}

// Decoding the HTML of every request would cost the mock more CPU than the sender spends:
// these are only measured.
const MEASURED_ONLY = new Set(['html', 'text', 'amp-html', 'attachment', 'inline', 'message']);

export class BodyError extends Error {}

/** A multipart boundary's delimiters, kept for the next request: a sender reuses one boundary. */
interface Delimiters {
  contentType: string;
  first: Buffer;
  next: Buffer;
}
let lastDelimiters: Delimiters | null = null;

function delimitersFor(contentType: string): Delimiters {
  if (lastDelimiters?.contentType === contentType) return lastDelimiters;
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!boundary) throw new BodyError('multipart body without a boundary');
  const value = boundary[1] ?? boundary[2]!;
  lastDelimiters = { contentType, first: Buffer.from(`--${value}`), next: Buffer.from(`\r\n--${value}`) };
  return lastDelimiters;
}

export function parseMessageBody(contentType: string | undefined, encoding: string | undefined, raw: Buffer): ParsedMessage {
  const body = encoding?.toLowerCase() === 'gzip' ? gunzipSync(raw) : raw;
  const type = (contentType ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data')) return parseMultipart(body, delimitersFor(contentType!));
  if (type.startsWith('application/x-www-form-urlencoded')) return parseUrlEncoded(body);
  throw new BodyError(`unsupported content type '${contentType ?? ''}'`);
}

function add(parsed: ParsedMessage, name: string, value: string): void {
  const list = parsed.fields.get(name);
  if (list) list.push(value);
  else parsed.fields.set(name, [value]);
}

function parseMultipart(body: Buffer, { first: delimiter, next: nextDelimiter }: Delimiters): ParsedMessage {
  const parsed: ParsedMessage = { fields: new Map(), sizes: new Map() };
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new BodyError('multipart body without its boundary');
  pos += delimiter.length;
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parsed; // closing "--"
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw new BodyError('malformed multipart body');
    const headersStart = pos + 2;
    const headersEnd = body.indexOf('\r\n\r\n', headersStart, 'latin1');
    if (headersEnd < 0) throw new BodyError('malformed multipart part headers');
    const headers = body.toString('utf8', headersStart, headersEnd);
    const name = /name="((?:[^"\\]|\\.)*)"/i.exec(headers)?.[1];
    const valueStart = headersEnd + 4;
    const valueEnd = body.indexOf(nextDelimiter, valueStart);
    if (valueEnd < 0) throw new BodyError('multipart body is not terminated');
    if (name !== undefined) {
      if (MEASURED_ONLY.has(name)) {
        parsed.sizes.set(name, (parsed.sizes.get(name) ?? 0) + valueEnd - valueStart);
        if (name === 'html' && !parsed.htmlPart) parsed.htmlPart = { body, start: valueStart, end: valueEnd, urlEncoded: false };
      } else add(parsed, name, body.toString('utf8', valueStart, valueEnd));
    }
    pos = valueEnd + nextDelimiter.length;
  }
}

function parseUrlEncoded(body: Buffer): ParsedMessage {
  const parsed: ParsedMessage = { fields: new Map(), sizes: new Map() };
  let pos = 0;
  while (pos < body.length) {
    let end = body.indexOf(0x26, pos); // '&'
    if (end < 0) end = body.length;
    const eq = body.indexOf(0x3d, pos); // '='
    const keyEnd = eq >= 0 && eq < end ? eq : end;
    const name = decode(body.toString('latin1', pos, keyEnd));
    if (name) {
      if (MEASURED_ONLY.has(name)) {
        parsed.sizes.set(name, (parsed.sizes.get(name) ?? 0) + Math.max(0, end - keyEnd - 1));
        if (name === 'html' && !parsed.htmlPart && keyEnd < end) parsed.htmlPart = { body, start: keyEnd + 1, end, urlEncoded: true };
      } else add(parsed, name, keyEnd < end ? decode(body.toString('latin1', keyEnd + 1, end)) : '');
    }
    pos = end + 1;
  }
  return parsed;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new BodyError('malformed percent-encoding');
  }
}
