import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface UnknownDelivery {
  recipientId: number;
  claimedAt: Date | null;
}

/** Unknown rows of a campaign; with `claimedBefore`, only those claimed before then. */
export async function listUnknown(db: Kysely<Database>, campaignId: number, limit: number, claimedBefore: Date | null = null): Promise<UnknownDelivery[]> {
  let query = db
    .selectFrom('deliveries')
    .select(['recipient_id', 'claimed_at'])
    .where('campaign_id', '=', campaignId)
    .where('status', '=', 'unknown');
  if (claimedBefore) query = query.where((eb) => eb.or([eb('claimed_at', 'is', null), eb('claimed_at', '<', claimedBefore)]));
  const rows = await query.orderBy('recipient_id').limit(limit).execute();
  return rows.map((r) => ({ recipientId: r.recipient_id, claimedAt: r.claimed_at }));
}

/** Unknown rows the provider accepted: now known to be sent. */
export async function markUnknownSent(db: Kysely<Database>, campaignId: number, accepted: ReadonlyMap<number, string>): Promise<number> {
  if (accepted.size === 0) return 0;
  const result = await sql`
    update deliveries d
    set status = 'sent', provider_id = u.provider_id, attempts = greatest(d.attempts, 1), sent_at = coalesce(d.sent_at, now()),
        error_code = null, error_message = null, updated_at = now()
    from unnest(${[...accepted.keys()]}::bigint[], ${[...accepted.values()]}::text[]) as u(recipient_id, provider_id)
    where d.campaign_id = ${campaignId} and d.recipient_id = u.recipient_id and d.status = 'unknown'
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Unknown rows to send again (pending) or never again (skipped). */
export async function resolveUnknownAs(db: Kysely<Database>, campaignId: number, recipientIds: readonly number[], status: 'pending' | 'skipped'): Promise<number> {
  if (recipientIds.length === 0) return 0;
  const result = await sql`
    update deliveries
    set status = ${status}, worker_id = null,
        error_code = ${status === 'skipped' ? 'unknown_skipped' : null}, updated_at = now()
    where campaign_id = ${campaignId} and recipient_id = any(${[...recipientIds]}::bigint[]) and status = 'unknown'
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** When the oldest still-unknown row of a campaign was claimed; null when there is none. */
export async function oldestUnknownClaim(db: Kysely<Database>, campaignId: number): Promise<Date | null> {
  const row = await sql<{ oldest: Date | null }>`
    select min(coalesce(claimed_at, 'epoch'::timestamptz)) as oldest from deliveries where campaign_id = ${campaignId} and status = 'unknown'
  `.execute(db);
  return row.rows[0]?.oldest ?? null;
}
