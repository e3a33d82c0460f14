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
 * Merges first occurrences into recipients: new addresses inserted, changed names or
 * attributes updated, unchanged rows not touched. Needs no staging table, so it can run on
 * another session while the next batch is staged.
 */
export async function upsertRecipients(run: SessionRunner, firsts: FirstOccurrences): Promise<UpsertOutcome> {
  const total = firsts.emails.length;
  if (total === 0) return { ids: [], inserted: 0, updated: 0, unchanged: 0 };
  const merged = await run(sql<{ id: number; inserted: boolean }>`
    insert into recipients (email, name, attributes)
    select * from unnest(${firsts.emails}::text[], ${firsts.names}::text[], ${firsts.attributes}::jsonb[])
    on conflict ((lower(email))) do update
      set email = excluded.email, name = excluded.name, attributes = excluded.attributes, updated_at = now()
      where recipients.email is distinct from excluded.email
         or recipients.name is distinct from excluded.name
         or recipients.attributes is distinct from excluded.attributes
    returning id, (xmax = 0) as inserted
  `);
  // The upsert returns the ids of new and changed rows; only unchanged ones need a lookup.
  const ids =
    merged.rows.length === total
      ? merged.rows.map((r) => r.id)
      : (await run(sql<{ id: number }>`select r.id from unnest(${firsts.emails}::text[]) as e join recipients r on lower(r.email) = lower(e)`)).rows.map(
          (r) => r.id,
        );
  const inserted = merged.rows.filter((r) => r.inserted).length;
  return { ids, inserted, updated: merged.rows.length - inserted, unchanged: total - merged.rows.length };
}
