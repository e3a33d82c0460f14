import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Logger } from '../../config/log.js';
import { writeResults, type DeliveryResult } from '../../sql/writeResults.js';

export interface ReporterOptions {
  /** Rows per statement. */
  maxBatch: number;
  /** Longest a result waits in memory before it is written. */
  flushIntervalMs: number;
  /** Past this many unwritten results, `add` waits (the database is down or slow). */
  maxBuffered: number;
  onWritten?: (results: readonly DeliveryResult[], seconds: number) => void;
}

export const defaultReporterOptions: ReporterOptions = { maxBatch: 1000, flushIntervalMs: 250, maxBuffered: 10_000 };

/**
 * Buffers delivery results and writes them in bulk. A failed write keeps its rows and is
 * retried with backoff until it succeeds: a result is never dropped, and `close` flushes the
 * last partial batch.
 */
export class Reporter {
  private buffer: DeliveryResult[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failing = false;
  private readonly spaceWaiters: Array<() => void> = [];

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    private readonly options: ReporterOptions = defaultReporterOptions,
  ) {}

  /** Results not yet written. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** True while the last write failed: senders hold back until results can be recorded. */
  get healthy(): boolean {
    return !this.failing;
  }

  add(result: DeliveryResult): Promise<void> | void {
    this.buffer.push(result);
    if (this.buffer.length >= this.options.maxBatch) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.options.flushIntervalMs);
    if (this.buffer.length >= this.options.maxBuffered) {
      return new Promise((resolve) => this.spaceWaiters.push(resolve));
    }
  }

  /** Writes everything buffered now; resolves when it is in the database. */
  async flush(): Promise<void> {
    while (this.buffer.length > 0 || this.flushing) {
      this.kick();
      await this.flushing;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.flushing || this.buffer.length === 0) return;
    this.flushing = this.writeAll().finally(() => {
      this.flushing = null;
      if (this.buffer.length > 0) this.timer ??= setTimeout(() => this.kick(), this.options.flushIntervalMs);
    });
  }

  private async writeAll(): Promise<void> {
    let backoff = 100;
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.options.maxBatch);
      const started = performance.now();
      try {
        await writeResults(this.db, batch);
      } catch (err) {
        if (!this.failing) this.log.warn({ err: (err as Error).message, rows: this.buffer.length }, 'could not write results; retrying');
        this.failing = true;
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, 5000);
        continue;
      }
      if (this.failing) this.log.info('writing results again');
      this.failing = false;
      backoff = 100;
      this.buffer = this.buffer.slice(batch.length);
      this.options.onWritten?.(batch, (performance.now() - started) / 1000);
      while (this.buffer.length < this.options.maxBuffered && this.spaceWaiters.length > 0) this.spaceWaiters.shift()!();
    }
  }
}
