import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { UserError } from '../domain/errors.js';

/** One physical line of a text file: its text, or why its bytes are not text. */
export type TextLine = { line: number; text: string } | { line: number; bad: string; shown: string };

/** The whole file is not UTF-8 text (UTF-16, binary): one message, never the bytes themselves. */
export class EncodingError extends UserError {
  override name = 'EncodingError';
}

/** C0 control characters other than tab, and DEL: not text anyone means to put in a CSV. */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const SNIFF_BYTES = 4096;
/** A longer "line" is junk (or a file without line ends); holding it would grow memory with the file. */
const MAX_LINE_BYTES = 1024 * 1024;

/**
 * Reads a file as UTF-8 lines (ended by LF, CRLF or a lone CR, as readline does), checking
 * every line's bytes on its own: a NUL, a control character or a byte sequence that is not
 * UTF-8 makes that line bad (with the reason and its byte position) and leaves the others
 * alone. Decoding the whole stream leniently would instead turn bad bytes into U+FFFD or
 * hand a NUL to Postgres, which refuses the whole batch it is in.
 *
 * Before the first line, the start of the file is sniffed: a UTF-16/UTF-32 byte-order mark,
 * NULs interleaved with text, or mostly non-text bytes end the read with an EncodingError
 * that says what was found.
 */
export async function* readTextLines(file: string): AsyncGenerator<TextLine> {
  let lineNo = 0;
  let carry: Buffer = Buffer.alloc(0);
  let sniffed = false;
  // A chunk that ended in CR: a LF starting the next chunk belongs to that line end.
  let skipLeadingLf = false;
  let skipping = false;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    if (!sniffed) {
      if (data.length < SNIFF_BYTES) {
        carry = data;
        continue;
      }
      sniff(data);
      sniffed = true;
    }
    if (skipLeadingLf && data.length > 0) {
      if (data[0] === 0x0a) data = data.subarray(1);
      skipLeadingLf = false;
    }
    if (skipping) {
      // The rest of an overlong line, already rejected: drop it up to its line end.
      let at = data.findIndex((b) => b === 0x0a || b === 0x0d);
      if (at < 0) {
        carry = Buffer.alloc(0);
        continue;
      }
      if (data[at] === 0x0d) {
        if (at + 1 < data.length && data[at + 1] === 0x0a) at++;
        else if (at === data.length - 1) skipLeadingLf = true;
      }
      data = data.subarray(at + 1);
      skipping = false;
    }
    // Everything up to the last line end is complete; the rest waits for the next chunk.
    const end = Math.max(data.lastIndexOf(0x0a), data.lastIndexOf(0x0d));
    if (end >= 0) {
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (end === data.length - 1 && data[end] === 0x0d) skipLeadingLf = true;
      for (const item of splitLines(data.subarray(0, end + 1), lineNo, true)) {
        lineNo = item.line;
        yield item;
      }
    }
    carry = Buffer.from(data.subarray(end + 1));
    if (carry.length > MAX_LINE_BYTES) {
      yield { line: ++lineNo, bad: `the line is longer than ${MAX_LINE_BYTES} bytes`, shown: `${escaped(carry.subarray(0, 200))}…` };
      carry = Buffer.alloc(0);
      skipping = true;
    }
  }
  if (!sniffed) sniff(carry);
  if (skipping) return;
  if (skipLeadingLf && carry[0] === 0x0a) carry = carry.subarray(1);
  if (carry.length > 0) for (const item of splitLines(carry, lineNo, false)) yield item;
}

/** The lines of a block; `terminated`: the block ends with a line end (no empty line after it). */
function* splitLines(block: Buffer, lineNo: number, terminated: boolean): Generator<TextLine> {
  // The common case, a block of clean text, is decoded and checked at once.
  if (isUtf8(block)) {
    const text = block.toString('utf8');
    if (!CONTROL.test(text)) {
      const lines = text.split(/\r\n|\r|\n/);
      if (terminated) lines.pop();
      for (const t of lines) yield { line: ++lineNo, text: t };
      return;
    }
  }
  let start = 0;
  while (start < block.length) {
    let end = start;
    while (end < block.length && block[end] !== 0x0a && block[end] !== 0x0d) end++;
    yield lineOf(block.subarray(start, end), ++lineNo);
    if (end < block.length && block[end] === 0x0d && block[end + 1] === 0x0a) end++;
    start = end + 1;
  }
}

