import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

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
    .values({
      id: e.id,
      campaign_id: e.campaignId,
      recipient_id: e.recipientId,
      event: e.event,
      severity: e.severity,
      reason: e.reason,
      occurred_at: e.occurredAt,
      payload: JSON.stringify(e.payload),
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}
