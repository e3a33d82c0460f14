import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** One fold at a time across every process of the installation (an advisory lock key). */
export const FOLD_LOCK = 0x4865_7261; // "Hera"

/** How long a running campaign's sent-count samples are kept, and how far apart they are. */
const SAMPLE_EVERY = '4 seconds';
const SAMPLES_KEPT = '15 minutes';

/**
 * Folds the delivery count changes appended by the triggers (migration 0008) into
 * `delivery_counts`, and samples each running campaign's sent count for its rate. Any process
 * may call it at any time; when another holds the fold it returns false at once. Readers add
 * folded counts and pending changes in one statement, so a fold never changes what they see.
 */
export async function foldDeliveryCounts(db: Kysely<Database>): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const lock = await sql<{ got: boolean }>`select pg_try_advisory_xact_lock(${FOLD_LOCK}) as got`.execute(trx);
    if (!lock.rows[0]?.got) return false;
    // Only this transaction folds (the lock), so the counter rows are never contended; the
    // rows are upserted in key order all the same.
    await sql`
      with moved as (
        delete from delivery_count_changes returning campaign_id, status, reason, n
      )
      insert into delivery_counts (campaign_id, status, reason, n)
      select campaign_id, status, reason, sum(n) from moved group by 1, 2, 3 order by 1, 2, 3
      on conflict (campaign_id, status, reason) do update set n = delivery_counts.n + excluded.n
    `.execute(trx);
    await sql`
      insert into campaign_samples (campaign_id, at, sent)
      select c.id, now(),
        coalesce((select sum(k.n) from delivery_counts k where k.campaign_id = c.id and k.status = 'sent'), 0)
        + coalesce((select sum(k.n) from delivery_count_changes k where k.campaign_id = c.id and k.status = 'sent'), 0)
      from campaigns c
      where c.status = 'running'
        and not exists (select 1 from campaign_samples s where s.campaign_id = c.id and s.at > now() - ${SAMPLE_EVERY}::interval)
    `.execute(trx);
    await sql`delete from campaign_samples where at < now() - ${SAMPLES_KEPT}::interval`.execute(trx);
    return true;
  });
}
