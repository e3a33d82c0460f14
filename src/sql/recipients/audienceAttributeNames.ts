import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';
import { audienceCondition, type AudienceDefinition } from '../audienceQuery.js';
import { planSegmentQuery } from '../planSegmentQuery.js';

/**
 * Every attribute name the audience's recipients have, in code-point order: a segment
 * export's header, read before its rows (as listAttributeNames is for a list). One pass over
 * the audience; Postgres keeps only the distinct names. With `withoutSuppressed`, the
 * suppressed recipients' attributes are left out, as their rows are.
 */
export async function audienceAttributeNames(
  db: Kysely<Database>,
  def: AudienceDefinition,
  now: Date,
  { withoutSuppressed = false }: { withoutSuppressed?: boolean } = {},
): Promise<string[]> {
  if (!db.isTransaction) return db.transaction().execute((trx) => audienceAttributeNames(trx, def, now, { withoutSuppressed }));
  if (def.segment !== null) await planSegmentQuery(db as Transaction<Database>);
  const unsuppressed = withoutSuppressed ? sql`and not exists (select 1 from suppressions s where s.email = lower(r.email))` : sql``;
  const rows = await sql<{ key: string }>`
    select distinct k.key collate "C" as key
    from recipients r
    cross join lateral jsonb_object_keys(r.attributes) as k(key)
    where ${audienceCondition(def, now)} ${unsuppressed}
    order by 1
  `.execute(db);
  return rows.rows.map((r) => r.key);
}
