import { Kind, type MockStore } from './store.js';

/**
 * What happens to an accepted message's recipients afterwards, as shares:
 * - `bounceRate`: permanently failed (a hard bounce) instead of delivered;
 * - `temporaryFailRate`: failed temporarily first, then delivered on the retry;
 * - the rest are delivered; of those delivered, `openRate` open it, and of those who opened,
 *   `clickRate` click one of its links; `complaintRate` and `unsubscribeRate` are shares of
 *   the delivered.
 * Each event comes `delayMs` on average (half to one and a half times) after the one before.
 */
export interface FollowUpRates {
  bounceRate: number;
  temporaryFailRate: number;
  openRate: number;
  clickRate: number;
  complaintRate: number;
  unsubscribeRate: number;
  delayMs: number;
}

export const noFollowUpEvents: FollowUpRates = {
  bounceRate: 0,
  temporaryFailRate: 0,
  openRate: 0,
  clickRate: 0,
  complaintRate: 0,
  unsubscribeRate: 0,
  delayMs: 0,
};

/** Stages of a recipient's story, each with its own roll. */
const Roll = { outcome: 1, open: 2, click: 3, complaint: 4, unsubscribe: 5, link: 6, delay: 16, webhookDrop: 32, logsFault: 64 } as const;

/** 32-bit FNV-1a of a string. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** murmur3's finaliser: spreads every input bit over the result. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A number in [0, 1) for (key, stage): the same every run with the same seed. */
export function unitRoll(key: number, stage: number): number {
  return mix((key + Math.imul(stage, 0x9e3779b9)) >>> 0) / 0x1_0000_0000;
}

/**
 * A recipient's key for its rolls: from the seed, the delivery id (stable between runs) when
 * the message has one, and the address.
 */
export function recipientKey(seed: number, deliveryId: string | undefined, messageId: string, address: string): number {
  return mix(fnv1a(`${deliveryId ?? messageId}|${address}`) ^ mix(seed >>> 0));
}

/** Event times and what happens at each, in a binary heap over typed arrays (no object per event). */
class EventQueue {
  private time = new Float64Array(256);
  private recipient = new Uint32Array(256);
  private kind = new Uint8Array(256);
  size = 0;

  push(time: number, recipient: number, kind: Kind): void {
    if (this.size === this.time.length) {
      const n = this.size * 2;
      const t = new Float64Array(n);
      t.set(this.time);
      this.time = t;
      const r = new Uint32Array(n);
      r.set(this.recipient);
      this.recipient = r;
      const k = new Uint8Array(n);
      k.set(this.kind);
      this.kind = k;
    }
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.time[parent]! <= time) break;
      this.move(parent, i);
      i = parent;
    }
    this.time[i] = time;
    this.recipient[i] = recipient;
    this.kind[i] = kind;
  }

  get nextTime(): number {
    return this.size > 0 ? this.time[0]! : Infinity;
  }

  /** Removes the earliest entry; its fields are left in `popped`. */
  pop(popped: { time: number; recipient: number; kind: Kind }): void {
    popped.time = this.time[0]!;
    popped.recipient = this.recipient[0]!;
    popped.kind = this.kind[0]! as Kind;
    const last = --this.size;
    if (last === 0) return;
    const time = this.time[last]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && this.time[child + 1]! < this.time[child]!) child++;
      if (this.time[child]! >= time) break;
      this.move(child, i);
      i = child;
    }
    this.time[i] = time;
    this.recipient[i] = this.recipient[last]!;
    this.kind[i] = this.kind[last]!;
  }

  clear(): void {
    this.size = 0;
  }

  private move(from: number, to: number): void {
    this.time[to] = this.time[from]!;
    this.recipient[to] = this.recipient[from]!;
    this.kind[to] = this.kind[from]!;
  }
}

const HREF = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')/gi;

