import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SignatureCheck, VerifyWebhook, WebhookSignature } from '../provider.js';

export type { SignatureCheck, WebhookSignature };

/** How old (or how far ahead) a webhook's timestamp may be. */
const WEBHOOK_MAX_AGE_MS = 5 * 60_000;

/** Mailgun's scheme: hex HMAC-SHA256 of timestamp + token, keyed with the webhook signing key. */
export function signWebhook(signingKey: string, timestamp: string, token: string): string {
  return createHmac('sha256', signingKey)
    .update(timestamp + token)
    .digest('hex');
}

/** Signature and freshness; replayed tokens are checked against the database by the caller. */
export const checkWebhookSignature: VerifyWebhook = (signingKey: string, s: WebhookSignature, nowMs: number): SignatureCheck => {
  const expected = Buffer.from(signWebhook(signingKey, s.timestamp, s.token), 'hex');
  const given = /^[0-9a-f]+$/i.test(s.signature) ? Buffer.from(s.signature, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, status: 401, reason: 'bad signature' };
  const at = Number(s.timestamp) * 1000;
  if (!Number.isFinite(at) || Math.abs(nowMs - at) > WEBHOOK_MAX_AGE_MS) return { ok: false, status: 406, reason: 'stale timestamp' };
  return { ok: true };
};
