import { sql, type Kysely } from 'kysely';
import type { Database, DeliveryStatus } from '../../db/schema.js';

export interface RecipientDelivery {
  campaignId: number;
  status: DeliveryStatus;
  errorCode: string | null;
  sentAt: Date | null;
}

/**
 * The recipient's delivery in each campaign, oldest campaign first: one primary-key probe
 * per campaign, as recipientHistory does (deliveries have no index on recipient_id; it would
 * cost every send an index entry).
 */
export async function recipientDeliveries(db: Kysely<Database>, recipientId: number): Promise<RecipientDelivery[]> {
  const rows = await sql<{ campaign_id: number; status: DeliveryStatus; error_code: string | null; sent_at: Date | null }>`
    select c.id as campaign_id, d.status, d.error_code, d.sent_at
    from campaigns c
    join lateral (
      select status, error_code, sent_at from deliveries d where d.campaign_id = c.id and d.recipient_id = ${recipientId} limit 1
    ) d on true
    order by c.id
  `.execute(db);
  return rows.rows.map((r) => ({ campaignId: r.campaign_id, status: r.status, errorCode: r.error_code, sentAt: r.sent_at }));
}
