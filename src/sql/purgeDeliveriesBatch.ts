import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Deletes up to `limit` of a campaign's delivery rows (their events and earlier attempts go
 * with them) in one short transaction, keeping the campaign's counts: the counting trigger
 * skips deletes made with herald.keep_counts on (migration 0008). Returns how many went.
 */
export async function purgeDeliveriesBatch(db: Kysely<Database>, campaignId: number, limit: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await sql`select set_config('herald.keep_counts', 'on', true)`.execute(trx);
    const result = await sql`
      delete from deliveries
      where campaign_id = ${campaignId}
        and recipient_id in (select recipient_id from deliveries where campaign_id = ${campaignId} order by recipient_id limit ${limit})
    `.execute(trx);
    return Number(result.numAffectedRows ?? 0);
  });
}
