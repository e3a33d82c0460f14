import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/**
 * The erased recipient's deliveries still waiting to be claimed (released, retried, or
 * resolved for resending) become `skipped`, reason `erased`, at once: the claim would do the
 * same (claimBatch.ts), but the erasure's answer can say so now. Returns the campaigns.
 */
export async function skipPendingDeliveries(db: Kysely<Database>, recipientId: number, campaignIds: readonly number[]): Promise<number[]> {
  if (campaignIds.length === 0) return [];
  const rows = await sql<{ campaign_id: number }>`
    update deliveries set status = 'skipped', error_code = 'erased', worker_id = null, updated_at = now()
    where campaign_id = any(${campaignIds}::bigint[]) and recipient_id = ${recipientId} and status = 'pending'
    returning campaign_id
  `.execute(db);
  return rows.rows.map((r) => r.campaign_id);
}
