import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** The address a delivery was sent to, or null when there is no such delivery. */
export async function deliveryRecipientEmail(db: Kysely<Database>, campaignId: number, recipientId: number): Promise<string | null> {
  const row = await db
    .selectFrom('deliveries')
    .innerJoin('recipients', 'recipients.id', 'deliveries.recipient_id')
    .select('recipients.email')
    .where('deliveries.campaign_id', '=', campaignId)
    .where('deliveries.recipient_id', '=', recipientId)
    .executeTakeFirst();
  return row?.email ?? null;
}
