import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { AudienceSource } from './audiencePage.js';
import { audienceCondition } from './audienceQuery.js';
import { planSegmentQuery } from './planSegmentQuery.js';

/**
 * For each of `names`, how many recipients of the audience (those it would be sent to:
 * suppressed addresses left out) have no such attribute, or a null one; and the audience's
 * size. One pass over the audience, whatever the number of names.
 */
export async function audienceLackingAttributes(
  db: Kysely<Database>,
  source: AudienceSource,
  names: readonly string[],
): Promise<{ audience: number; lacking: Map<string, number> }> {
  if ('definition' in source && source.definition.segment !== null) {
    if (!db.isTransaction) return db.transaction().execute((trx) => audienceLackingAttributes(trx, source, names));
    await planSegmentQuery(db as Transaction<Database>);
  }
  const counts = [sql`count(*) as audience`, ...names.map((name, i) => sql`count(*) filter (where r.attributes ->> ${name} is null) as ${sql.ref(`n${i}`)}`)];
  const unsuppressed = sql`not exists (select 1 from suppressions s where s.email = lower(r.email))`;
  const row = (
    'campaignId' in source
      ? await sql<Record<string, number | string>>`
          select ${sql.join(counts)}
          from campaign_audience a join recipients r on r.id = a.recipient_id
          where a.campaign_id = ${source.campaignId} and ${unsuppressed}
        `.execute(db)
      : await sql<Record<string, number | string>>`
          select ${sql.join(counts)}
          from recipients r
          where ${audienceCondition(source.definition, source.now)} and ${unsuppressed}
        `.execute(db)
  ).rows[0];
  return { audience: Number(row?.audience ?? 0), lacking: new Map(names.map((name, i) => [name, Number(row?.[`n${i}`] ?? 0)])) };
}
