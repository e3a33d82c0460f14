import { sql, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';
import { standingOf } from '../../domain/outcome.js';
import type { OutcomeRow } from './lockOutcomes.js';

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** Writes folded outcomes (rows locked by lockOutcomes in the same transaction), one statement. */
export async function writeOutcomes(trx: Transaction<Database>, rows: readonly OutcomeRow[]): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(f: (r: OutcomeRow) => T): T[] => rows.map(f);
  await sql`
    update delivery_outcomes o set
      standing = u.standing, delivered_at = u.delivered_at, failure_severity = u.failure_severity, failed_at = u.failed_at,
      failure_reason = u.failure_reason, failure_code = u.failure_code, failure_event = u.failure_event,
      first_open_at = u.first_open_at, last_open_at = u.last_open_at, opens = u.opens,
      first_click_at = u.first_click_at, last_click_at = u.last_click_at, clicks = u.clicks,
      complained_at = u.complained_at, unsubscribed_at = u.unsubscribed_at, updated_at = now()
    from unnest(
      ${col((r) => r.campaignId)}::bigint[], ${col((r) => r.recipientId)}::bigint[], ${col((r) => standingOf(r.outcome))}::text[],
      ${col((r) => iso(r.outcome.deliveredAt))}::timestamptz[], ${col((r) => r.outcome.failure?.severity ?? null)}::text[],
      ${col((r) => iso(r.outcome.failure?.at))}::timestamptz[], ${col((r) => r.outcome.failure?.reason ?? null)}::text[],
      ${col((r) => r.outcome.failure?.code ?? null)}::integer[], ${col((r) => r.outcome.failure?.eventId ?? null)}::text[],
      ${col((r) => iso(r.outcome.firstOpenAt))}::timestamptz[], ${col((r) => iso(r.outcome.lastOpenAt))}::timestamptz[], ${col((r) => r.outcome.opens)}::integer[],
      ${col((r) => iso(r.outcome.firstClickAt))}::timestamptz[], ${col((r) => iso(r.outcome.lastClickAt))}::timestamptz[], ${col((r) => r.outcome.clicks)}::integer[],
      ${col((r) => iso(r.outcome.complainedAt))}::timestamptz[], ${col((r) => iso(r.outcome.unsubscribedAt))}::timestamptz[]
    ) as u(campaign_id, recipient_id, standing, delivered_at, failure_severity, failed_at, failure_reason, failure_code, failure_event,
           first_open_at, last_open_at, opens, first_click_at, last_click_at, clicks, complained_at, unsubscribed_at)
    where o.campaign_id = u.campaign_id and o.recipient_id = u.recipient_id
  `.execute(trx);
}
