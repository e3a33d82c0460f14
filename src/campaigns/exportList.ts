import type { Db } from '../db/connect.js';
import { csvCell, spreadsheetSafe } from '../domain/csvCell.js';
import { NotFoundError } from '../domain/errors.js';
import { findListId } from '../sql/findListId.js';
import { listAttributeNames } from '../sql/recipients/listAttributeNames.js';
import { listMemberPages, type MemberRow } from '../sql/recipients/listMemberPages.js';
import { writeChunks } from './writeChunks.js';

// Recipients as CSV (docs/http-api.md, "Export a list"): email, name, then one column per
// attribute name any of them has, in the layout `recipients import` reads back.

export interface ExportOptions {
  /**
   * Cells a spreadsheet would run as a formula get a leading apostrophe (domain/csvCell.ts).
   * On by default: an export is usually opened in a spreadsheet, and its cells are whatever
   * people typed into a sign-up form. Off (raw) for a file another program reads back.
   */
  spreadsheetSafe?: boolean;
}

/** An export ready to stream: its header is known, no row has been read. */
export interface RecipientExport {
  filename: string;
  write(out: NodeJS.WritableStream): Promise<void>;
}

/**
 * A list's export. The attribute names are read first (one pass, only the distinct names
 * kept), so the rows stream in pages with memory flat at any list size. An attribute a member
 * gains while the export runs, under a name no member had when it started, is not in the file.
 */
export async function listExport(db: Db, listName: string, options: ExportOptions = {}): Promise<RecipientExport> {
  const listId = await findListId(db.kysely, listName);
  if (listId === undefined) throw new NotFoundError(`list '${listName}' does not exist`);
  const names = await listAttributeNames(db.kysely, listId);
  return {
    filename: `${listName.replace(/[^A-Za-z0-9._-]+/g, '_') || 'list'}.csv`,
    write: (out) => writeRecipientsCsv(out, names, listMemberPages(db.kysely, listId), options),
  };
}

/**
 * Writes recipients as CSV to `out`, waiting for 'drain' when it is full, and stopping
 * quietly when the reader goes away. Any source of recipient pages fits: a segment's export
 * passes its audience's pages and the attribute names they have.
 */
export async function writeRecipientsCsv(
  out: NodeJS.WritableStream,
  attributeNames: readonly string[],
  pages: AsyncIterable<MemberRow[]>,
  options: ExportOptions = {},
): Promise<void> {
  await writeChunks(out, csvChunks(attributeNames, pages, options.spreadsheetSafe ?? true));
}

async function* csvChunks(attributeNames: readonly string[], pages: AsyncIterable<MemberRow[]>, safe: boolean): AsyncGenerator<string> {
  const cell = (value: string | null): string => csvCell(safe ? spreadsheetSafe(value) : value);
  yield `${['email', 'name', ...attributeNames].map(cell).join(',')}\n`;
  for await (const page of pages) {
    let chunk = '';
    for (const r of page) {
      chunk += `${cell(r.email)},${cell(r.name)}`;
      for (const key of attributeNames) chunk += `,${cell(textOf(r.attributes[key]))}`;
      chunk += '\n';
    }
    yield chunk;
  }
}

/** Attributes are text (import, API); anything else written before is shown as its JSON. */
function textOf(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
