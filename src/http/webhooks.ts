import type { Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../db/schema.js';
import { parseDeliveryId } from '../domain/deliveryId.js';
import { checkWebhookSignature, type WebhookSignature } from '../provider/mailgun/webhookSignature.js';
import { deliveryRecipientEmail } from '../sql/deliveryRecipientEmail.js';
import { insertDeliveryEvent } from '../sql/insertDeliveryEvent.js';
import { rememberWebhookToken } from '../sql/rememberWebhookToken.js';
import { addSuppressions } from '../sql/addSuppressions.js';

export interface WebhookOutcome {
  status: number;
  message: string;
}

interface EventData {
  id?: unknown;
  event?: unknown;
  severity?: unknown;
  reason?: unknown;
  timestamp?: unknown;
  recipient?: unknown;
  'user-variables'?: Record<string, unknown>;
}

/** Which provider events mean "never mail this address again". */
function suppressionFor(event: string, severity: string | null): SuppressionReason | null {
  if (event === 'failed' && severity === 'permanent') return 'bounced';
  if (event === 'complained') return 'complained';
  if (event === 'unsubscribed') return 'unsubscribed';
  return null;
}

/**
 * One Mailgun webhook POST: verified (signature, age, replay), stored against its delivery
 * once (re-deliveries change nothing), and turned into a suppression when it says so.
 * 406 tells Mailgun not to retry something that will never be accepted.
 */
export async function handleMailgunWebhook(db: Kysely<Database>, signingKey: string, body: string, nowMs: number): Promise<WebhookOutcome> {
  let payload: { signature?: Partial<WebhookSignature>; 'event-data'?: EventData };
  try {
    payload = JSON.parse(body) as typeof payload;
  } catch {
    return { status: 400, message: 'body is not valid JSON' };
  }
  const signature = payload?.signature;
  if (!signature || typeof signature.timestamp !== 'string' || typeof signature.token !== 'string' || typeof signature.signature !== 'string') {
    return { status: 400, message: 'missing signature.timestamp, signature.token or signature.signature' };
  }
  const check = checkWebhookSignature(signingKey, signature as WebhookSignature, nowMs);
  if (!check.ok) return { status: check.status, message: check.reason };

  const data = payload['event-data'];
  if (!data || typeof data.event !== 'string' || typeof data.id !== 'string') return { status: 400, message: 'missing event-data.event or event-data.id' };
  const deliveryValue = data['user-variables']?.['herald-delivery'];
  const delivery = typeof deliveryValue === 'string' ? parseDeliveryId(deliveryValue) : null;
  if (!delivery) return { status: 406, message: `event ${data.id} carries no herald-delivery variable` };
  // The delivery names the address: the event's own `recipient` field is not trusted to say
  // whom to suppress (an event for one delivery must never suppress someone else).
  const email = await deliveryRecipientEmail(db, delivery.campaignId, delivery.recipientId);
  if (email === null) {
    if (!(await rememberWebhookToken(db, signature.token))) return { status: 406, message: 'replayed token' };
    return { status: 406, message: `unknown delivery ${deliveryValue as string}` };
  }

  const severity = typeof data.severity === 'string' ? data.severity : null;
  // The token is remembered in the same transaction as the event: if storing the event fails,
  // the token is not burnt and Mailgun's identical retry is accepted, not refused as a replay.
  return db.transaction().execute(async (trx): Promise<WebhookOutcome> => {
    if (!(await rememberWebhookToken(trx, signature.token!))) return { status: 406, message: 'replayed token' };
    const stored = await insertDeliveryEvent(trx, {
      id: data.id as string,
      campaignId: delivery.campaignId,
      recipientId: delivery.recipientId,
      event: data.event as string,
      severity,
      reason: typeof data.reason === 'string' ? data.reason : null,
      occurredAt: typeof data.timestamp === 'number' ? new Date(data.timestamp * 1000) : new Date(nowMs),
      payload: data as Record<string, unknown>,
    });
    if (!stored) return { status: 200, message: 'already recorded' };
    const reason = suppressionFor(data.event as string, severity);
    if (reason) await addSuppressions(trx, [email], reason, `webhook:${data.event as string}`, delivery.campaignId);
    return { status: 200, message: 'recorded' };
  });
}
