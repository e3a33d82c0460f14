import { sql, type Kysely } from 'kysely';
import type { Database, DeliveryStatus, Standing } from '../db/schema.js';
import { emailKey } from '../domain/email.js';

export interface RecipientHistoryRow {
  campaignId: number;
  campaignName: string;
  status: DeliveryStatus;
  attempts: number;
  errorCode: string | null;
  sentAt: Date | null;
  standing: Standing;
  deliveredAt: Date | null;
  failure: { severity: string; reason: string | null; code: number | null; at: Date | null } | null;
  firstOpenAt: Date | null;
  opens: number;
  firstClickAt: Date | null;
  clicks: number;
  complainedAt: Date | null;
  unsubscribedAt: Date | null;
}

export interface RecipientHistory {
  recipient: { id: number; email: string; name: string | null; attributes: unknown; lists: string[] } | null;
  suppression: { reason: string; source: string | null; campaignId: number | null; at: Date } | null;
  deliveries: RecipientHistoryRow[];
}

/**
 * One person: their recipient row and lists, whether and why they are suppressed, and every
 * campaign they were in with send state, outcome and engagement, newest campaign first. The
 * deliveries are found by one primary-key probe per campaign, so no index on recipient_id is
 * needed (it would cost every send an index entry). `limit 1` keeps each probe a probe: a plain
 * lateral subquery may be flattened into a join that the planner hashes over whole tables.
 */
export async function recipientHistory(db: Kysely<Database>, email: string): Promise<RecipientHistory> {
  const key = emailKey(email);
  const [recipient, suppression] = await Promise.all([
    sql<{ id: number; email: string; name: string | null; attributes: unknown; lists: string[] | null }>`
      select r.id, r.email, r.name, r.attributes,
        (select array_agg(l.name order by l.name) from list_members m join lists l on l.id = m.list_id where m.recipient_id = r.id) as lists
      from recipients r where lower(r.email) = ${key}
    `.execute(db),
    sql<{ reason: string; source: string | null; campaign_id: number | null; created_at: Date }>`
      select reason, source, campaign_id, created_at from suppressions where email = ${key}
    `.execute(db),
  ]);
  const r = recipient.rows[0];
  const s = suppression.rows[0];
  let deliveries: RecipientHistoryRow[] = [];
  if (r) {
    const rows = await sql<{
      campaign_id: number;
      name: string;
      status: DeliveryStatus;
      attempts: number;
      error_code: string | null;
      sent_at: Date | null;
      standing: Standing | null;
      delivered_at: Date | null;
      failure_severity: string | null;
      failure_reason: string | null;
      failure_code: number | null;
      failed_at: Date | null;
      first_open_at: Date | null;
      opens: number | null;
      first_click_at: Date | null;
      clicks: number | null;
      complained_at: Date | null;
      unsubscribed_at: Date | null;
    }>`
      select c.id as campaign_id, c.name, d.status, d.attempts, d.error_code, d.sent_at,
        o.standing, o.delivered_at, o.failure_severity, o.failure_reason, o.failure_code, o.failed_at,
        o.first_open_at, o.opens, o.first_click_at, o.clicks, o.complained_at, o.unsubscribed_at
      from campaigns c
      join lateral (select * from deliveries d where d.campaign_id = c.id and d.recipient_id = ${r.id} limit 1) d on true
      left join lateral (
        select * from delivery_outcomes o where o.campaign_id = d.campaign_id and o.recipient_id = d.recipient_id limit 1
      ) o on true
      order by c.id desc
    `.execute(db);
    deliveries = rows.rows.map((d) => ({
      campaignId: Number(d.campaign_id),
      campaignName: d.name,
      status: d.status,
      attempts: d.attempts,
      errorCode: d.error_code,
      sentAt: d.sent_at,
      standing: d.standing ?? 'accepted',
      deliveredAt: d.delivered_at,
      failure: d.failure_severity ? { severity: d.failure_severity, reason: d.failure_reason, code: d.failure_code, at: d.failed_at } : null,
      firstOpenAt: d.first_open_at,
      opens: d.opens ?? 0,
      firstClickAt: d.first_click_at,
      clicks: d.clicks ?? 0,
      complainedAt: d.complained_at,
      unsubscribedAt: d.unsubscribed_at,
    }));
  }
  return {
    recipient: r ? { id: Number(r.id), email: r.email, name: r.name, attributes: r.attributes, lists: r.lists ?? [] } : null,
    suppression: s ? { reason: s.reason, source: s.source, campaignId: s.campaign_id === null ? null : Number(s.campaign_id), at: s.created_at } : null,
    deliveries,
  };
}
