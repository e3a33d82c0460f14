import { DeliveryCounts } from './deliveryCounts.js';

/** What the mock keeps: `full` every small field, `counts` what the event log (Events and
 * Logs APIs, webhooks) and duplicate checks need, `deliveries` only the duplicate checks
 * (benchmarks: no per-message objects, no events), `none` only totals. */
export type RecordMode = 'full' | 'counts' | 'deliveries' | 'none';

export interface AcceptedMessage {
  id: string;
  /** Seconds since the epoch, with fractions, like Mailgun's event timestamps. */
  timestamp: number;
  /** The sending domain of the request's path. */
  domain: string;
  to: string[];
  from: string;
  subject: string;
  tags: string[];
  headers: Record<string, string>;
  userVariables: Record<string, string>;
  sizes: Record<string, number>;
}

/** What the event log needs of one accepted message, shared by its recipients' events. */
export interface MessageRecord {
  /** Message-Id without angle brackets, as events carry it. */
  messageId: string;
  domain: string;
  from: string;
  subject: string;
  tags: string[];
  userVariables: Record<string, string>;
  /** `userVariables` as JSON (Logs API items carry it encoded), made when first needed. */
  userVariablesJson: string | undefined;
  /** The `herald-delivery` variable. */
  deliveryId: string | undefined;
  size: number;
}

/**
 * Kinds of stored event. Both failures are Mailgun's `failed`, told apart by severity; a
 * temporary failure is followed by a `delivered` once the retry got through.
 */
export const Kind = {
  accepted: 0,
  delivered: 1,
  temporaryFailure: 2,
  permanentFailure: 3,
  opened: 4,
  clicked: 5,
  complained: 6,
  unsubscribed: 7,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];
export const kindCount = 8;
/** Mailgun's `event` of each kind. */
export const eventOfKind = ['accepted', 'delivered', 'failed', 'failed', 'opened', 'clicked', 'complained', 'unsubscribed'] as const;

/** A typed array that doubles when full. */
function grow<T extends Float64Array | Uint32Array | Uint8Array>(array: T, needed: number): T {
  if (needed <= array.length) return array;
  const next = new (array.constructor as new (n: number) => T)(Math.max(needed, array.length * 2));
  next.set(array);
  return next;
}

