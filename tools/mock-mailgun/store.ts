import { DeliveryCounts } from './deliveryCounts.js';

/** What the mock keeps: `full` every small field, `counts` what the events API and
 * duplicate checks need, `deliveries` only the duplicate checks (benchmarks: no per-message
 * objects), `none` only totals. */
export type RecordMode = 'full' | 'counts' | 'deliveries' | 'none';

export interface AcceptedMessage {
  id: string;
  /** Seconds since the epoch, with fractions, like Mailgun's event timestamps. */
  timestamp: number;
  to: string[];
  from: string;
  subject: string;
  tags: string[];
  headers: Record<string, string>;
  userVariables: Record<string, string>;
  sizes: Record<string, number>;
}

export interface StoredEvent {
  timestamp: number;
  messageId: string;
  recipient: string;
  tags: string[];
  userVariables: Record<string, string>;
}

/** Accepted messages and response tallies, in arrival order. */
export class MockStore {
  accepted = 0;
  bytesReceived = 0;
  /** Message requests being answered now, and the most at once (to check concurrency limits). */
  inFlight = 0;
  peakInFlight = 0;
  readonly responses = new Map<number, number>();
  readonly perSecond = new Map<number, number>();
  /** delivery id (`v:herald-delivery`) → times accepted. */
  readonly deliveries = new DeliveryCounts();
  /** delivery id → requests seen, for reproducible per-attempt faults. */
  readonly attempts = new Map<string, number>();
  readonly events: StoredEvent[] = [];
  readonly messages: AcceptedMessage[] = [];

  constructor(readonly mode: RecordMode) {}

  /** Counts a message request until its response is finished. */
  track(res: { onClose(listener: () => void): void }): void {
    this.inFlight++;
    if (this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
    res.onClose(() => this.inFlight--);
  }

  countResponse(status: number): void {
    this.responses.set(status, (this.responses.get(status) ?? 0) + 1);
  }

  /** Returns the attempt number (1-based) of this request for the delivery. */
  nextAttempt(deliveryId: string): number {
    const n = (this.attempts.get(deliveryId) ?? 0) + 1;
    this.attempts.set(deliveryId, n);
    return n;
  }

  record(message: AcceptedMessage): void {
    this.accepted++;
    const second = Math.floor(message.timestamp);
    this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + 1);
    if (this.mode === 'none') return;
    const deliveryId = message.userVariables['herald-delivery'];
    if (deliveryId !== undefined) this.deliveries.add(deliveryId);
    if (this.mode === 'deliveries') return;
    const messageId = message.id.slice(1, -1);
    for (const recipient of message.to) {
      this.events.push({ timestamp: message.timestamp, messageId, recipient, tags: message.tags, userVariables: message.userVariables });
    }
    if (this.mode === 'full') this.messages.push(message);
  }

  duplicates(): number {
    return this.deliveries.duplicates();
  }

  reset(): void {
    this.accepted = 0;
    this.bytesReceived = 0;
    this.peakInFlight = this.inFlight;
    this.responses.clear();
    this.perSecond.clear();
    this.deliveries.clear();
    this.attempts.clear();
    this.events.length = 0;
    this.messages.length = 0;
  }
}