function lineOf(bytes: Buffer, line: number): TextLine {
  if (isUtf8(bytes)) {
    const text = bytes.toString('utf8');
    const control = CONTROL.exec(text);
    if (!control) return { line, text };
    const code = control[0].charCodeAt(0);
    const at = Buffer.byteLength(text.slice(0, control.index)) + 1;
    const what = code === 0 ? 'a NUL byte' : `control character 0x${hex(code)}`;
    return { line, bad: `${what} at byte ${at} of the line`, shown: escaped(bytes) };
  }
  const at = firstInvalidUtf8(bytes);
  return { line, bad: `not UTF-8: byte 0x${hex(bytes[at]!)} at byte ${at + 1} of the line (save the file as UTF-8)`, shown: escaped(bytes) };
}

/** Position of the first byte that does not start a valid UTF-8 sequence. */
function firstInvalidUtf8(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > bytes.length || !isUtf8(bytes.subarray(i, i + len))) return i;
    i += len;
  }
  return 0;
}

/** The line for a person to read in the rejects file: bad bytes and controls as \xNN. */
function escaped(bytes: Buffer): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 1 && !CONTROL.test(String.fromCharCode(b))) {
      out += b === 0x5c ? '\\\\' : String.fromCharCode(b);
    } else if (len > 1 && i + len <= bytes.length && isUtf8(bytes.subarray(i, i + len))) {
      out += bytes.subarray(i, i + len).toString('utf8');
      i += len;
      continue;
    } else {
      out += `\\x${hex(b)}`;
    }
    i++;
  }
  return out;
}

const hex = (n: number): string => n.toString(16).padStart(2, '0');

/**
 * Stops at once for a file that is not UTF-8 text at all, rather than rejecting every line
 * of it: UTF-16/32 (by byte-order mark, or by NULs interleaved with ASCII, which is how
 * Windows tools often save "Unicode" CSVs), or binary data (gzip, zip, a spreadsheet).
 */
function sniff(head: Buffer): void {
  const bytes = head.subarray(0, SNIFF_BYTES);
  if (bytes.length === 0) return;
  const starts = (...sig: number[]): boolean => sig.every((b, i) => bytes[i] === b);
  const advice = 'save it as UTF-8 CSV and import again';
  if (starts(0xff, 0xfe, 0x00, 0x00) || starts(0x00, 0x00, 0xfe, 0xff))
    throw new EncodingError(`the file is UTF-32 (it starts with a UTF-32 byte-order mark), not UTF-8: ${advice}`);
  if (starts(0xff, 0xfe)) throw new EncodingError(`the file is UTF-16 little-endian (it starts with a UTF-16 byte-order mark), not UTF-8: ${advice}`);
  if (starts(0xfe, 0xff)) throw new EncodingError(`the file is UTF-16 big-endian (it starts with a UTF-16 byte-order mark), not UTF-8: ${advice}`);
  if (bytes.length >= 4) {
    let evenNul = 0;
    let oddNul = 0;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) i % 2 === 0 ? evenNul++ : oddNul++;
    const half = bytes.length / 2;
    if (oddNul > half * 0.6 && evenNul < half * 0.1)
      throw new EncodingError(`the file looks like UTF-16 little-endian without a byte-order mark (every other byte is NUL), not UTF-8: ${advice}`);
    if (evenNul > half * 0.6 && oddNul < half * 0.1)
      throw new EncodingError(`the file looks like UTF-16 big-endian without a byte-order mark (every other byte is NUL), not UTF-8: ${advice}`);
  }
  if (starts(0x1f, 0x8b)) throw new EncodingError('the file is gzip-compressed, not a CSV: decompress it first');
  if (starts(0x50, 0x4b, 0x03, 0x04)) throw new EncodingError('the file is a zip archive (an .xlsx spreadsheet is one), not a CSV: export it as UTF-8 CSV');
  // Text has few control bytes; binary data is full of them (and of NULs).
  let binary = 0;
  for (const b of bytes) if (b === 0 || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) binary++;
  if (binary > bytes.length * 0.1) {
    throw new EncodingError(
      `the file is binary data, not UTF-8 text (${binary} of its first ${bytes.length} bytes are NULs or control characters): expected a UTF-8 CSV`,
    );
  }
}
