import fs from 'node:fs';
import { createInterface } from 'node:readline';

/** One value read from a JSON recipients file, or why the text at that line is not one. */
export type JsonItem = { line: number; value: unknown } | { line: number; error: string };

export class JsonFileError extends Error {}

/**
 * Reads recipients from a JSON file for `herald recipients add --json`: a JSON array (read
 * whole: for large sets use JSON Lines) or JSON Lines (one object per line, streamed). Each
 * item comes with the line it starts on, and one that is not valid JSON is reported at its
 * line without losing the others. Yields batches of up to `batchSize`.
 */
export async function* readJsonRecipients(file: string, batchSize = 1000): AsyncGenerator<JsonItem[]> {
  const head = await firstNonSpace(file);
  if (head === '[') {
    const items = arrayItems(await fs.promises.readFile(file, 'utf8'), file);
    for (let i = 0; i < items.length; i += batchSize) yield items.slice(i, i + batchSize);
    return;
  }
  let batch: JsonItem[] = [];
  let line = 0;
  const lines = createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    batch.push(parsed(text, line));
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

async function firstNonSpace(file: string): Promise<string | null> {
  for await (const chunk of fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 4096 })) {
    const m = /\S/.exec(chunk as string);
    if (m) return m[0];
  }
  return null;
}

function parsed(text: string, line: number): JsonItem {
  try {
    return { line, value: JSON.parse(text) };
  } catch (err) {
    return { line, error: `not valid JSON: ${(err as Error).message}` };
  }
}

/**
 * The elements of a top-level JSON array, each parsed on its own with the line it starts on.
 * A scan finds where each element ends (strings and nesting followed), so one malformed
 * element is reported and the rest are still read.
 */
export function arrayItems(text: string, file: string): JsonItem[] {
  const items: JsonItem[] = [];
  let i = text.indexOf('[') + 1;
  let line = 1 + countNewlines(text, 0, i);
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) {
      if (text[i] === '\n') line++;
      i++;
    }
  };
  skipSpace();
  if (text[i] === ']') return ensureEnd(text, i + 1, items, file);
  for (;;) {
    skipSpace();
    const start = i;
    const startLine = line;
    let depth = 0;
    let inString = false;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (c === '\n') line++;
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        // A stray } at the top is part of a broken item (JSON.parse says what is wrong with it).
        if (depth > 0) depth--;
        else if (c === ']') break;
      } else if (c === ',' && depth === 0) break;
    }
    if (i >= text.length) throw new JsonFileError(`${file}:${startLine}: the array is not closed (no ']' after this item)`);
    const element = text.slice(start, i).trim();
    if (element === '') items.push({ line: startLine, error: 'an empty item (two commas, or a comma before ])' });
    else items.push(parsed(element, startLine));
    if (text[i] === ']') return ensureEnd(text, i + 1, items, file);
    i++;
  }
}

function ensureEnd(text: string, from: number, items: JsonItem[], file: string): JsonItem[] {
  const rest = text.slice(from);
  if (rest.trim() !== '') throw new JsonFileError(`${file}:${1 + countNewlines(text, 0, from + rest.search(/\S/))}: text after the closing ']'`);
  return items;
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}
