import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { audienceCondition, type AudienceDefinition } from './audienceQuery.js';

/**
 * How many recipients an audience holds now: `count` would be sent to, `suppressed` are in
 * it but on the suppression list (a campaign records them as suppressed, sends nothing).
 */
export async function audienceCount(db: Kysely<Database>, def: AudienceDefinition, now: Date): Promise<{ count: number; suppressed: number }> {
  const row = await sql<{ count: number; suppressed: number }>`
    select count(*) filter (where s.email is null) as count, count(s.email) as suppressed
    from recipients r left join suppressions s on s.email = lower(r.email)
    where ${audienceCondition(def, now)}
  `.execute(db);
  return { count: Number(row.rows[0]?.count ?? 0), suppressed: Number(row.rows[0]?.suppressed ?? 0) };
}
