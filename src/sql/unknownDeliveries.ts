import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface UnknownDelivery {
  recipientId: number;
  claimedAt: Date | null;
}

export interface UnknownPage {
  rows: UnknownDelivery[];
  /** The database's time of the listing, to full precision (see resolveUnknownAs). */
  listedAt: string;
}

/** Unknown rows of a campaign; with `claimedBefore`, only those claimed before then. */
export async function listUnknown(db: Kysely<Database>, campaignId: number, limit: number, claimedBefore: Date | null = null): Promise<UnknownPage> {
  const result = await sql<{ recipient_id: number; claimed_at: Date | null; listed_at: string }>`
    select recipient_id, claimed_at, now()::text as listed_at from deliveries
    where campaign_id = ${campaignId} and status = 'unknown'
      and (${claimedBefore}::timestamptz is null or claimed_at is null or claimed_at < ${claimedBefore}::timestamptz)
    order by recipient_id
    limit ${limit}
  `.execute(db);
  const listedAt = result.rows[0]?.listed_at ?? new Date().toISOString();
  return { rows: result.rows.map((r) => ({ recipientId: Number(r.recipient_id), claimedAt: r.claimed_at })), listedAt };
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

/**
 * Unknown rows to send again (pending) or never again (skipped). With `listedAt`, only rows
 * unchanged since that listing: a row resent meanwhile by another worker may be `unknown`
 * again, for a newer request that the decision taken on the old listing knows nothing about.
 */
export async function resolveUnknownAs(db: Kysely<Database>, campaignId: number, recipientIds: readonly number[], status: 'pending' | 'skipped', listedAt?: string): Promise<number> {
  if (recipientIds.length === 0) return 0;
  const result = await sql`
    update deliveries
    set status = ${status}, worker_id = null,
        error_code = ${status === 'skipped' ? 'unknown_skipped' : null}, updated_at = now()
    where campaign_id = ${campaignId} and recipient_id = any(${[...recipientIds]}::bigint[]) and status = 'unknown'
      and (${listedAt ?? null}::timestamptz is null or updated_at <= ${listedAt ?? null}::timestamptz)
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
