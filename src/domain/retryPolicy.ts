/**
 * How Herald reacts to each answer from the provider. Pure: no IO, no clock, no randomness
 * except what the caller passes in.
 */

export type SendOutcome =
  | { kind: 'accepted'; providerId: string }
  | { kind: 'transient'; code: string; message: string; retryAfterMs: number | null; throttled: boolean }
  | { kind: 'permanent'; code: string; message: string };

/** Classifies an HTTP answer from POST /v3/{domain}/messages. */
export function classifyResponse(status: number, body: string, headers: Record<string, string | string[] | undefined>, nowMs: number): SendOutcome {
  if (status >= 200 && status < 300) {
    const id = parseJsonField(body, 'id');
    return { kind: 'accepted', providerId: id ?? '' };
  }
  const message = parseJsonField(body, 'message') ?? body.slice(0, 300);
  if (status === 429) {
    return {
      kind: 'transient',
      code: 'http_429',
      message,
      retryAfterMs: retryAfterFromBody(message, nowMs) ?? retryAfterFromHeader(headers['retry-after'], nowMs),
      throttled: true,
    };
  }
  if (status >= 500 || status === 408) {
    return { kind: 'transient', code: `http_${status}`, message, retryAfterMs: retryAfterFromHeader(headers['retry-after'], nowMs), throttled: false };
  }
  return { kind: 'permanent', code: `http_${status}`, message };
}

/** A failure before any HTTP answer: connection refused or reset, timeout. Always worth a retry. */
export function classifyNetworkError(err: unknown): SendOutcome {
  const code = (err as { code?: string } | null)?.code ?? 'network_error';
  const message = err instanceof Error ? err.message : String(err);
  return { kind: 'transient', code: code.toLowerCase(), message, retryAfterMs: null, throttled: false };
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 6, baseDelayMs: 250, maxDelayMs: 60_000 };

/**
 * Delay before the next attempt, or null when attempts are exhausted. Exponential with full
 * jitter (so retries from hundreds of senders do not arrive together), but never sooner than
 * the provider asked for.
 */
export function nextRetryDelay(policy: RetryPolicy, attemptsSoFar: number, retryAfterMs: number | null, random: number): number | null {
  if (attemptsSoFar >= policy.maxAttempts) return null;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attemptsSoFar - 1));
  const jittered = ceiling / 2 + random * (ceiling / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}

// Mailgun: "... limit exceeded, try again after Tue, 24 Nov 2026 14:02:37 UTC"
const TRY_AGAIN_AFTER = /try again after (.+?)\s*$/i;

export function retryAfterFromBody(message: string, nowMs: number): number | null {
  const match = TRY_AGAIN_AFTER.exec(message);
  if (!match?.[1]) return null;
  const at = Date.parse(match[1]);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

export function retryAfterFromHeader(value: string | string[] | undefined, nowMs: number): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return null;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

function parseJsonField(body: string, field: string): string | null {
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : null;
  } catch {
    return null;
  }
}
