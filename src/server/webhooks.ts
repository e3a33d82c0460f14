import type { Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../db/schema.js';
import { parseDeliveryId } from '../domain/deliveryId.js';
import { checkWebhookSignature, type WebhookSignature } from '../domain/webhookSignature.js';
import { deliveryExists, insertDeliveryEvent, rememberWebhookToken } from '../sql/deliveryEvents.js';
import { addSuppressions } from '../sql/suppressions.js';

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
  if (!(await rememberWebhookToken(db, signature.token))) return { status: 406, message: 'replayed token' };
  if (!(await deliveryExists(db, delivery.campaignId, delivery.recipientId))) {
    return { status: 406, message: `unknown delivery ${deliveryValue as string}` };
  }

  const severity = typeof data.severity === 'string' ? data.severity : null;
  const stored = await insertDeliveryEvent(db, {
    id: data.id,
    campaignId: delivery.campaignId,
    recipientId: delivery.recipientId,
    event: data.event,
    severity,
    reason: typeof data.reason === 'string' ? data.reason : null,
    occurredAt: typeof data.timestamp === 'number' ? new Date(data.timestamp * 1000) : new Date(nowMs),
    payload: data as Record<string, unknown>,
  });
  if (!stored) return { status: 200, message: 'already recorded' };
  const reason = suppressionFor(data.event, severity);
  if (reason && typeof data.recipient === 'string') {
    await addSuppressions(db, [data.recipient], reason, `webhook:${data.event}`, delivery.campaignId);
  }
  return { status: 200, message: 'recorded' };
}
