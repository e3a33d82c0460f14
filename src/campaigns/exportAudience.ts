import type { Db } from '../db/connect.js';
import type { MemberRow } from '../sql/recipients/listMemberPages.js';
import { audiencePage } from '../sql/audiencePage.js';
import type { AudienceDefinition } from '../sql/audienceQuery.js';
import { audienceAttributeNames } from '../sql/recipients/audienceAttributeNames.js';
import { type AudienceInput, definitionOf, resolveAudience } from './audience.js';
import { type ExportOptions, type RecipientExport, writeRecipientsCsv } from './exportList.js';

// A segment (saved, or text) as CSV, in the list export's layout (docs/http-api.md, "Export a
// segment"): the recipients a count preview counts, so the file has as many rows as
// `segments count` says, unless the suppressed are asked for too.

export interface AudienceExportOptions extends ExportOptions {
  /** Also the recipients in it whose address is suppressed (the count leaves them out). */
  includeSuppressed?: boolean;
  /** Recipients per page read: each page is one short query. */
  pageSize?: number;
}

/**
 * An audience's export: checked (every name found, the text parsed: errors before any byte
 * is written), its header read in one pass, its rows in keyset pages by recipient id, each in
 * its own short transaction, so memory stays flat and no snapshot is held while a slow reader
 * takes the file. `now` is fixed when the export starts, so "within N days" means the same on
 * every page. Someone who joins (or leaves) the audience while the export runs is in the file
 * if their id is not yet passed, as in a list export.
 */
export async function audienceExport(db: Db, input: AudienceInput, options: AudienceExportOptions = {}, now = new Date()): Promise<RecipientExport> {
  const resolved = await resolveAudience(db, input);
  const def = definitionOf(resolved);
  const withoutSuppressed = !options.includeSuppressed;
  const names = await audienceAttributeNames(db.kysely, def, now, { withoutSuppressed });
  const base = resolved.segment?.name ?? (resolved.ast ? 'segment' : (resolved.include?.map((l) => l.name).join('+') ?? 'recipients'));
  return {
    filename: `${base.replace(/[^A-Za-z0-9._+-]+/g, '_') || 'segment'}.csv`,
    write: (out) => writeRecipientsCsv(out, names, audiencePages(db, def, now, withoutSuppressed, options.pageSize ?? 2000), options),
  };
}

async function* audiencePages(db: Db, def: AudienceDefinition, now: Date, withoutSuppressed: boolean, pageSize: number): AsyncGenerator<MemberRow[]> {
  let after = 0;
  for (;;) {
    const page = await audiencePage(db.kysely, { definition: def, now }, after, pageSize, { withoutSuppressed });
    if (page.length > 0) yield page.map((r) => ({ id: r.recipientId, email: r.email, name: r.name, attributes: r.attributes }));
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.recipientId;
  }
}
