import { incomingFrom } from '../events/incoming.js';
import { type EventIngester, IngesterBusyError } from '../events/ingester.js';
import { parseMailgunEvent } from '../provider/mailgun/parseEvent.js';
import { checkWebhookSignature, type WebhookSignature } from '../provider/mailgun/webhookSignature.js';

export interface WebhookOutcome {
  status: number;
  message: string;
}

/**
 * One Mailgun webhook POST: verified (signature, age), then handed to the event ingester,
 * which stores it once with its token (a replay is refused), folds it into its delivery's
 * outcome and turns bounces, complaints and unsubscribes into suppressions. The answer waits
 * for the transaction that holds the event: 200 means stored. 406 tells Mailgun not to retry
 * something that will never be accepted; 503 (too many events waiting) asks it to retry later.
 */
export async function handleMailgunWebhook(ingester: EventIngester, signingKey: string, body: string, nowMs: number): Promise<WebhookOutcome> {
  let payload: { signature?: Partial<WebhookSignature>; 'event-data'?: unknown };
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
  const parsed = parseMailgunEvent(data, 'webhook');
  if ('error' in parsed) return { status: 400, message: `event-data${parsed.id ? ` ${parsed.id}` : ''}: ${parsed.error}` };
  const deliveryText = parsed.deliveryId ?? null;
  const event = incomingFrom(parsed, 'webhook', JSON.stringify(data), signature.token);
  let status: Awaited<ReturnType<EventIngester['submit']>>;
  try {
    status = await ingester.submit(event);
  } catch (err) {
    if (err instanceof IngesterBusyError) return { status: 503, message: 'busy: too many events waiting; retry later' };
    throw err;
  }
  if (status === 'recorded') return { status: 200, message: 'recorded' };
  if (status === 'duplicate') return { status: 200, message: 'already recorded' };
  if (status === 'replayed') return { status: 406, message: 'replayed token' };
  if (!deliveryText) return { status: 406, message: `event ${parsed.id} carries no herald-delivery variable (kept aside)` };
  return { status: 406, message: `unknown delivery ${deliveryText} (kept aside)` };
}
