/**
 * Adaptive reaction to provider throttling (429), as pure state: the caller feeds outcomes
 * with timestamps and asks what rate cap and pause are in force.
 *
 * A stray 429 only delays its own message. Sustained throttling (a share of recent answers
 * above `triggerShare`) means a provider limit was hit: everything pauses until the provider's
 * retry time, and the rate is capped below what was getting through, then raised step by
 * step while no throttling is seen (multiplicative decrease, gradual increase).
 */
export interface ThrottleSettings {
  windowMs: number;
  triggerShare: number;
  minThrottles: number;
  decreaseFactor: number;
  increaseFactor: number;
  increaseEveryMs: number;
  defaultPauseMs: number;
}

const defaultThrottleSettings: ThrottleSettings = {
  windowMs: 1000,
  triggerShare: 0.05,
  minThrottles: 3,
  decreaseFactor: 0.7,
  increaseFactor: 1.1,
  increaseEveryMs: 1000,
  defaultPauseMs: 1000,
};

export class ThrottleController {
  // The window is kept as ten time buckets so recording stays O(1) at thousands per second.
  private static readonly BUCKETS = 10;
  private readonly bucketStart = new Array<number>(ThrottleController.BUCKETS).fill(-1);
  private readonly accepted = new Array<number>(ThrottleController.BUCKETS).fill(0);
  private readonly throttled = new Array<number>(ThrottleController.BUCKETS).fill(0);
  private cap: number | null = null;
  private pausedUntil = 0;
  private lastChange = 0;

  constructor(private readonly settings: ThrottleSettings = defaultThrottleSettings) {}

  /** Records one answer; returns true when this answer started a throttling episode. */
  record(now: number, outcome: 'accepted' | 'throttled' | 'other', retryAfterMs: number | null = null): boolean {
    if (outcome === 'other') return false;
    const throttled = outcome === 'throttled';
    const bucket = this.bucketFor(now);
    if (throttled) this.throttled[bucket]!++;
    else this.accepted[bucket]!++;
    this.relax(now);
    if (!throttled || now < this.pausedUntil) return false;
    const { accepted, throttled: throttledCount } = this.totals(now);
    if (throttledCount < this.settings.minThrottles || throttledCount / (accepted + throttledCount) < this.settings.triggerShare) return false;
    const getsThrough = (accepted * 1000) / this.observedSpan(now);
    const lowered = Math.max(1, Math.floor(getsThrough * this.settings.decreaseFactor));
    this.cap = this.cap === null ? lowered : Math.min(this.cap, lowered);
    this.pausedUntil = now + (retryAfterMs ?? this.settings.defaultPauseMs);
    this.lastChange = now;
    // Forget the episode's answers: requests already in flight will still come back throttled.
    this.bucketStart.fill(-1);
    this.accepted.fill(0);
    this.throttled.fill(0);
    return true;
  }

  /** Messages per second allowed now, or null for no adaptive cap. */
  rateCap(now: number): number | null {
    this.relax(now);
    return this.cap;
  }

  pausedFor(now: number): number {
    return Math.max(0, this.pausedUntil - now);
  }

  /** Raise the cap after a quiet period; drop it once it is far above what was needed. */
  private relax(now: number): void {
    if (this.cap === null || now < this.pausedUntil) return;
    while (now - this.lastChange >= this.settings.increaseEveryMs && this.cap !== null) {
      this.lastChange += this.settings.increaseEveryMs;
      this.cap = Math.ceil(this.cap * this.settings.increaseFactor);
      if (this.cap > 1_000_000) this.cap = null;
    }
  }

  private bucketFor(now: number): number {
    const width = this.settings.windowMs / ThrottleController.BUCKETS;
    const start = Math.floor(now / width) * width;
    const index = Math.floor(now / width) % ThrottleController.BUCKETS;
    if (this.bucketStart[index] !== start) {
      this.bucketStart[index] = start;
      this.accepted[index] = 0;
      this.throttled[index] = 0;
    }
    return index;
  }

  /** How much of the window has data: right after a start, less than the whole window. */
  private observedSpan(now: number): number {
    const width = this.settings.windowMs / ThrottleController.BUCKETS;
    let earliest = now;
    for (const start of this.bucketStart) if (start >= 0 && start > now - this.settings.windowMs) earliest = Math.min(earliest, start);
    return Math.max(width, now - earliest);
  }

  private totals(now: number): { accepted: number; throttled: number } {
    let accepted = 0;
    let throttled = 0;
    for (let i = 0; i < ThrottleController.BUCKETS; i++) {
      if (this.bucketStart[i]! > now - this.settings.windowMs) {
        accepted += this.accepted[i]!;
        throttled += this.throttled[i]!;
      }
    }
    return { accepted, throttled };
  }
}
