import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * "Who did not get it": failed deliveries per reason, plus suppressed, skipped and unknown,
 * from the kept counts (migration 0008).
 */
export async function notSentBreakdown(db: Kysely<Database>, campaignId: number): Promise<Array<{ status: string; reason: string | null; count: number }>> {
  const rows = await sql<{ status: string; reason: string; count: number }>`
    select status, reason, sum(n)::int as count from (
      select status, reason, n from delivery_counts where campaign_id = ${campaignId}
      union all
      select status, reason, n from delivery_count_changes where campaign_id = ${campaignId}
    ) kept
    where status in ('failed', 'suppressed', 'skipped', 'unknown')
    group by status, reason
    having sum(n) <> 0
    order by sum(n) desc, status, reason
  `.execute(db);
  return rows.rows.map((r) => ({ status: r.status, reason: r.reason === '' ? null : r.reason, count: r.count }));
}
