import type { Kysely } from 'kysely';
import type { Logger } from '../config/log.js';
import type { Database } from '../db/schema.js';
import type { Provider, ProviderEventType } from '../provider/provider.js';
import { advanceLogPosition } from '../sql/outcomes/advanceLogPosition.js';
import { syncTargets } from '../sql/outcomes/syncTargets.js';
import { incomingFrom } from './incoming.js';
import type { EventIngester } from './ingester.js';
import type { IncomingEvent } from './recordEvents.js';

/** The events that say what happened after acceptance. */
export const SYNCED_EVENTS: readonly ProviderEventType[] = ['delivered', 'failed', 'opened', 'clicked', 'complained', 'unsubscribed'];

/**
 * The provider stores events late and out of order; its log is taken as complete only this
 * long after the fact (fact sheet §4, §4b), so each pass re-reads that much, and events are
 * recorded once whatever the overlap.
 */
export const LOG_SETTLE_MS = 30 * 60_000;
/**
 * Batches of the log being written at once. Two transactions keep the database busy while
 * the next batch is read and prepared; their deliveries' outcome rows are locked in key order,
 * so they wait for each other where they share a delivery and never deadlock.
 */
const WRITES_IN_FLIGHT = 2;
/** Slack before a campaign's first send (clocks differ). */
const START_SLACK_MS = 5 * 60_000;

export interface SyncDeps {
  db: Kysely<Database>;
  provider: Provider;
  ingester: EventIngester;
  log: Logger;
  now?: () => Date;
}

export interface SyncOptions {
  /** Campaigns that sent within this many days. */
  days: number;
  /** One campaign only (the position is not advanced: the pass read only part of the log). */
  campaignId?: number | undefined;
  /** Read from this time instead of the stored position. */
  since?: Date | undefined;
  signal?: AbortSignal | undefined;
}

export interface SyncSummary {
  domains: number;
  pages: number;
  read: number;
  recorded: number;
  duplicate: number;
  unmatched: number;
  skipped: number;
}

/**
 * One pass over the provider's event log: for each sending domain of the recent campaigns,
 * every outcome event from where the last pass was sure it had everything (or the campaigns'
 * first send) to now, recorded through the ingester (stored once by event id, so webhooks
 * and the log never count an event twice). Then the position moves to LOG_SETTLE_MS before
 * this pass began. A provider that throttles or fails makes the pass slow or throw; it never
 * touches sending (the sync has its own connections).
 */
export async function syncEventLog(deps: SyncDeps, options: SyncOptions): Promise<SyncSummary> {
  const now = deps.now ?? (() => new Date());
  const passStart = now();
  const summary: SyncSummary = { domains: 0, pages: 0, read: 0, recorded: 0, duplicate: 0, unmatched: 0, skipped: 0 };
  const floor = passStart.getTime() - options.days * 86_400_000;
  for (const target of await syncTargets(deps.db, options.days, options.campaignId)) {
    summary.domains++;
    const from =
      options.since?.getTime() ??
      Math.max(floor, target.firstSendAt.getTime() - START_SLACK_MS, target.syncedUntil ? target.syncedUntil.getTime() : Number.NEGATIVE_INFINITY);
    // Pages are gathered into batches of the ingester's size, and reading goes on while
    // earlier batches are being written (WRITES_IN_FLIGHT transactions at most, on connections
    // of their own): the provider's log, this process and the database work side by side.
    let token: string | undefined;
    const batch: IncomingEvent[] = [];
    const writing: Array<Promise<void>> = [];
    let batches = 0;
    const write = async (events: IncomingEvent[]): Promise<void> => {
      for (const s of await deps.ingester.record(events)) {
        if (s === 'recorded') summary.recorded++;
        else if (s === 'unmatched') summary.unmatched++;
        else summary.duplicate++;
      }
    };
    let failure: { error: unknown } | null = null;
    try {
      do {
        const page = await deps.provider.eventLog(
          { ...(target.domain ? { domain: target.domain } : {}), start: new Date(from), end: passStart, events: SYNCED_EVENTS, ...(token ? { token } : {}) },
          options.signal,
        );
        summary.pages++;
        summary.skipped += page.skipped.length;
        const wanted = options.campaignId === undefined ? page.items : page.items.filter((e) => e.deliveryId?.startsWith(`${options.campaignId}.`));
        summary.read += wanted.length;
        for (const e of wanted) batch.push(incomingFrom(e, 'log', JSON.stringify(e)));
        token = page.next;
        const last = !token || options.signal?.aborted;
        while (batch.length >= deps.ingester.batchSize || (last && batch.length > 0)) {
          const slot = batches++ % WRITES_IN_FLIGHT;
          await writing[slot];
          const written = write(batch.splice(0, deps.ingester.batchSize));
          // A failed write is thrown when it is awaited, not left unhandled meanwhile.
          written.catch(() => undefined);
          writing[slot] = written;
        }
      } while (token && !options.signal?.aborted);
    } catch (error) {
      failure = { error };
    }
    // Whatever was read is written (or the first failure thrown) before the pass moves on or ends.
    const failed = (await Promise.allSettled(writing)).find((r) => r.status === 'rejected');
    if (failure) throw failure.error;
    if (failed) throw failed.reason;
    if (options.campaignId === undefined && !options.signal?.aborted) {
      await advanceLogPosition(deps.db, target.domain, new Date(passStart.getTime() - LOG_SETTLE_MS));
    }
  }
  return summary;
}

/**
 * Runs syncEventLog every `everyMs` (first after a short pause), until stopped; a failed pass
 * is logged and the next one waits twice as long (up to an hour). For `herald serve` and
 * `herald worker --watch`.
 */
export function startLogSync(deps: SyncDeps, options: { everyMs: number; days: number; firstAfterMs?: number }): () => Promise<void> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  let delay = options.everyMs;
  const run = async (): Promise<void> => {
    try {
      const s = await syncEventLog(deps, { days: options.days, signal: abort.signal });
      delay = options.everyMs;
      if (s.recorded > 0 || s.skipped > 0 || s.unmatched > 0) deps.log.info({ ...s }, 'provider event log read: missed events recorded');
    } catch (err) {
      if (abort.signal.aborted) return;
      delay = Math.min(delay * 2, 3_600_000);
      deps.log.warn({ err: (err as Error).message, retryInMs: delay }, 'could not read the provider event log; sending is not affected');
    }
  };
  const schedule = (ms: number): void => {
    if (abort.signal.aborted) return;
    timer = setTimeout(() => {
      running = run().finally(() => schedule(delay));
    }, ms);
    timer.unref();
  };
  schedule(options.firstAfterMs ?? Math.min(options.everyMs, 10_000));
  return async () => {
    abort.abort();
    if (timer) clearTimeout(timer);
    await running;
  };
}
