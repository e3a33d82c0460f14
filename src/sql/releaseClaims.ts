import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Hands back a worker's claims that were never sent, so a later run sends them. Call it only
 * after every request of this worker for the campaign has finished and the reporter has
 * flushed: a queued row at that point is one no request was made for.
 */
export async function releaseClaims(db: Kysely<Database>, campaignId: number, workerId: string): Promise<number> {
  const result = await sql`
    update deliveries
    set status = 'pending', worker_id = null, claimed_at = null, updated_at = now()
    where campaign_id = ${campaignId} and worker_id = ${workerId} and status = 'queued'
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
