import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Records a webhook token; false when it was seen before (a replay). */
export async function rememberWebhookToken(db: Kysely<Database>, token: string): Promise<boolean> {
  const result = await sql`insert into webhook_tokens (token) values (${token}) on conflict do nothing`.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}

export async function deliveryExists(db: Kysely<Database>, campaignId: number, recipientId: number): Promise<boolean> {
  const row = await db.selectFrom('deliveries').select('status').where('campaign_id', '=', campaignId).where('recipient_id', '=', recipientId).executeTakeFirst();
  return row !== undefined;
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
