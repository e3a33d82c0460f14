import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { audienceCondition, audienceIds, type AudienceDefinition } from './audienceQuery.js';
import { planSegmentQuery } from './planSegmentQuery.js';

/**
 * How many recipients an audience holds now: `count` would be sent to, `suppressed` are in
 * it but on the suppression list (a campaign records them as suppressed, sends nothing).
 */
export async function audienceCount(db: Kysely<Database>, def: AudienceDefinition, now: Date): Promise<{ count: number; suppressed: number }> {
  if (!db.isTransaction) return db.transaction().execute((trx) => audienceCount(trx, def, now));
  if (def.segment !== null) await planSegmentQuery(db as Transaction<Database>);
  const condition = audienceCondition(def, now);
  // The suppressed ones are found from the suppression list (by the recipients' lower(email)
  // index), rather than by lower-casing every recipient's address in the audience; a plain
  // audience is counted from list_members alone.
  const row = await sql<{ total: number; suppressed: number }>`
    select
      (select count(*) from (${audienceIds(def, now, { ordered: false })}) a) as total,
      (select count(*) from suppressions s join recipients r on lower(r.email) = s.email where ${condition}) as suppressed
  `.execute(db);
  const total = Number(row.rows[0]?.total ?? 0);
  const suppressed = Number(row.rows[0]?.suppressed ?? 0);
  return { count: total - suppressed, suppressed };
}
