import { parse } from 'csv-parse/sync';
import { readTextLines } from './textLines.js';

export interface CsvRecord {
  /** Line in the file where the record starts (1-based). */
  line: number;
  fields: string[];
}

export interface CsvReject {
  line: number;
  reason: string;
  raw: string;
}

export type CsvItem = { kind: 'record'; record: CsvRecord } | { kind: 'reject'; reject: CsvReject };

/** A quoted field may span lines, but a quote left open this long is a broken line. */
const MAX_RECORD_LINES = 50;
const PARSE_OPTIONS = { relax_quotes: true, relax_column_count: true, skip_empty_lines: false } as const;

/**
 * Streams a CSV file as records with their starting line numbers. Quotes, embedded commas
 * and newlines, a BOM and CRLF are handled by csv-parse; what this adds is recovery: a line
 * whose quote never closes is rejected on its own (with its line number) and parsing resumes
 * on the next line, instead of the quote swallowing the rest of the file.
 *
 * `isRow` tells whether one physical line is a complete, valid row on its own (e.g. has a
 * valid email). A quote spanning lines is believed only if none of the lines it swallows
 * is such a row; otherwise its first line is the broken one and the rest are read again.
 *
 * A line whose bytes are not text (a NUL, a control character, invalid UTF-8) is rejected on
 * its own, with the reason and the line shown with those bytes escaped; a file that is not
 * UTF-8 at all (UTF-16, binary) throws an EncodingError before any record.
 */
export async function* readCsv(file: string, isRow: (line: string) => boolean): AsyncGenerator<CsvItem> {
  // Physical lines not yet turned into records: [line number, text].
  const pending: Array<[number, string]> = [];

  const assemble = function* (atEnd: boolean): Generator<CsvItem> {
    while (pending.length > 0) {
      let quotes = 0;
      let end = -1;
      for (let i = 0; i < pending.length && i < MAX_RECORD_LINES; i++) {
        quotes += countQuotes(pending[i]![1]);
        if (quotes % 2 === 0) {
          end = i;
          break;
        }
      }
      if (end < 0 && !atEnd && pending.length < MAX_RECORD_LINES) return; // need more lines
      const [firstLine, firstText] = pending[0]!;
      if (end < 0) {
        pending.shift();
        yield { kind: 'reject', reject: { line: firstLine, reason: 'malformed line: a quote is never closed', raw: firstText } };
        continue;
      }
      // Most lines have no quotes at all: a plain split is exact for them and much cheaper.
      if (end === 0 && !firstText.includes('"')) {
        pending.shift();
        if (firstText !== '') yield { kind: 'record', record: { line: firstLine, fields: firstText.split(',') } };
        continue;
      }
      const text = pending
        .slice(0, end + 1)
        .map(([, t]) => t)
        .join('\n');
      const parsed = parseRecord(text);
      if (parsed.ok && !pending.slice(1, end + 1).some(([, t]) => countQuotes(t) % 2 === 0 && isRow(t))) {
        pending.splice(0, end + 1);
        if (parsed.fields.length === 1 && parsed.fields[0] === '') continue; // blank line
        yield { kind: 'record', record: { line: firstLine, fields: parsed.fields } };
        continue;
      }
      pending.shift();
      const reason = parsed.ok ? 'malformed line: a quote is never closed' : `malformed line: ${parsed.reason}`;
      yield { kind: 'reject', reject: { line: firstLine, reason, raw: firstText } };
    }
  };

  for await (const item of readTextLines(file)) {
    if ('bad' in item) {
      yield { kind: 'reject', reject: { line: item.line, reason: `bad bytes: ${item.bad}`, raw: item.shown } };
      continue;
    }
    pending.push([item.line, item.line === 1 ? item.text.replace(/^\uFEFF/, '') : item.text]);
    yield* assemble(false);
  }
  yield* assemble(true);
}

/** Fields of one line that is a record by itself, or null. */
export function lineFields(text: string): string[] | null {
  if (!text.includes('"')) return text.split(',');
  const parsed = parseRecord(text);
  return parsed.ok ? parsed.fields : null;
}

function countQuotes(s: string): number {
  let n = 0;
  for (let i = s.indexOf('"'); i >= 0; i = s.indexOf('"', i + 1)) n++;
  return n;
}

function parseRecord(text: string): { ok: true; fields: string[] } | { ok: false; reason: string } {
  try {
    const rows = parse(text, PARSE_OPTIONS) as string[][];
    if (rows.length !== 1) return { ok: false, reason: 'expected one record' };
    return { ok: true, fields: rows[0]! };
  } catch (err) {
    // csv-parse's own line numbers count within this record, so keep only the kind of error.
    const message = (err as Error).message;
    if (/Quote Not Closed/i.test(message)) return { ok: false, reason: 'a quote is never closed' };
    if (/Invalid Closing Quote/i.test(message)) return { ok: false, reason: 'text after a closing quote' };
    return { ok: false, reason: message.split(':')[0]!.toLowerCase() };
  }
}
