import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Deletes up to `limit` of a campaign's fixed-audience rows in one short transaction (part of
 * purge-details: a finished campaign never reads them again). Returns how many went.
 */
export async function purgeAudienceBatch(db: Kysely<Database>, campaignId: number, limit: number): Promise<number> {
  const result = await sql`
    delete from campaign_audience
    where campaign_id = ${campaignId}
      and recipient_id in (select recipient_id from campaign_audience where campaign_id = ${campaignId} order by recipient_id limit ${limit})
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
