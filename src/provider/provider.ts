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

/** What the sending pipeline needs from an email provider; Mailgun (provider/mailgun) is the one implementation. */
export interface Provider {
  /** Posts one prebuilt message body through `domain` (the provider's default when undefined). Never throws. */
  send(body: Uint8Array, contentType: string, domain?: string): Promise<SendOutcome>;
  /** Reads the provider's event log for a campaign's accepted messages, oldest first. */
  acceptedEvents(query: AcceptedEventQuery, domain?: string): AsyncIterable<AcceptedEvent>;
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
