import { type ProviderEvent, type ProviderEventType, providerEventTypes } from '../provider.js';

/**
 * Where a Mailgun event item comes from; the three differ in two fields (fact sheet §4, §4b, §5):
 * - `logs`: an item of `POST /v1/analytics/logs`: `@timestamp` is an ISO 8601 string,
 *   `user-variables` a JSON-encoded string, `domain` an object `{name}`;
 * - `events`: an item of `GET /v3/{domain}/events`: `timestamp` in epoch seconds,
 *   `user-variables` an object;
 * - `webhook`: a webhook's `event-data`, shaped like an Events item.
 * Either form of `user-variables` is read in every shape.
 */
export type MailgunItemShape = 'logs' | 'events' | 'webhook';

export type ParsedMailgunEvent = ProviderEvent | { error: string; id?: string };

const knownTypes: ReadonlySet<string> = new Set(providerEventTypes);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(item: Record<string, unknown>, name: string): string | undefined | { error: string } {
  const value = item[name];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : { error: `'${name}' is not a string` };
}

/**
 * One Mailgun event item in Herald's terms, or why it cannot be read. Pure: no IO, no clock.
 * An item is refused when its id, kind or time is missing or malformed, when a `failed` event
 * has no valid severity, or when a field it has is of the wrong type (so a broken item is
 * reported rather than half read).
 */
export function parseMailgunEvent(item: unknown, shape: MailgunItemShape): ParsedMailgunEvent {
  if (!isObject(item)) return { error: 'not a JSON object' };
  const id = item.id;
  if (typeof id !== 'string' || id === '') return { error: "no 'id'" };
  const fail = (error: string): { error: string; id: string } => ({ error, id });

  const kind = item.event;
  if (typeof kind !== 'string') return fail("no 'event'");
  if (!knownTypes.has(kind)) return fail(`unknown event type '${kind}'`);
  const type = kind as ProviderEventType;

  let ms: number;
  if (shape === 'logs') {
    const stamp = item['@timestamp'];
    if (typeof stamp !== 'string') return fail("no '@timestamp'");
    ms = Date.parse(stamp);
    if (Number.isNaN(ms)) return fail(`'@timestamp' is not a date: ${stamp.slice(0, 40)}`);
  } else {
    const stamp = item.timestamp;
    if (typeof stamp !== 'number' || !Number.isFinite(stamp)) return fail("no numeric 'timestamp'");
    ms = Math.round(stamp * 1000);
  }

  const recipient = optionalString(item, 'recipient');
  if (isObject(recipient)) return fail(recipient.error);

  let messageId: string | undefined;
  if (item.message !== undefined && item.message !== null) {
    if (!isObject(item.message)) return fail("'message' is not an object");
    const headers = item.message.headers;
    if (headers !== undefined && headers !== null) {
      if (!isObject(headers)) return fail("'message.headers' is not an object");
      const value = optionalString(headers, 'message-id');
      if (isObject(value)) return fail("'message.headers.message-id' is not a string");
      if (value !== undefined && value !== '') messageId = value.startsWith('<') && value.endsWith('>') ? value.slice(1, -1) : value;
    }
  }

  let variables: Record<string, unknown> | undefined;
  const rawVariables = item['user-variables'];
  if (typeof rawVariables === 'string') {
    if (rawVariables !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(rawVariables);
      } catch {
        return fail("'user-variables' is not valid JSON");
      }
      if (!isObject(parsed)) return fail("'user-variables' is not a JSON object");
      variables = parsed;
    }
  } else if (isObject(rawVariables)) {
    variables = rawVariables;
  } else if (rawVariables !== undefined && rawVariables !== null) {
    return fail("'user-variables' is neither an object nor a JSON string");
  }
  const delivery = variables?.['herald-delivery'];
  const campaign = variables?.['herald-campaign'];

  let domain: string | undefined;
  if (isObject(item.domain) && typeof item.domain.name === 'string') domain = item.domain.name;
  else if (typeof item.domain === 'string') domain = item.domain;

  const event: ProviderEvent = {
    id,
    type,
    at: new Date(ms),
    recipient: recipient === '' ? undefined : recipient,
    messageId,
    deliveryId: typeof delivery === 'string' && delivery !== '' ? delivery : undefined,
    campaignId: typeof campaign === 'string' && /^\d{1,15}$/.test(campaign) ? Number(campaign) : typeof campaign === 'number' ? campaign : undefined,
    domain,
  };

  const severity = item.severity;
  if (type === 'failed') {
    if (severity !== 'permanent' && severity !== 'temporary') return fail(`failed event without a valid 'severity'`);
    event.severity = severity;
  }
  const reason = optionalString(item, 'reason');
  if (isObject(reason)) return fail(reason.error);
  if (reason) event.reason = reason;

  const status = item['delivery-status'];
  if (status !== undefined && status !== null) {
    if (!isObject(status)) return fail("'delivery-status' is not an object");
    const code =
      typeof status.code === 'number' ? status.code : typeof status.code === 'string' && /^\d{1,4}$/.test(status.code) ? Number(status.code) : undefined;
    if (code !== undefined) event.code = code;
    const description = typeof status.description === 'string' && status.description !== '' ? status.description : status.message;
    if (typeof description === 'string' && description !== '') event.description = description;
  }

  const url = optionalString(item, 'url');
  if (isObject(url)) return fail(url.error);
  if (url) event.url = url;
  return event;
}
