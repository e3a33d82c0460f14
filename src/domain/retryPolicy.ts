/**
 * How Herald reacts to each answer from the provider. Pure: no IO, no clock, no randomness
 * except what the caller passes in.
 */

/**
 * What one request to the provider came to.
 * - accepted: the provider took the message.
 * - transient: it certainly did not take it (an HTTP answer saying so, or no connection was
 *   ever made), and a later attempt may succeed: safe to retry.
 * - unknown: the request may have reached the provider and been accepted, but no answer says
 *   so (a timeout or a dropped connection after the request was written, a gateway timeout).
 *   Mailgun has no idempotency key, so a retry could deliver it twice: the delivery is
 *   recorded `unknown` and settled by the campaign's `--unknown` policy instead.
 * - account: the provider refused the account, key or domain (401, 403, 404), which says
 *   nothing about the recipient: the campaign stops rather than failing everyone.
 * - permanent: the provider refused this message (other 4xx).
 */
export type SendOutcome =
  | { kind: 'accepted'; providerId: string }
  | { kind: 'transient'; code: string; message: string; retryAfterMs: number | null; throttled: boolean }
  | { kind: 'unknown'; code: string; message: string }
  | { kind: 'account'; code: string; message: string }
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
  // A gateway that timed out waiting for the provider's application cannot say whether it
  // accepted the message; every other 5xx (and 408) is the server saying it did not.
  if (status === 504) return { kind: 'unknown', code: 'http_504', message };
  if (status >= 500 || status === 408) {
    return { kind: 'transient', code: `http_${status}`, message, retryAfterMs: retryAfterFromHeader(headers['retry-after'], nowMs), throttled: false };
  }
  if (ACCOUNT_STATUSES.has(status)) return { kind: 'account', code: `http_${status}`, message };
  return { kind: 'permanent', code: `http_${status}`, message };
}

/** Words for the operator when the provider refused the account (see `account` outcomes). */
export function describeAccountError(code: string, message: string, domain: string): string {
  const said = message ? `: ${message.slice(0, 200)}` : '';
  if (code === 'http_401') return `the provider rejected the API key (MAILGUN_API_KEY) (${code}${said})`;
  if (code === 'http_404') return `the provider does not know the sending domain ${domain}, or MAILGUN_BASE_URL is wrong (${code}${said})`;
  return `the provider refused to send for domain ${domain} (${code}${said})`;
}

/** Wrong key (401), account or domain not allowed (403), unknown domain or wrong base URL (404). */
const ACCOUNT_STATUSES = new Set([401, 403, 404]);

/**
 * Errors that happen before a request can have left this process: the connection was never
 * made, or the request was refused before a byte of it was written. Whatever the moment they
 * are reported at, such a request was not delivered.
 */
const NEVER_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/**
 * A failure without an HTTP answer. `requestWritten` says whether the request had started to
 * be written to a connected socket (undici's onRequestStart): before that, nothing reached
 * the provider and a retry is safe; after it, a timeout (UND_ERR_HEADERS_TIMEOUT,
 * UND_ERR_BODY_TIMEOUT), a reset (ECONNRESET, EPIPE), or a closed socket (UND_ERR_SOCKET,
 * UND_ERR_CLOSED, UND_ERR_ABORTED) may come after the provider accepted the message, so the
 * outcome is unknown. docs: README, "What happens on a timeout, an outage, a stall".
 */
export function classifyNetworkError(err: unknown, requestWritten: boolean): SendOutcome {
  const rawCode = (err as { code?: string } | null)?.code ?? 'network_error';
  const message = err instanceof Error ? err.message : String(err);
  const code = rawCode.toLowerCase();
  if (requestWritten && !NEVER_SENT.has(rawCode.toUpperCase())) return { kind: 'unknown', code, message };
  return { kind: 'transient', code, message, retryAfterMs: null, throttled: false };
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

function retryAfterFromHeader(value: string | string[] | undefined, nowMs: number): number | null {
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
