import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { refundDailyQuota } from './domainQuota.js';
import { getSendingDomain } from './sendingDomains.js';

/**
 * Hands back a worker's claims that were never sent, so a later run sends them, and returns
 * their share of the sending domain's daily quota. Call it only after every request of this
 * worker for the campaign has finished and the reporter has flushed: a queued row at that
 * point is one no request was made for.
 */
export async function releaseClaims(db: Kysely<Database>, campaignId: number, workerId: string, domainName?: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const released = await sql<{ claimed_at: Date }>`
      with released as (
        update deliveries d
        set status = 'pending', worker_id = null, claimed_at = null, updated_at = now()
        from deliveries old
        where d.campaign_id = ${campaignId} and d.worker_id = ${workerId} and d.status = 'queued'
          and old.campaign_id = d.campaign_id and old.recipient_id = d.recipient_id
        returning old.claimed_at
      )
      select claimed_at from released
    `.execute(trx);
    if (released.rows.length === 0) return 0;
    const domain = domainName ? await getSendingDomain(trx, domainName) : undefined;
    if (domain) await refundDailyQuota(trx, domain, released.rows.map((r) => r.claimed_at));
    return released.rows.length;
  });
}
