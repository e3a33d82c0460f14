import { createRequire } from 'node:module';
import Bottleneck from 'bottleneck';
import { ThrottleController } from '../../domain/throttle.js';

/**
 * Bottleneck's Redis scripts signal lost state (Redis restarted, keys gone) with errors whose
 * message it compares to the exact text `SETTINGS_KEY_NOT_FOUND` or `UNKNOWN_CLIENT`, and then
 * rebuilds its state. Redis 7 prefixes such script errors with `ERR `, so the comparison fails
 * and the error escapes instead. The script callback is wrapped once here to strip the prefix.
 */
function recognizeLostRedisState(): void {
  const require = createRequire(import.meta.url);
  const connection = require('bottleneck/lib/IORedisConnection.js') as {
    prototype: {
      __scriptArgs__(name: string, id: string, args: unknown[], cb: (err: Error | null, replies: unknown) => void): unknown[];
      __heraldPatched?: boolean;
    };
  };
  const proto = connection.prototype;
  if (proto.__heraldPatched) return;
  proto.__heraldPatched = true;
  const scriptArgs = proto.__scriptArgs__;
  proto.__scriptArgs__ = function (name, id, args, cb) {
    return scriptArgs.call(this, name, id, args, (err, replies) => {
      if (err) {
        const bare = /^ERR (SETTINGS_KEY_NOT_FOUND|UNKNOWN_CLIENT)\b/.exec(err.message)?.[1];
        if (bare) err.message = bare;
      }
      cb(err, replies);
    });
  };
}
recognizeLostRedisState();

/**
 * Bottleneck's local datastore adds to the reservoir on a heartbeat and records the tick's
 * time as the last increase, so every tick that runs late (a busy event loop) loses its
 * lateness for good: the rate falls below the one configured whenever the process has other
 * work. Its Redis script counts whole intervals since the last increase and advances by them,
 * losing nothing. The local heartbeat is made to do what the Redis script does.
 */
function increaseReservoirByWholeIntervals(): void {
  const require = createRequire(import.meta.url);
  const local = require('bottleneck/lib/LocalDatastore.js') as {
    prototype: {
      _startHeartbeat(this: LocalStore): unknown;
      __heraldPatched?: boolean;
    };
  };
  interface LocalStore {
    heartbeat: NodeJS.Timeout | null;
    heartbeatInterval: number;
    _lastReservoirIncrease: number;
    storeOptions: {
      reservoir: number | null;
      reservoirRefreshInterval: number | null;
      reservoirIncreaseInterval: number | null;
      reservoirIncreaseAmount: number | null;
      reservoirIncreaseMaximum: number | null;
    };
    instance: { _drainAll(capacity: unknown): unknown };
    computeCapacity(): unknown;
  }
  const proto = local.prototype;
  if (proto.__heraldPatched) return;
  proto.__heraldPatched = true;
  const original = proto._startHeartbeat;
  proto._startHeartbeat = function (this: LocalStore) {
    const o = this.storeOptions;
    if (this.heartbeat != null || o.reservoirRefreshInterval != null || o.reservoirIncreaseInterval == null || o.reservoirIncreaseAmount == null) {
      return original.call(this);
    }
    this.heartbeat = setInterval(() => {
      const interval = o.reservoirIncreaseInterval;
      const amount = o.reservoirIncreaseAmount;
      if (interval == null || amount == null) return;
      const intervals = Math.floor((Date.now() - this._lastReservoirIncrease) / interval);
      if (intervals <= 0) return;
      this._lastReservoirIncrease += intervals * interval;
      const reservoir = o.reservoir ?? 0;
      const increase = Math.min(amount * intervals, (o.reservoirIncreaseMaximum ?? Number.POSITIVE_INFINITY) - reservoir);
      if (increase <= 0) return;
      o.reservoir = reservoir + increase;
      this.instance._drainAll(this.computeCapacity());
    }, this.heartbeatInterval);
    this.heartbeat.unref();
    return undefined;
  };
}
increaseReservoirByWholeIntervals();

/** How long a wait for permits may last before the limiter is presumed stuck and rebuilt. */
const STALL_MS = 15_000;