/** The http(s) links of an HTML body, entity `&amp;` decoded, in order. */
export function linksOf(html: string): string[] {
  const links: string[] = [];
  for (const m of html.matchAll(HREF)) {
    const href = (m[1] ?? m[2] ?? '').trim().replace(/&amp;/gi, '&');
    if (/^https?:\/\//i.test(href)) links.push(href);
  }
  return links;
}

/**
 * Plays the events that follow acceptance: for each recipient the rolls decide its story at
 * once; events due later wait in one queue behind one timer, and are appended to the store's
 * log (and handed to `onEvent`, the webhook poster) when their time comes.
 */
export class FollowUp {
  private readonly queue = new EventQueue();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private readonly popped = { time: 0, recipient: 0, kind: Kind.accepted as Kind };
  /** Per recipient (index in the store): the key of its rolls. */
  private keys = new Uint32Array(1024);
  /** Recipients whose click found no link in the message. */
  clicksWithoutLinks = 0;

  constructor(
    private readonly store: MockStore,
    private readonly rates: FollowUpRates,
    private readonly seed: number,
    private readonly onEvent: (event: number) => void,
  ) {}

  get pending(): number {
    return this.queue.size;
  }

  /** The key of a recipient's rolls (the webhook poster and malformed items use it too). */
  keyOf(recipient: number): number {
    return this.keys[recipient]!;
  }

  /** Events due by now go into the log first, so the log stays in time order. */
  beforeAccept(nowMs: number): void {
    if (this.queue.nextTime <= nowMs) this.drain(nowMs);
  }

  /**
   * Plans the story of each recipient of the message just recorded (recipients `first`
   * onward, accepted at `acceptedMs`). `links` is called at most once, when someone clicks.
   */
  planMessage(first: number, count: number, acceptedMs: number, links: () => string[]): void {
    const store = this.store;
    const record = store.records[store.recipientMessage[first]!]!;
    if (this.keys.length < first + count) {
      const next = new Uint32Array(Math.max(first + count, this.keys.length * 2));
      next.set(this.keys);
      this.keys = next;
    }
    let messageLinks: string[] | null = null;
    for (let r = first; r < first + count; r++) {
      const key = recipientKey(this.seed, record.deliveryId, record.messageId, store.recipientAddress[r]!);
      this.keys[r] = key;
      this.planRecipient(r, key, acceptedMs, () => (messageLinks ??= links()));
    }
  }

  clear(): void {
    this.queue.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    this.clicksWithoutLinks = 0;
  }

  private planRecipient(r: number, key: number, acceptedMs: number, links: () => string[]): void {
    const rates = this.rates;
    let stage = Roll.delay;
    const after = (t: number): number => (rates.delayMs > 0 ? t + rates.delayMs * (0.5 + unitRoll(key, stage++)) : t);
    const outcome = unitRoll(key, Roll.outcome);
    let t = after(acceptedMs);
    if (outcome < rates.bounceRate) {
      this.schedule(t, r, Kind.permanentFailure);
      return;
    }
    if (outcome < rates.bounceRate + rates.temporaryFailRate) {
      this.schedule(t, r, Kind.temporaryFailure);
      this.store.retried.add(r);
      t = after(t);
    }
    this.schedule(t, r, Kind.delivered);
    const delivered = t;
    if (unitRoll(key, Roll.open) < rates.openRate) {
      t = after(t);
      this.schedule(t, r, Kind.opened);
      if (unitRoll(key, Roll.click) < rates.clickRate) {
        const list = links();
        if (list.length > 0) {
          this.store.clickUrl.set(r, list[Math.floor(unitRoll(key, Roll.link) * list.length)]!);
          t = after(t);
          this.schedule(t, r, Kind.clicked);
        } else {
          this.clicksWithoutLinks++;
        }
      }
    }
    if (unitRoll(key, Roll.complaint) < rates.complaintRate) this.schedule(after(Math.max(t, delivered)), r, Kind.complained);
    if (unitRoll(key, Roll.unsubscribe) < rates.unsubscribeRate) this.schedule(after(t), r, Kind.unsubscribed);
  }

  private schedule(time: number, recipient: number, kind: Kind): void {
    if (time <= Date.now() && this.queue.size === 0) {
      this.onEvent(this.store.append(time, recipient, kind));
      return;
    }
    this.queue.push(time, recipient, kind);
    if (time < this.timerAt) this.arm(time);
  }

  private arm(time: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = time;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.drain(Date.now());
      },
      Math.max(0, Math.ceil(time - Date.now())),
    );
  }

  private drain(nowMs: number): void {
    const popped = this.popped;
    // A bounded batch per turn of the event loop, so a burst of due events never stalls answers.
    for (let n = 0; n < 20_000 && this.queue.nextTime <= nowMs; n++) {
      this.queue.pop(popped);
      this.onEvent(this.store.append(popped.time, popped.recipient, popped.kind));
    }
    const next = this.queue.nextTime;
    if (next !== Infinity && next < this.timerAt) this.arm(next);
  }
}

export { Roll };
