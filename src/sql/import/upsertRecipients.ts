import { sql } from 'kysely';
import type { FirstOccurrences } from './markFirstOccurrences.js';
import type { SessionRunner } from './session.js';

export interface UpsertOutcome {
  ids: number[];
  inserted: number;
  updated: number;
  unchanged: number;
}

/**
 * Merges first occurrences into recipients: new addresses inserted. Addresses already there
 * are left as they are, unless `update` (import --update): then the row's attributes are
 * merged into theirs (a column the file has sets that attribute; an empty cell or a column it
 * lacks leaves it) and its name replaces theirs when the row has one. Rows that would not
 * change are not written. Needs no staging table, so it can run on another session while the
 * next batch is staged.
 */
export async function upsertRecipients(run: SessionRunner, firsts: FirstOccurrences, update = false): Promise<UpsertOutcome> {
  const total = firsts.emails.length;
  if (total === 0) return { ids: [], inserted: 0, updated: 0, unchanged: 0 };
  const merged = update
    ? await run(sql<{ id: number; inserted: boolean }>`
        insert into recipients (email, name, attributes)
        select * from unnest(${firsts.emails}::text[], ${firsts.names}::text[], ${firsts.attributes}::jsonb[])
        on conflict ((lower(email))) do update
          set name = coalesce(excluded.name, recipients.name), attributes = recipients.attributes || excluded.attributes, updated_at = now()
          where recipients.name is distinct from coalesce(excluded.name, recipients.name)
             or recipients.attributes is distinct from recipients.attributes || excluded.attributes
        returning id, (xmax = 0) as inserted
      `)
    : await run(sql<{ id: number; inserted: boolean }>`
        insert into recipients (email, name, attributes)
        select * from unnest(${firsts.emails}::text[], ${firsts.names}::text[], ${firsts.attributes}::jsonb[])
        on conflict ((lower(email))) do nothing
        returning id, true as inserted
      `);
  // The upsert returns the ids of new and changed rows; only the others need a lookup.
  const ids =
    merged.rows.length === total
      ? merged.rows.map((r) => r.id)
      : (await run(sql<{ id: number }>`select r.id from unnest(${firsts.emails}::text[]) as e join recipients r on lower(r.email) = lower(e)`)).rows.map(
          (r) => r.id,
        );
  const inserted = merged.rows.filter((r) => r.inserted).length;
  return { ids, inserted, updated: merged.rows.length - inserted, unchanged: total - merged.rows.length };
}
