import { sql, type Kysely } from 'kysely';
import type { Database, DeliveryStatus } from '../db/schema.js';

export type StatusCounts = Record<DeliveryStatus, number>;

const SEND_STATES: DeliveryStatus[] = ['pending', 'queued', 'sent', 'failed', 'suppressed', 'unknown', 'skipped'];

/**
 * A campaign's deliveries per status, from the kept counts (migration 0008): the folded
 * counts plus the changes since the last fold, a handful of rows whatever the campaign's size.
 */
export async function countDeliveries(db: Kysely<Database>, campaignId: number): Promise<StatusCounts> {
  const rows = await sql<{ status: DeliveryStatus; n: number }>`
    select status, sum(n)::bigint as n from (
      select status, n from delivery_counts where campaign_id = ${campaignId} and status = any(${SEND_STATES})
      union all
      select status, n from delivery_count_changes where campaign_id = ${campaignId} and status = any(${SEND_STATES})
    ) kept
    group by status
  `.execute(db);
  const counts: StatusCounts = { pending: 0, queued: 0, sent: 0, failed: 0, suppressed: 0, unknown: 0, skipped: 0 };
  for (const r of rows.rows) counts[r.status] = Number(r.n);
  return counts;
}