export interface PacerOptions {
  /** Messages per second; null for as fast as the provider allows. */
  ratePerSecond: number | null;
  /** Shared limiter id (e.g. `herald:campaign:42`); with `redisUrl`, every worker shares it. */
  id: string;
  redisUrl?: string;
  /** React to provider throttling (429) by pausing and lowering the rate. */
  adaptive: boolean;
  /**
   * Told when permits cannot be had (Redis unreachable, a limiter stuck): with the error when
   * the trouble starts, with null once permits come again.
   */
  onTrouble?: (err: Error | null) => void;
  /** Overrides how long a wait for permits may last before the limiter is rebuilt. */
  stallMs?: number;
}

/**
 * Decides when the next message may go: the campaign's configured rate (Bottleneck, in Redis
 * when scaled out) combined with an adaptive cap after provider throttling.
 *
 * Bottleneck costs a few event-loop turns per job, too many for one job per message, so
 * permits are fetched in weighted chunks and handed out locally.
 */
export class Pacer {
  private readonly throttle = new ThrottleController();
  private limiter: Bottleneck | null = null;
  private limiterRate: number | null = null;
  private permits = 0;
  private refill: Promise<void> | null = null;
  private closed = false;
  private configuredRate: number | null;
  private troubled = false;

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

  /**
   * Resolves when one message may be sent, or as soon as `signal` aborts (the caller then
   * sends nothing). Never rejects: while permits cannot be had (Redis gone) it keeps waiting
   * and tells `onTrouble`.
   */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) return;
      const now = Date.now();
      const pause = this.throttle.pausedFor(now);
      if (pause > 0) {
        await abortable(sleep(pause), signal);
        continue;
      }
      this.applyRate(now);
      if (!this.limiter || this.closed) return;
      if (this.permits > 0) {
        this.permits--;
        // The next chunk is asked for while half of this one is left, so its round trips
        // (several to Redis when shared) overlap sending instead of stalling every sender.
        if (this.permits * 2 < this.chunkSize()) this.startRefill(this.limiter);
        return;
      }
      await abortable(this.startRefill(this.limiter), signal);
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

  private startRefill(limiter: Bottleneck): Promise<void> {
    this.refill ??= this.fetchPermits(limiter, this.chunkSize()).finally(() => {
      this.refill = null;
    });
    return this.refill;
  }

  private chunkSize(): number {
    // Permits are fetched in chunks (few Bottleneck jobs) but held locally, so each process can
    // run ahead of the shared limit by a chunk and a half (docs/operations.md, "What a rate
    // means"). Shared chunks are smaller, but not so small that a busy worker cannot turn their
    // Redis round trips around in time (BENCHMARKS.md, "Pacing").
    return Math.max(1, Math.floor((this.limiterRate ?? 1) / (this.options.redisUrl ? 50 : 20)));
  }

  private async fetchPermits(limiter: Bottleneck, weight: number): Promise<void> {
    try {
      await withTimeout(
        limiter.schedule({ weight }, async () => undefined),
        this.options.stallMs ?? STALL_MS,
      );
    } catch (err) {
      if (limiter !== this.limiter) return;
      if (!this.troubled) {
        this.troubled = true;
        this.options.onTrouble?.(err as Error);
      }
      // A fresh limiter registers with Redis again and pushes the configured rate again; until
      // Redis answers, its ioredis client queues the commands and reconnects by itself.
      this.rebuild();
      await sleep(1000);
      return;
    }
    // A limiter replaced meanwhile (the rate changed) hands out nothing, whether its chunk was
    // dropped or got through: the waiting senders ask the new one.
    if (limiter !== this.limiter) return;
    this.permits += weight;
    if (this.troubled) {
      this.troubled = false;
      this.options.onTrouble?.(null);
    }
  }

  private rebuild(): void {
    this.limiterRate = null;
    this.applyRate(Date.now());
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
    const settings = reservoirSettings(rate, this.chunkSize());
    if (!this.options.redisUrl) {
      this.limiter = new Bottleneck({ ...settings, id: this.options.id });
      return;
    }
    // Its own Redis clients: limiters of one id cannot share a connection (leaving it
    // unsubscribes the id's channel for the other one too).
    this.limiter = new Bottleneck({
      ...settings,
      id: this.options.id,
      datastore: 'ioredis',
      clearDatastore: false,
      clientOptions: redisOptions(this.options.redisUrl),
    });
    // A limiter joining a shared id takes the settings stored in Redis, so this rate is pushed.
    // Not the reservoir itself: resetting it would hand every process a fresh reservoir's worth
    // at once, over the shared rate, each time one starts. (updateSettings returns a promise,
    // whatever its types say; a Redis failure shows up again when permits are fetched.)
    // The refresh settings of an earlier Herald (which reset the reservoir every interval) are
    // cleared: with both, the shared rate would double.
    const { reservoirIncreaseAmount, reservoirIncreaseInterval, reservoirIncreaseMaximum, heartbeatInterval } = settings;
    Promise.resolve(
      this.limiter.updateSettings({
        reservoirIncreaseAmount,
        reservoirIncreaseInterval,
        reservoirIncreaseMaximum,
        reservoirRefreshAmount: null,
        reservoirRefreshInterval: null,
        heartbeatInterval,
      }),
    ).catch(() => undefined);
  }
}

