import { sql, type Kysely } from 'kysely';
import type { Database, DeliveryStatus } from '../db/schema.js';
import { planKeyLookups } from './planKeyLookups.js';

/** The final outcome of one delivery, as the reporter writes it. */
export interface DeliveryResult {
  campaignId: number;
  recipientId: number;
  /**
   * unknown: the request may have been accepted; settled later by the campaign's policy.
   * skipped: never requested (the recipient was erased after the claim).
   */
  status: Extract<DeliveryStatus, 'sent' | 'failed' | 'unknown' | 'skipped'>;
  attempts: number;
  providerId: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** When it was accepted; for an unknown result, when its request ended. */
  sentAt: Date | null;
}

/**
 * Writes a batch of results in one statement. Only rows still open (queued, or unknown after
 * their worker vanished) are touched: a result is a fact about what happened, whoever
 * learns it, but it never overwrites another final result.
 */
export async function writeResults(db: Kysely<Database>, results: readonly DeliveryResult[]): Promise<number> {
  if (results.length === 0) return 0;
  const n = results.length;
  const campaignIds = new Array<number>(n);
  const recipientIds = new Array<number>(n);
  const statuses = new Array<string>(n);
  const attempts = new Array<number>(n);
  const providerIds = new Array<string | null>(n);
  const codes = new Array<string | null>(n);
  const messages = new Array<string | null>(n);
  const sentAts = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const r = results[i]!;
    campaignIds[i] = r.campaignId;
    recipientIds[i] = r.recipientId;
    statuses[i] = r.status;
    attempts[i] = r.attempts;
    providerIds[i] = r.providerId;
    codes[i] = r.errorCode;
    messages[i] = r.errorMessage === null ? null : r.errorMessage.slice(0, 1000);
    sentAts[i] = r.sentAt === null ? null : r.sentAt.toISOString();
  }
  const result = await db.transaction().execute(async (trx) => {
    // Every result is found by its primary key; at 1M rows, hashing the table was three
    // quarters of Postgres's work per message.
    await planKeyLookups(trx);
    return sql`
      update deliveries d
      set status = u.status, attempts = d.attempts + u.attempts, provider_id = u.provider_id,
          error_code = u.error_code, error_message = u.error_message,
          -- An unknown result carries when its request ended: the provider's log is looked up
          -- --reconcile-after from then, not from the claim (which may be much older).
          sent_at = case when u.status = 'unknown' then null else u.sent_at end,
          claimed_at = case when u.status = 'unknown' then u.sent_at else d.claimed_at end,
          updated_at = now()
      from unnest(
        ${campaignIds}::bigint[], ${recipientIds}::bigint[], ${statuses}::text[], ${attempts}::int[],
        ${providerIds}::text[], ${codes}::text[], ${messages}::text[], ${sentAts}::timestamptz[]
      ) as u(campaign_id, recipient_id, status, attempts, provider_id, error_code, error_message, sent_at)
      where d.campaign_id = u.campaign_id and d.recipient_id = u.recipient_id
        and d.status in ('queued', 'unknown')
    `.execute(trx);
  });
  return Number(result.numAffectedRows ?? 0);
}
