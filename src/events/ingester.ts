import type { Kysely } from 'kysely';
import type { Logger } from '../config/log.js';
import type { Database } from '../db/schema.js';
import { recordEvents, type IncomingEvent, type RecordStatus } from './recordEvents.js';

export interface IngesterOptions {
  /** Events per transaction at most. */
  maxBatch: number;
  /** How long the first event of a batch waits for company before the batch is written. */
  maxWaitMs: number;
  /** Events waiting at most; past it, submit refuses (a webhook answers 503, the provider retries). */
  maxQueued: number;
}

export const defaultIngesterOptions: IngesterOptions = { maxBatch: 1000, maxWaitMs: 10, maxQueued: 20_000 };

export class IngesterBusyError extends Error {}

interface Waiting {
  event: IncomingEvent;
  resolve: (s: RecordStatus) => void;
  reject: (e: Error) => void;
}

/**
 * Writes provider events in batches, one transaction each (group commit): a webhook's answer
 * waits for the transaction holding its event, so a 200 always means "stored". One batch is
 * written at a time; events arriving meanwhile form the next one.
 */
export class EventIngester {
  private queue: Waiting[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    private readonly options: IngesterOptions = defaultIngesterOptions,
    private readonly onRecorded: (events: ReadonlyArray<{ source: string; type: string; result: string }>) => void = () => undefined,
  ) {}

  /** Events per transaction at most (record() cuts a longer list into batches of it). */
  get batchSize(): number {
    return this.options.maxBatch;
  }

  submit(event: IncomingEvent): Promise<RecordStatus> {
    if (this.closed) return Promise.reject(new Error('event ingestion is closed'));
    if (this.queue.length >= this.options.maxQueued) return Promise.reject(new IngesterBusyError('too many events waiting to be written'));
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.schedule();
    });
  }

  /** Writes a whole list (the log sync): batches of maxBatch, in order. */
  async record(events: readonly IncomingEvent[]): Promise<RecordStatus[]> {
    const out: RecordStatus[] = [];
    for (let i = 0; i < events.length; i += this.options.maxBatch) {
      const slice = events.slice(i, i + this.options.maxBatch);
      const statuses = await recordEvents(this.db, slice);
      this.onRecorded(slice.map((e, j) => ({ source: e.source, type: e.type, result: statuses[j]! })));
      out.push(...statuses);
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.queue.length > 0 || this.writing) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (!this.writing) this.writing = this.flush();
      await this.writing;
    }
  }

  private schedule(): void {
    if (this.writing) return;
    if (this.queue.length >= this.options.maxBatch) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.writing = this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (!this.writing) this.writing = this.flush();
    }, this.options.maxWaitMs);
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch);
        try {
          const statuses = await recordEvents(
            this.db,
            batch.map((w) => w.event),
          );
          this.onRecorded(batch.map((w, i) => ({ source: w.event.source, type: w.event.type, result: statuses[i]! })));
          for (const [i, w] of batch.entries()) w.resolve(statuses[i]!);
        } catch (err) {
          this.log.warn({ err: (err as Error).message, events: batch.length }, 'could not record provider events');
          for (const w of batch) w.reject(err as Error);
        }
        // A small batch means the queue had drained: let the next one gather again.
        if (this.queue.length < this.options.maxBatch) break;
      }
    } finally {
      this.writing = null;
      if (this.queue.length > 0) this.schedule();
    }
  }
}
