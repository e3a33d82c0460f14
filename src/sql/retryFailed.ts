import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Failure codes worth another try by default: the transient ones. */
export const DEFAULT_RETRY_REASONS = ['transient_exhausted', 'render_timeout'] as const;

/**
 * Re-queues a campaign's failed deliveries (as `pending`) whose error code is one of
 * `reasons`, failed since `since`, and whose address is not suppressed. Their previous
 * outcome is copied to delivery_attempts first. Sent, suppressed and skipped rows are never
 * touched, so running it twice re-queues nobody twice. Returns how many were re-queued.
 */
export async function retryFailed(db: Kysely<Database>, campaignId: number, reasons: readonly string[], since: Date | null): Promise<number> {
  const result = await sql<{ n: number }>`
    with picked as (
      select d.campaign_id, d.recipient_id, d.status, d.attempts, d.provider_id, d.error_code, d.error_message, d.sent_at
      from deliveries d
      join recipients r on r.id = d.recipient_id
      left join suppressions s on s.email = lower(r.email)
      where d.campaign_id = ${campaignId} and d.status = 'failed' and s.email is null
        and d.error_code = any(${[...reasons]}::text[])
        and (${since === null ? null : since.toISOString()}::timestamptz is null or d.updated_at >= ${since === null ? null : since.toISOString()}::timestamptz)
      for update of d
    ), audit as (
      insert into delivery_attempts (campaign_id, recipient_id, status, attempts, provider_id, error_code, error_message, sent_at)
      select campaign_id, recipient_id, status, attempts, provider_id, error_code, error_message, sent_at from picked
    ), requeued as (
      update deliveries d
      set status = 'pending', worker_id = null, claimed_at = null, error_code = null, error_message = null, updated_at = now()
      from picked p
      where d.campaign_id = p.campaign_id and d.recipient_id = p.recipient_id
      returning 1
    )
    select count(*)::int as n from requeued
  `.execute(db);
  return result.rows[0]?.n ?? 0;
}
