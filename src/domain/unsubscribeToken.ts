import { createHmac, timingSafeEqual } from 'node:crypto';

export interface UnsubscribeClaim {
  campaignId: number;
  recipientId: number;
  email: string;
}

/**
 * A compact token for one-click unsubscribe links: base64url(JSON claim) + '.' +
 * base64url(HMAC-SHA256). Bound to recipient and campaign; without the secret it cannot be
 * forged or altered.
 */
export function signUnsubscribeToken(claim: UnsubscribeClaim, secret: string): string {
  const payload = Buffer.from(JSON.stringify([claim.campaignId, claim.recipientId, claim.email])).toString('base64url');
  return `${payload}.${mac(payload, secret)}`;
}

/** The claim of a genuine token, or null for anything tampered, truncated or foreign. */
export function verifyUnsubscribeToken(token: string, secret: string): UnsubscribeClaim | null {
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = Buffer.from(mac(payload, secret), 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const [campaignId, recipientId, email] = JSON.parse(Buffer.from(payload, 'base64url').toString()) as [number, number, string];
    if (!Number.isInteger(campaignId) || !Number.isInteger(recipientId) || typeof email !== 'string') return null;
    return { campaignId, recipientId, email };
  } catch {
    return null;
  }
}

function mac(payload: string, secret: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}
