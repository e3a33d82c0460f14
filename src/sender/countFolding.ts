import type { Kysely } from 'kysely';
import type { Logger } from '../config/log.js';
import type { Database } from '../db/schema.js';
import { foldDeliveryCounts } from '../sql/foldDeliveryCounts.js';
import { markSentRecipients } from '../sql/markSentRecipients.js';

/** How often a sending process or `herald serve` folds the kept counts' changes. */
export const FOLD_EVERY_MS = 2000;

/**
 * Every few seconds, until the returned stop is called, folds the kept delivery counts
 * (sql/foldDeliveryCounts.ts) and takes one step of marking sent recipients
 * (sql/markSentRecipients.ts: a batch of a campaign that is not running, for "never sent").
 * Every process that writes deliveries runs one; the locks let one of them through at a time.
 * A failed fold or step is retried at the next tick: the changes wait.
 */
export function startCountFolding(db: Kysely<Database>, log: Logger, everyMs = FOLD_EVERY_MS): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  let warned = false;
  const timer = setInterval(() => {
    running = foldDeliveryCounts(db)
      .then(() => markSentRecipients(db))
      .then(
        () => {
          warned = false;
        },
        (err: Error) => {
          if (!warned) log.warn({ err: err.message }, 'could not fold the kept counts; retrying');
          warned = true;
        },
      );
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
