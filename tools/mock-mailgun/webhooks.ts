import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { signWebhook } from '../../src/provider/mailgun/webhookSignature.js';
import { eventsItem } from './items.js';
import { Kind, type MockStore } from './store.js';

export interface MockWebhookOptions {
  url: string;
  signingKey: string;
  /** Share of webhooks never posted (the event stays in the log), decided per event by the seed. */
  dropRate: number;
}

/** Webhooks being posted at once; the rest wait in order (a list of event indices). */
const MAX_IN_FLIGHT = 64;

/**
 * Posts a signed Mailgun-style webhook (fact sheet §5) for every follow-up event in the log —
 * delivered, failed, opened, clicked, complained, unsubscribed; not `accepted`, which Herald
 * does not subscribe to — so the loop from send to event to suppression runs offline.
 */
export class WebhookPoster {
  sent = 0;
  failed = 0;
  dropped = 0;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly waiting: number[] = [];
  private waitingFrom = 0;
  private inFlight = 0;
  private closed = false;

  constructor(
    private readonly options: MockWebhookOptions,
    private readonly store: MockStore,
    /** A number in [0, 1) per event, the same every run with the same seed: below `dropRate` drops it. */
    private readonly dropRoll: (event: number) => number,
  ) {
    const url = new URL(options.url);
    this.pool = new Pool(url.origin, { connections: 16 });
    this.path = `${url.pathname}${url.search}`;
  }

  get queued(): number {
    return this.waiting.length - this.waitingFrom + this.inFlight;
  }

  /** Called with each event as it enters the log. */
  post(event: number): void {
    if (this.closed || this.store.eventKind[event] === Kind.accepted) return;
    if (this.options.dropRate > 0 && this.dropRoll(event) < this.options.dropRate) {
      this.dropped++;
      return;
    }
    this.waiting.push(event);
    this.pump();
  }

  /** Forgets webhooks not yet posted (`/mock/reset`). */
  clear(): void {
    this.waiting.length = 0;
    this.waitingFrom = 0;
  }

  close(): Promise<void> {
    this.closed = true;
    this.clear();
    return this.pool.close();
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.waitingFrom < this.waiting.length) {
      const event = this.waiting[this.waitingFrom++]!;
      if (this.waitingFrom > 4096 && this.waitingFrom * 2 > this.waiting.length) {
        this.waiting.splice(0, this.waitingFrom);
        this.waitingFrom = 0;
      }
      this.inFlight++;
      this.send(event).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async send(event: number): Promise<void> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const token = randomBytes(25).toString('hex');
    const body = JSON.stringify({
      signature: { timestamp, token, signature: signWebhook(this.options.signingKey, timestamp, token) },
      'event-data': eventsItem(this.store, event),
    });
    try {
      const res = await this.pool.request({ path: this.path, method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.body.dump();
      if (res.statusCode === 200) this.sent++;
      else this.failed++;
    } catch {
      this.failed++;
    }
  }
}
