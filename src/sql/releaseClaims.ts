import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { findSendingDomain } from './findSendingDomain.js';
import { refundDailyQuota } from './refundDailyQuota.js';

/**
 * Hands back a worker's claims that were never sent, so a later run sends them, and returns
 * their share of the sending domain's daily quota. Call it only after every request of this
 * worker for the campaign has finished and the reporter has flushed: a queued row at that
 * point is one no request was made for.
 */
export async function releaseClaims(db: Kysely<Database>, campaignId: number, workerId: string, domainName?: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    // claimed_at stays as it was (the next claim overwrites it): it says which cap day to refund.
    const released = await sql<{ claimed_at: Date }>`
      update deliveries
      set status = 'pending', worker_id = null, updated_at = now()
      where campaign_id = ${campaignId} and worker_id = ${workerId} and status = 'queued'
      returning claimed_at
    `.execute(trx);
    if (released.rows.length === 0) return 0;
    const domain = domainName ? await findSendingDomain(trx, domainName) : undefined;
    if (domain)
      await refundDailyQuota(
        trx,
        domain,
        released.rows.map((r) => r.claimed_at),
      );
    return released.rows.length;
  });
}
