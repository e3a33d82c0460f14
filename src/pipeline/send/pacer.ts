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
    this.permits = 0;
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
    if (this.options.adaptive && this.throttle.record(Date.now(), outcome, retryAfterMs)) {
      // Permits fetched at the old rate would overshoot the new cap.
      this.permits = 0;
    }
  }

  /** The rate in force now (configured or adaptive), for status output. */
  currentLimit(): number | null {
    return effectiveRate(this.configuredRate, this.throttle.rateCap(Date.now()));
  }

  async close(): Promise<void> {
    this.closed = true;
    const limiter = this.limiter;
    this.limiter = null;
    if (limiter) await shutDown(limiter);
  }

  private chunkSize(): number {
    // Permits are fetched in chunks (few Bottleneck jobs) but held locally, so each process can
    // run ahead of the shared limit by one chunk: 50 ms worth alone, 10 ms worth when shared.
    return Math.max(1, Math.floor((this.limiterRate ?? 1) / (this.options.redisUrl ? 100 : 20)));
  }

  private async fetchPermits(limiter: Bottleneck, weight: number): Promise<void> {
    await limiter.schedule({ weight }, async () => undefined);
    this.permits += weight;
  }

  private applyRate(now: number): void {
    const rate = effectiveRate(this.configuredRate, this.throttle.rateCap(now));
    if (rate === this.limiterRate) return;
    this.limiterRate = rate;
    if (rate === null) {
      if (this.limiter) void shutDown(this.limiter);
      this.limiter = null;
      return;
    }
    const settings = reservoirSettings(rate);
    if (this.limiter) {
      this.limiter.updateSettings(settings);
      return;
    }
    this.limiter = new Bottleneck({
      ...settings,
      id: this.options.id,
      ...(this.options.redisUrl
        ? { datastore: 'ioredis', clearDatastore: false, clientOptions: redisOptions(this.options.redisUrl) }
        : {}),
    });
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
 * Disconnects once the limiter has finished registering and flushes pending Redis commands:
 * closing mid-registration leaves ioredis rejecting a command nobody awaits.
 */
async function shutDown(limiter: Bottleneck): Promise<void> {
  await limiter.ready().catch(() => undefined);
  await limiter.disconnect(true).catch(() => undefined);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
