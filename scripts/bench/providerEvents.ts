/**
 * Provider events for the event benchmarks (scripts/bench/events.ts, eventStream.ts), shaped
 * like Mailgun's: a webhook's `event-data` (an Events API item) with the `herald-delivery`
 * and `herald-campaign` user variables Herald sends, a delivery status, and for opens and
 * clicks the client fields Mailgun adds. Deterministic from (campaign, recipient): no
 * randomness but the event ids, which are unique per process.
 */
import { randomBytes } from 'node:crypto';
import { signWebhook } from '../../src/provider/mailgun/webhookSignature.js';

export type BenchEventType = 'delivered' | 'opened' | 'clicked';

export const LINKS = [
  'https://shop.example.com/sale?utm_source=herald&utm_content=hero',
  'https://shop.example.com/journal',
  'https://shop.example.com/tents',
  'https://shop.example.com/account/preferences',
];

const clientFields = {
  ip: '198.51.100.7',
  geolocation: { country: 'NL', region: 'Noord-Holland', city: 'Amsterdam' },
  'client-info': { 'client-type': 'browser', 'client-os': 'Linux', 'device-type': 'desktop', 'client-name': 'Firefox', 'user-agent': 'Mozilla/5.0' },
};
const deliveryStatus = { code: 250, message: 'OK', description: '', 'attempt-no': 1, 'mx-host': 'mx.example.com', tls: true, utf8: true };
const flags = { 'is-test-mode': false, 'is-authenticated': true };

/** A spread of a 32-bit value over [0, 2^32): the same for the same input. */
export function spread(n: number): number {
  let h = Math.imul(n ^ (n >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const prefix = randomBytes(6).toString('base64url');
let counter = 0;
/** A new event id, unique in this process and across processes (a random prefix). */
export function eventId(): string {
  return `${prefix}${(counter++).toString(36).padStart(8, '0')}`;
}

/** Mailgun's event-data for one event of one delivery, at `atMs`. */
export function eventData(type: BenchEventType, campaignId: number, recipientId: number, atMs: number, linkIndex = 0): Record<string, unknown> {
  const address = `r${recipientId}@example${recipientId % 97}.com`;
  const common = {
    id: eventId(),
    event: type,
    timestamp: atMs / 1000,
    'log-level': 'info',
    recipient: address,
    'recipient-domain': `example${recipientId % 97}.com`,
    message: {
      headers: {
        'message-id': `20261205120000.${campaignId.toString(16)}${recipientId.toString(16).padStart(8, '0')}@bench.herald.test`,
        to: address,
        from: 'Shop <news@bench.herald.test>',
        subject: 'Spring sale',
      },
      size: 24_817,
    },
    tags: ['bench'],
    flags,
    'user-variables': { 'herald-campaign': String(campaignId), 'herald-delivery': `${campaignId}.${recipientId}` },
  };
  if (type === 'delivered')
    return { ...common, envelope: { transport: 'smtp', targets: address, sender: 'news@bench.herald.test' }, 'delivery-status': deliveryStatus };
  if (type === 'opened') return { ...common, ...clientFields };
  return { ...common, ...clientFields, url: LINKS[linkIndex % LINKS.length] };
}

/** A signed webhook body (JSON) for one event; the signature's timestamp is now. */
export function webhookBody(signingKey: string, data: Record<string, unknown>): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const token = randomBytes(25).toString('hex');
  return JSON.stringify({ signature: { timestamp, token, signature: signWebhook(signingKey, timestamp, token) }, 'event-data': data });
}

/**
 * The webhook phase's mix for recipients [from, from + count): a delivery for each, an open
 * for about 40% and a click for about 10% (those who open), opens trailing deliveries by
 * `lag` recipients and clicks by twice that, so all three kinds arrive interleaved as they
 * would while a campaign's mail is read. Event times are spread over the last hour.
 */
export function* webhookMix(from: number, count: number, lag = 2000): Generator<{ type: BenchEventType; recipientId: number; atMs: number; link: number }> {
  const start = Date.now() - 3_600_000;
  const at = (i: number, after: number): number => start + after + Math.floor((i / count) * 1_800_000);
  for (let i = 0; i < count + 2 * lag; i++) {
    if (i < count) yield { type: 'delivered', recipientId: from + i, atMs: at(i, 0), link: 0 };
    const o = i - lag;
    if (o >= 0 && o < count && spread(from + o) % 100 < 40) yield { type: 'opened', recipientId: from + o, atMs: at(o, 600_000), link: 0 };
    const c = i - 2 * lag;
    if (c >= 0 && c < count && spread(from + c) % 100 < 10) yield { type: 'clicked', recipientId: from + c, atMs: at(c, 1_200_000), link: spread(c) };
  }
}

/** How many events webhookMix yields for `count` recipients from `from`. */
export function webhookMixSize(from: number, count: number): number {
  let n = count;
  for (let r = from; r < from + count; r++) {
    const s = spread(r) % 100;
    if (s < 40) n++;
    if (s < 10) n++;
  }
  return n;
}

/** The stream's opens of a recipient (scripts/bench/eventStream.ts): half open, 1 to 6 times. */
export function opensOf(recipientId: number): number {
  return spread(recipientId) % 100 < 50 ? 1 + (spread(recipientId * 7 + 1) % 6) : 0;
}

/** The stream's clicks of a recipient: a fifth click (all of them among those who open), 1 to 4 times. */
export function clicksOf(recipientId: number): number {
  return spread(recipientId) % 100 < 20 ? 1 + (spread(recipientId * 13 + 5) % 4) : 0;
}

/** How many events eventStream.ts records for `count` recipients from `first`. */
export function streamSize(first: number, count: number): number {
  let n = count;
  for (let r = first; r < first + count; r++) n += opensOf(r) + clicksOf(r);
  return n;
}
