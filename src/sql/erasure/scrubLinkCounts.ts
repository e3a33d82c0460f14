import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { ERASED_MARK } from '../../domain/erasure.js';
import { FOLD_LOCK } from '../foldDeliveryCounts.js';

const LINK_COUNTS = ['link_clicks', 'link_unique_clicks'];

/**
 * The kept click counts per link (migration 0009) are keyed by the link, and a personalised
 * link carries the address: those keys get the address cut out, their counts kept. Folded
 * counts move back into the changes under the new key (the next fold adds them up again), so
 * readers, who add both, see the same totals throughout. Holds the fold lock meanwhile.
 */
export async function scrubLinkCounts(db: Kysely<Database>, campaignIds: readonly number[], pattern: string): Promise<void> {
  if (campaignIds.length === 0) return;
  const ids = [...campaignIds];
  await sql`select pg_advisory_xact_lock(${FOLD_LOCK})`.execute(db);
  await sql`
    with moved as (
      delete from delivery_counts
      where campaign_id = any(${ids}::bigint[]) and status = any(${LINK_COUNTS}::text[]) and reason ~* ${pattern}
      returning campaign_id, status, reason, n
    )
    insert into delivery_count_changes (campaign_id, status, reason, n)
    select campaign_id, status, regexp_replace(reason, ${pattern}, ${ERASED_MARK}, 'gi'), n from moved
  `.execute(db);
  await sql`
    update delivery_count_changes set reason = regexp_replace(reason, ${pattern}, ${ERASED_MARK}, 'gi')
    where campaign_id = any(${ids}::bigint[]) and status = any(${LINK_COUNTS}::text[]) and reason ~* ${pattern}
  `.execute(db);
}
