import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Records a webhook token; false when it was seen before (a replay). */
export async function rememberWebhookToken(db: Kysely<Database>, token: string): Promise<boolean> {
  const result = await sql`insert into webhook_tokens (token) values (${token}) on conflict do nothing`.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}

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

export interface NewDeliveryEvent {
  id: string;
  campaignId: number;
  recipientId: number;
  event: string;
  severity: string | null;
  reason: string | null;
  occurredAt: Date;
  payload: Record<string, unknown>;
}

/** Stores a provider event once; false when this event id was already recorded. */
export async function insertDeliveryEvent(db: Kysely<Database>, e: NewDeliveryEvent): Promise<boolean> {
  const result = await db
    .insertInto('delivery_events')
    .values({ id: e.id, campaign_id: e.campaignId, recipient_id: e.recipientId, event: e.event, severity: e.severity, reason: e.reason, occurred_at: e.occurredAt, payload: JSON.stringify(e.payload) })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}