/**
 * Accepted messages, response tallies and the event log, in arrival order. Events are kept
 * in columns (time, recipient, kind: 13 bytes each) and recipients in a table (address and
 * message), so a million messages with four events each cost the mock tens of megabytes
 * beyond one small object per message. The log only grows at its end, in time order: a
 * paging cursor is an index into it.
 */
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
  /** `full` only: every accepted message as it came (`/mock/messages`). */
  readonly messages: AcceptedMessage[] = [];

  /** The accepted messages the event log refers to (`full` and `counts`). */
  readonly records: MessageRecord[] = [];
  /** Per recipient of an accepted message: its address, its message (index in `records`). */
  readonly recipientAddress: string[] = [];
  recipientMessage = new Uint32Array(1024);
  /** Event columns; `eventCount` rows are in use. */
  eventTime = new Float64Array(1024);
  eventRecipient = new Uint32Array(1024);
  eventKind = new Uint8Array(1024);
  eventCount = 0;
  /** Events of each kind so far. */
  readonly kindCounts = new Array<number>(kindCount).fill(0);
  /** The link each clicking recipient clicks. */
  readonly clickUrl = new Map<number, string>();
  /** Recipients delivered on a retry after a temporary failure. */
  readonly retried = new Set<number>();
  /** Event ids run on across resets, so no id is ever given twice by one mock. */
  private idBase = 0;
  private lastTime = 0;
  private readonly interned = new Map<string, string>();

  constructor(
    readonly mode: RecordMode,
    /** Makes event ids unique to this mock process. */
    private readonly idPrefix: string,
  ) {}

  /** Whether accepted messages get an event log (Events and Logs APIs, follow-up events, webhooks). */
  get keepsEvents(): boolean {
    return this.mode === 'full' || this.mode === 'counts';
  }

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

  /**
   * Records an accepted message and, when the mode keeps events, its recipients and their
   * `accepted` events. Returns the index of its first recipient (they are consecutive), or -1.
   */
  record(message: AcceptedMessage): number {
    this.accepted++;
    const second = Math.floor(message.timestamp);
    this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + 1);
    if (this.mode === 'none') return -1;
    const deliveryId = message.userVariables['herald-delivery'];
    if (deliveryId !== undefined) this.deliveries.add(deliveryId);
    if (!this.keepsEvents) return -1;
    if (this.mode === 'full') this.messages.push(message);
    const messageIndex = this.records.length;
    let size = 0;
    for (const name in message.sizes) size += message.sizes[name]!;
    this.records.push({
      messageId: message.id.slice(1, -1),
      domain: this.intern(message.domain),
      from: this.intern(message.from),
      subject: this.intern(message.subject),
      tags: message.tags,
      userVariables: message.userVariables,
      userVariablesJson: undefined,
      deliveryId,
      size,
    });
    const first = this.recipientAddress.length;
    this.recipientMessage = grow(this.recipientMessage, first + message.to.length);
    for (let i = 0; i < message.to.length; i++) {
      this.recipientAddress.push(message.to[i]!);
      this.recipientMessage[first + i] = messageIndex;
      this.append(message.timestamp * 1000, first + i, Kind.accepted);
    }
    return first;
  }

  /**
   * Appends an event at `timeMs`, kept to the millisecond as the Logs API's `@timestamp` has
   * it (never before the last one: the log stays in time order), and returns its index.
   */
  append(timeMs: number, recipient: number, kind: Kind): number {
    timeMs = Math.floor(timeMs);
    const index = this.eventCount++;
    if (index >= this.eventTime.length) {
      this.eventTime = grow(this.eventTime, index + 1);
      this.eventRecipient = grow(this.eventRecipient, index + 1);
      this.eventKind = grow(this.eventKind, index + 1);
    }
    if (timeMs < this.lastTime) timeMs = this.lastTime;
    this.lastTime = timeMs;
    this.eventTime[index] = timeMs;
    this.eventRecipient[index] = recipient;
    this.eventKind[index] = kind;
    this.kindCounts[kind]!++;
    return index;
  }

  /** The message an event is about. */
  messageOf(event: number): MessageRecord {
    return this.records[this.recipientMessage[this.eventRecipient[event]!]!]!;
  }

  /** Mailgun-like event id (22 characters), unique within this mock process. */
  eventId(event: number): string {
    return this.idPrefix + (this.idBase + event).toString(36).padStart(22 - this.idPrefix.length, '0');
  }

  userVariablesJson(record: MessageRecord): string {
    record.userVariablesJson ??= JSON.stringify(record.userVariables);
    return record.userVariablesJson;
  }

  /** First event at or after `timeMs`. */
  firstAtOrAfter(timeMs: number): number {
    let lo = 0;
    let hi = this.eventCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.eventTime[mid]! < timeMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Last event at or before `timeMs`, or -1. */
  lastAtOrBefore(timeMs: number): number {
    let lo = 0;
    let hi = this.eventCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.eventTime[mid]! <= timeMs) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
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
    this.messages.length = 0;
    this.records.length = 0;
    this.recipientAddress.length = 0;
    this.idBase += this.eventCount;
    this.eventCount = 0;
    this.kindCounts.fill(0);
    this.clickUrl.clear();
    this.retried.clear();
    this.interned.clear();
  }

  /** One copy of strings most messages repeat (domain, sender, subject). */
  private intern(value: string): string {
    const known = this.interned.get(value);
    if (known !== undefined) return known;
    if (this.interned.size < 10_000) this.interned.set(value, value);
    return value;
  }
}
