/**
 * A small single-flight cache for the reads that dashboards and API clients poll.
 *
 * - Requests for one key while its query runs share that query (single flight).
 * - An answer is reused for `ttlMs` after it arrives; counting from the answer rather than
 *   the request leaves the database at least `ttlMs` between two queries of one key however
 *   slow the query is.
 * - `invalidate(key)` forgets the answer and any query in flight, so the next request (the
 *   one after a write through the API) queries again; a query that was in flight still
 *   answers its own waiters but is not kept.
 * - At most `maxEntries` keys are kept; the least recently used goes first.
 * - Failures are shared by the requests that waited for them, never kept.
 * - `ttlMs` 0 turns it off: every request runs its own query, as without a cache.
 *
 * No IO and no timers: the clock is injected, so it is tested without waiting.
 */
export interface ReadCacheOptions {
  ttlMs: number;
  maxEntries: number;
  now?: () => number;
}

/** How a request was answered: a kept answer, a query already in flight, or its own query. */
export type ReadOutcome = 'hit' | 'shared' | 'query';

interface Entry {
  pending: Promise<unknown> | null;
  value: unknown;
  /** When the kept answer goes stale; 0 while none is kept. */
  expires: number;
}

export class ReadCache {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly listeners = new Set<(key: string) => void>();

  constructor(
    private readonly options: ReadCacheOptions,
    private readonly onOutcome: (key: string, outcome: ReadOutcome) => void = () => {},
  ) {
    if (!(options.ttlMs >= 0) || !(options.maxEntries >= 1)) throw new RangeError('ReadCache: ttlMs >= 0 and maxEntries >= 1');
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.options.ttlMs > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The answer for `key`: kept, shared with a query in flight, or from `load` now. */
  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (!this.enabled) {
      this.onOutcome(key, 'query');
      return load();
    }
    const entry = this.entries.get(key);
    if (entry) {
      if (entry.pending) {
        this.touch(key, entry);
        this.onOutcome(key, 'shared');
        return entry.pending as Promise<T>;
      }
      if (this.now() < entry.expires) {
        this.touch(key, entry);
        this.onOutcome(key, 'hit');
        return Promise.resolve(entry.value as T);
      }
    }
    this.onOutcome(key, 'query');
    const fresh: Entry = { pending: null, value: undefined, expires: 0 };
    const pending = load().then(
      (value) => {
        if (this.entries.get(key) === fresh) {
          fresh.pending = null;
          fresh.value = value;
          fresh.expires = this.now() + this.options.ttlMs;
        }
        return value;
      },
      (err: unknown) => {
        if (this.entries.get(key) === fresh) this.entries.delete(key);
        throw err;
      },
    );
    fresh.pending = pending;
    this.entries.delete(key);
    this.entries.set(key, fresh);
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return pending;
  }

  /** Forgets `key`'s answer and any query of it in flight; tells the listeners. */
  invalidate(key: string): void {
    this.entries.delete(key);
    for (const listener of this.listeners) listener(key);
  }

  /** Called with each invalidated key (the event streams re-read it at once). */
  onInvalidate(listener: (key: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private touch(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
  }
}