/**
 * A token bucket: the reservoir grows by one interval's worth at each short interval when the
 * rate divides evenly (smooth), else at each second. Intervals are counted from the first, not from
 * the tick that noticed them (see increaseReservoirByWholeIntervals), so a late tick delays
 * permits without losing them. The bucket holds one interval's worth and one chunk more: a
 * remainder smaller than a chunk, which no sender can take, carries over to the next interval
 * instead of being cut off at each increase; no longer burst builds up.
 * The heartbeat must tick faster than the interval, or increases come late.
 */
function reservoirSettings(rate: number, chunk: number): Bottleneck.ConstructorOptions {
  const interval = rate >= 100 && rate % 10 === 0 ? 100 : 1000;
  const amount = Math.max(1, Math.round((rate * interval) / 1000));
  return {
    reservoir: amount,
    reservoirIncreaseAmount: amount,
    reservoirIncreaseInterval: interval,
    reservoirIncreaseMaximum: amount + chunk,
    heartbeatInterval: Math.min(50, interval / 2),
  };
}

function effectiveRate(configured: number | null, adaptive: number | null): number | null {
  if (configured === null) return adaptive;
  if (adaptive === null) return configured;
  return Math.min(configured, adaptive);
}

/**
 * Fails fast, naming REDIS_URL, when the shared limiters' Redis cannot be reached at start:
 * otherwise every permit waits for a connection that never comes and nothing is sent.
 */
export async function assertRedisReachable(url: string, timeoutMs = 3000): Promise<void> {
  const require = createRequire(import.meta.url);
  const Redis = require('ioredis') as new (
    options: Record<string, unknown>,
  ) => {
    connect(): Promise<void>;
    ping(): Promise<string>;
    disconnect(): void;
    on(event: string, listener: (...args: unknown[]) => void): void;
  };
  const options = redisOptions(url);
  const client = new Redis({
    ...options,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    // Host and port only: the URL may carry a password.
    throw new RedisUnreachableError(
      `REDIS_URL: cannot reach Redis at ${String(options.host)}:${String(options.port)} (${(err as Error).message}); start it, or unset REDIS_URL to limit rates per worker`,
    );
  } finally {
    client.disconnect();
  }
}

export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
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
 * nobody awaits. Bounded: with Redis unreachable the registration never finishes, and a
 * graceful stop must not wait for Redis, so the connections are then dropped outright.
 */
async function retire(limiter: Bottleneck): Promise<void> {
  const orderly = (async () => {
    await quietly(() => limiter.stop({ dropWaitingJobs: true }));
    await quietly(() => limiter.ready());
    await quietly(() => limiter.disconnect(true));
    return true;
  })();
  const finished = await Promise.race([orderly, new Promise<false>((resolve) => setTimeout(() => resolve(false), 2000).unref())]);
  if (!finished) await quietly(() => limiter.disconnect(false));
}

/** Runs a clean-up step whose failure (already stopped, Redis gone) leaves nothing to do. */
async function quietly(step: () => unknown): Promise<void> {
  try {
    await step();
  } catch {
    // Nothing to release.
  }
}

/** Resolves with the promise, or once `signal` aborts; never rejects. */
function abortable(promise: Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
  const settled = promise.then(
    () => undefined,
    () => undefined,
  );
  if (!signal) return settled;
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void settled.then(done);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no rate-limit permits for ${Math.round(ms / 1000)} s`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err as Error);
      },
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
