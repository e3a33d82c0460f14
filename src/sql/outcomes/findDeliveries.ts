import { sql, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';

export interface DeliveryKey {
  campaignId: number;
  recipientId: number;
}

/** Which of these deliveries exist, with the address each was sent to. */
export async function findDeliveries(trx: Transaction<Database>, keys: readonly DeliveryKey[]): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const rows = await sql<{ campaign_id: number; recipient_id: number; email: string }>`
    select d.campaign_id, d.recipient_id, r.email
    from unnest(${keys.map((k) => k.campaignId)}::bigint[], ${keys.map((k) => k.recipientId)}::bigint[]) as k(campaign_id, recipient_id)
    join deliveries d on d.campaign_id = k.campaign_id and d.recipient_id = k.recipient_id
    join recipients r on r.id = d.recipient_id
  `.execute(trx);
  return new Map(rows.rows.map((r) => [`${r.campaign_id}.${r.recipient_id}`, r.email]));
}
