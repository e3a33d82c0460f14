import type { BodyBatch } from '../render/bodyBatch.js';

/** One rendered message on its way to the provider. */
export interface OutgoingMessage {
  campaignId: number;
  recipientId: number;
  body: Uint8Array;
  contentType: string;
  /** Requests made for it so far. */
  attempts: number;
  /** Failures that count against its retry budget (not those during a provider outage). */
  failures: number;
  /** The render batch whose buffer `body` is a view into; null once the body is its own. */
  batch: BodyBatch | null;
}

/**
 * Messages waiting for a sender: fresh ones from the render stage, and ones waiting to be
 * retried. Retries go first and do not hold a sender while they wait; fresh messages are
 * refused (put waits) while fresh + waiting retries fill the capacity, so memory stays
 * bounded even when the provider fails everything.
 */
export class SendBacklog {
  private readonly fresh: OutgoingMessage[] = [];
  private readonly ready: OutgoingMessage[] = [];
  /** Messages waiting out a retry delay, by their timer. */
  private readonly timers = new Map<NodeJS.Timeout, OutgoingMessage>();
  private readonly takers: Array<(m: OutgoingMessage | undefined) => void> = [];
  private readonly putters: Array<() => void> = [];
  private waitingRetries = 0;
  private closed = false;
  private stopped = false;

  constructor(readonly capacity: number) {}

  /** Messages ready for a sender now. */
  get waiting(): number {
    return this.fresh.length + this.ready.length;
  }

  /** Messages waiting out a retry delay. */
  get retrying(): number {
    return this.waitingRetries;
  }

  async put(message: OutgoingMessage): Promise<boolean> {
    while (!this.stopped && this.fresh.length + this.waitingRetries >= this.capacity) {
      await new Promise<void>((resolve) => this.putters.push(resolve));
    }
    if (this.stopped) return false;
    const taker = this.takers.shift();
    if (taker) taker(message);
    else this.fresh.push(message);
    return true;
  }

  retryLater(message: OutgoingMessage, delayMs: number): void {
    if (this.stopped) return;
    this.waitingRetries++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.waitingRetries--;
      const taker = this.takers.shift();
      if (taker) taker(message);
      else this.ready.push(message);
      this.wakePutter();
    }, delayMs);
    this.timers.set(timer, message);
  }

  /** Next message to send, or undefined when there will be no more. */
  take(): Promise<OutgoingMessage | undefined> | OutgoingMessage | undefined {
    const retry = this.ready.shift();
    if (retry) return retry;
    const next = this.fresh.shift();
    if (next) {
      this.wakePutter();
      return next;
    }
    if (this.stopped || (this.closed && this.waitingRetries === 0)) return undefined;
    return new Promise((resolve) => this.takers.push(resolve));
  }

  /** No more fresh messages will come; takers finish once retries are done. */
  close(): void {
    this.closed = true;
    this.maybeEnd();
  }

  /** Drops everything not yet handed to a sender (their claims are released later). */
  stop(): number {
    this.stopped = true;
    for (const timer of this.timers.keys()) clearTimeout(timer);
    const dropped = this.fresh.length + this.ready.length + this.timers.size;
    this.timers.clear();
    this.fresh.length = 0;
    this.ready.length = 0;
    this.waitingRetries = 0;
    for (const taker of this.takers.splice(0)) taker(undefined);
    for (const putter of this.putters.splice(0)) putter();
    return dropped;
  }

  /**
   * Takes out every message `drop` picks, whether waiting for a sender or for a retry, and
   * returns them (an erasure: they must not be sent, CampaignRun.withdraw).
   */
  withdraw(drop: (message: OutgoingMessage) => boolean): OutgoingMessage[] {
    const out: OutgoingMessage[] = [];
    for (const list of [this.fresh, this.ready]) {
      const kept: OutgoingMessage[] = [];
      for (const m of list) (drop(m) ? out : kept).push(m);
      list.length = 0;
      list.push(...kept);
    }
    for (const [timer, message] of this.timers) {
      if (!drop(message)) continue;
      clearTimeout(timer);
      this.timers.delete(timer);
      this.waitingRetries--;
      out.push(message);
    }
    for (let i = 0; i < out.length; i++) this.wakePutter();
    this.maybeEnd();
    return out;
  }

  /** Called by a sender after it finished with a message, so the end can be detected. */
  settled(): void {
    this.maybeEnd();
  }

  private maybeEnd(): void {
    if (this.closed && this.waitingRetries === 0 && this.fresh.length === 0 && this.ready.length === 0) {
      for (const taker of this.takers.splice(0)) taker(undefined);
    }
  }

  private wakePutter(): void {
    this.putters.shift()?.();
  }
}
