import { sql, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';
import { NO_OUTCOME, type Outcome } from '../../domain/outcome.js';
import type { DeliveryKey } from './findDeliveries.js';

export interface OutcomeRow extends DeliveryKey {
  outcome: Outcome;
}

interface Row {
  campaign_id: number;
  recipient_id: number;
  delivered_at: Date | null;
  failure_severity: 'permanent' | 'temporary' | null;
  failed_at: Date | null;
  failure_reason: string | null;
  failure_code: number | null;
  failure_event: string | null;
  first_open_at: Date | null;
  last_open_at: Date | null;
  opens: number;
  first_click_at: Date | null;
  last_click_at: Date | null;
  clicks: number;
  complained_at: Date | null;
  unsubscribed_at: Date | null;
}

/**
 * Creates the outcome rows these deliveries lack and locks them all, in key order (so two
 * ingesting processes never deadlock), until the transaction ends: the events of one delivery
 * are folded by one transaction at a time. A row this statement creates needs no lock of its
 * own (no other transaction sees it before this one ends, and one inserting the same key
 * waits for it) and holds no outcome yet, so only the rows that were there are read and locked.
 */
export async function lockOutcomes(trx: Transaction<Database>, keys: readonly DeliveryKey[]): Promise<OutcomeRow[]> {
  if (keys.length === 0) return [];
  const sorted = [...keys].sort((a, b) => a.campaignId - b.campaignId || a.recipientId - b.recipientId);
  const created = await sql<{ campaign_id: number; recipient_id: number }>`
    insert into delivery_outcomes (campaign_id, recipient_id, standing)
    select campaign_id, recipient_id, 'accepted'
    from unnest(${sorted.map((k) => k.campaignId)}::bigint[], ${sorted.map((k) => k.recipientId)}::bigint[]) as k(campaign_id, recipient_id)
    order by 1, 2
    on conflict do nothing
    returning campaign_id, recipient_id
  `.execute(trx);
  const isNew = new Set(created.rows.map((r) => `${r.campaign_id}.${r.recipient_id}`));
  const existing = sorted.filter((k) => !isNew.has(`${k.campaignId}.${k.recipientId}`));
  const out: OutcomeRow[] = created.rows.map((r) => ({ campaignId: Number(r.campaign_id), recipientId: Number(r.recipient_id), outcome: { ...NO_OUTCOME } }));
  if (existing.length === 0) return out;
  const rows = await sql<Row>`
    select o.* from unnest(${existing.map((k) => k.campaignId)}::bigint[], ${existing.map((k) => k.recipientId)}::bigint[]) as k(campaign_id, recipient_id)
    join delivery_outcomes o on o.campaign_id = k.campaign_id and o.recipient_id = k.recipient_id
    order by o.campaign_id, o.recipient_id
    for update of o
  `.execute(trx);
  for (const r of rows.rows) {
    out.push({
      campaignId: Number(r.campaign_id),
      recipientId: Number(r.recipient_id),
      outcome: {
        deliveredAt: r.delivered_at,
        failure:
          r.failure_severity && r.failed_at
            ? { severity: r.failure_severity, at: r.failed_at, reason: r.failure_reason, code: r.failure_code, eventId: r.failure_event ?? '' }
            : null,
        firstOpenAt: r.first_open_at,
        lastOpenAt: r.last_open_at,
        opens: r.opens,
        firstClickAt: r.first_click_at,
        lastClickAt: r.last_click_at,
        clicks: r.clicks,
        complainedAt: r.complained_at,
        unsubscribedAt: r.unsubscribed_at,
      },
    });
  }
  return out;
}
