import Bottleneck from 'bottleneck';
import { ThrottleController } from '../../domain/throttle.js';

export interface PacerOptions {
  /** Messages per second; null for as fast as the provider allows. */
  ratePerSecond: number | null;
  /** Shared limiter id (e.g. `herald:campaign:42`); with `redisUrl`, every worker shares it. */
  id: string;
  redisUrl?: string;
  /** React to provider throttling (429) by pausing and lowering the rate. */
  adaptive: boolean;
}

/**
 * Decides when the next message may go: the campaign's configured rate (Bottleneck, in Redis
 * when scaled out) combined with an adaptive cap after provider throttling.
 *
 * Bottleneck costs a few event-loop turns per job (about 400 jobs/s per limiter, see
 * stack-notes), so permits are fetched in weighted chunks and handed out locally.
 */
export class Pacer {
  private readonly throttle = new ThrottleController();
  private limiter: Bottleneck | null = null;
  private limiterRate: number | null = null;
  private permits = 0;
  private refill: Promise<void> | null = null;
  private closed = false;
  private configuredRate: number | null;

  constructor(private readonly options: PacerOptions) {
    this.configuredRate = options.ratePerSecond;
    this.applyRate(Date.now());
  }

  /** Changes the configured rate (e.g. `herald domains set --rate`) without a restart. */
  setRate(ratePerSecond: number | null): void {
    if (ratePerSecond === this.configuredRate) return;
    this.configuredRate = ratePerSecond;
    this.applyRate(Date.now());
  }

  /** Resolves when one message may be sent. */
  async acquire(): Promise<void> {
    for (;;) {
      const now = Date.now();
      const pause = this.throttle.pausedFor(now);
      if (pause > 0) {
        await sleep(pause);
        continue;
      }
      this.applyRate(now);
      if (!this.limiter || this.closed) return;
      if (this.permits > 0) {
        this.permits--;
        return;
      }
      this.refill ??= this.fetchPermits(this.limiter, this.chunkSize()).finally(() => {
        this.refill = null;
      });
      await this.refill;
    }
  }

  /** Feeds the provider's answer to the adaptive throttle. */
  record(outcome: 'accepted' | 'throttled' | 'other', retryAfterMs: number | null = null): void {
    const now = Date.now();
    // The lowered cap applies at once, to senders already waiting for permits too.
    if (this.options.adaptive && this.throttle.record(now, outcome, retryAfterMs)) this.applyRate(now);
  }

  /** The rate in force now (configured or adaptive), for status output. */
  currentLimit(): number | null {
    return effectiveRate(this.configuredRate, this.throttle.rateCap(Date.now()));
  }

  async close(): Promise<void> {
    this.closed = true;
    const limiter = this.limiter;
    this.limiter = null;
    if (limiter) await retire(limiter);
  }

  private chunkSize(): number {
    // Permits are fetched in chunks (few Bottleneck jobs) but held locally, so each process can
    // run ahead of the shared limit by one chunk: 50 ms worth alone, 10 ms worth when shared.
    return Math.max(1, Math.floor((this.limiterRate ?? 1) / (this.options.redisUrl ? 100 : 20)));
  }

  private async fetchPermits(limiter: Bottleneck, weight: number): Promise<void> {
    try {
      await limiter.schedule({ weight }, async () => undefined);
    } catch (err) {
      if (limiter === this.limiter) throw err;
    }
    // A limiter replaced meanwhile (the rate changed) hands out nothing, whether its chunk was
    // dropped or got through: the waiting senders ask the new one.
    if (limiter === this.limiter) this.permits += weight;
  }

  /**
   * A rate change starts a new limiter and drops the old one's queued chunk. Updating the old
   * limiter in place is not enough: a chunk queued at a higher rate can weigh more than the
   * lowered rate ever refills, and Bottleneck would keep it at the head of its queue for good,
   * with every sender waiting behind it.
   */
  private applyRate(now: number): void {
    const rate = effectiveRate(this.configuredRate, this.throttle.rateCap(now));
    if (rate === this.limiterRate) return;
    this.limiterRate = rate;
    // Permits fetched at the old rate would overshoot a lower one.
    this.permits = 0;
    const old = this.limiter;
    this.limiter = null;
    if (old) void retire(old);
    if (rate === null) return;
    const settings = reservoirSettings(rate);
    if (!this.options.redisUrl) {
      this.limiter = new Bottleneck({ ...settings, id: this.options.id });
      return;
    }
    // Its own Redis clients: limiters of one id cannot share a connection (leaving it
    // unsubscribes the id's channel for the other one too).
    this.limiter = new Bottleneck({ ...settings, id: this.options.id, datastore: 'ioredis', clearDatastore: false, clientOptions: redisOptions(this.options.redisUrl) });
    // A limiter joining a shared id takes the settings stored in Redis, so this rate is pushed.
    // Not the reservoir itself: resetting it would hand every process a fresh reservoir's worth
    // at once, over the shared rate, each time one starts. (updateSettings returns a promise,
    // whatever its types say; a Redis failure shows up again when permits are fetched.)
    const { reservoirRefreshAmount, reservoirRefreshInterval, heartbeatInterval } = settings;
    Promise.resolve(this.limiter.updateSettings({ reservoirRefreshAmount, reservoirRefreshInterval, heartbeatInterval })).catch(() => undefined);
  }
}

/**
 * Reservoir refreshed every 100 ms when the rate divides evenly (smooth), else every second.
 * The heartbeat must tick faster than the refresh, or Bottleneck refreshes late (stack-notes).
 */
export function reservoirSettings(rate: number): Bottleneck.ConstructorOptions {
  const interval = rate >= 100 && rate % 10 === 0 ? 100 : 1000;
  const amount = Math.max(1, Math.round((rate * interval) / 1000));
  return {
    reservoir: amount,
    reservoirRefreshAmount: amount,
    reservoirRefreshInterval: interval,
    heartbeatInterval: Math.min(50, interval / 2),
  };
}

function effectiveRate(configured: number | null, adaptive: number | null): number | null {
  if (configured === null) return adaptive;
  if (adaptive === null) return configured;
  return Math.min(configured, adaptive);
}

function redisOptions(url: string): Record<string, unknown> {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
  };
}

/**
 * Drops the limiter's queued jobs (their waiters are released), then disconnects it once it
 * has finished registering: closing mid-registration leaves ioredis rejecting a command
 * nobody awaits.
 */
async function retire(limiter: Bottleneck): Promise<void> {
  await quietly(() => limiter.stop({ dropWaitingJobs: true }));
  await quietly(() => limiter.ready());
  await quietly(() => limiter.disconnect(true));
}

/** Runs a clean-up step whose failure (already stopped, Redis gone) leaves nothing to do. */
async function quietly(step: () => unknown): Promise<void> {
  try {
    await step();
  } catch {
    // Nothing to release.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
