import type { SendOutcome } from '../domain/retryPolicy.js';

/** One message the provider's event log says it accepted, as Herald tagged it when sending. */
export interface AcceptedEvent {
  /** The `herald-delivery` id the message carried, when it carried one. */
  deliveryId: string | undefined;
  /** The provider's Message-Id, without angle brackets. */
  messageId: string | undefined;
}

export interface AcceptedEventQuery {
  campaignId: number;
  begin: Date;
  end: Date;
}

/** The kinds of event a provider's log reports about a message after Herald handed it over. */
export const providerEventTypes = ['accepted', 'rejected', 'delivered', 'failed', 'opened', 'clicked', 'unsubscribed', 'complained', 'stored'] as const;
export type ProviderEventType = (typeof providerEventTypes)[number];

/** One entry of the provider's event log (or one webhook), in Herald's terms. */
export interface ProviderEvent {
  /** The provider's id of this event (Mailgun: unique per day); the key to de-duplicate on. */
  id: string;
  type: ProviderEventType;
  at: Date;
  recipient: string | undefined;
  /** The provider's Message-Id, without angle brackets. */
  messageId: string | undefined;
  /** The `herald-delivery` variable the message carried, as carried (see domain/deliveryId.ts). */
  deliveryId: string | undefined;
  /** The `herald-campaign` variable, when it is a whole number. */
  campaignId: number | undefined;
  /** The sending domain, when the item names it (Logs API items do; Events API items and webhooks do not). */
  domain: string | undefined;
  /** `failed` only. */
  severity?: 'permanent' | 'temporary';
  /** `failed`: the provider's reason, e.g. `bounce`, `suppress-bounce`, `generic`. */
  reason?: string;
  /** The SMTP (or provider) status code of a delivery attempt. */
  code?: number;
  description?: string;
  /** `clicked`: the link. */
  url?: string;
}

/**
 * One page of the provider's event log. Pass the same query again with `token` set to the
 * previous page's `next` until `next` is undefined. Times are whole seconds on the wire:
 * `start` is rounded down and `end` up, so neighbouring windows overlap by up to a second
 * and the same event can come twice: de-duplicate by `id`.
 */
export interface EventLogQuery {
  /** The sending domain (the provider's default when undefined). */
  domain?: string;
  start: Date;
  end: Date;
  /** Only these kinds (all kinds when undefined). */
  events?: readonly ProviderEventType[];
  /** The previous page's `next`. */
  token?: string;
}

/** An item of the log that could not be read; the client has logged it. */
export interface SkippedEvent {
  /** Its position in the page. */
  index: number;
  /** Its id, when it had a readable one. */
  id: string | undefined;
  reason: string;
}

/**
 * Reading the event log failed: the provider refused it (`code` http_401/403/404), answered
 * something unreadable, or kept failing (throttling, 5xx, network) after the client's retries.
 * `retryAfterMs`: the provider asked to wait this long, longer than the client waits itself.
 */
export class EventLogError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'EventLogError';
  }
}

export interface EventLogPage {
  /** Oldest first. */
  items: ProviderEvent[];
  /** The token of the next page; undefined on the last. */
  next: string | undefined;
  skipped: SkippedEvent[];
}

/** What the sending pipeline needs from an email provider; Mailgun (provider/mailgun) is the one implementation. */
export interface Provider {
  /** Posts one prebuilt message body through `domain` (the provider's default when undefined). Never throws. */
  send(body: Uint8Array, contentType: string, domain?: string): Promise<SendOutcome>;
  /** Reads the provider's event log for a campaign's accepted messages, oldest first. */
  acceptedEvents(query: AcceptedEventQuery, domain?: string): AsyncIterable<AcceptedEvent>;
  /**
   * Reads one page of the provider's event log. Throttling, server errors and network errors
   * are retried with backoff inside the call (bounded; `signal` aborts the wait); it rejects
   * when they persist, or at once when the provider refuses the request. Items that cannot be
   * read are left out, logged and listed in `skipped`.
   */
  eventLog(query: EventLogQuery, signal?: AbortSignal): Promise<EventLogPage>;
  close(): Promise<void>;
}

export interface WebhookSignature {
  timestamp: string;
  token: string;
  signature: string;
}

export type SignatureCheck = { ok: true } | { ok: false; status: 401 | 406; reason: string };

/** Checks an incoming webhook's signature and freshness with the provider's signing key. */
export type VerifyWebhook = (signingKey: string, signature: WebhookSignature, nowMs: number) => SignatureCheck;
