import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * The accepted count and the funnel facts of every campaign that is running or ended in the
 * last `days` days, from the kept counts: what /metrics exports (bounded by recency, so the
 * label set does not grow with the history).
 */
export async function recentFunnels(db: Kysely<Database>, days: number): Promise<Array<{ campaignId: number; stage: string; n: number }>> {
  const rows = await sql<{ campaign_id: number; stage: string; n: number }>`
    with recent as (
      select id from campaigns
      where status in ('running', 'paused') or finished_at > now() - make_interval(days => ${days}) or updated_at > now() - make_interval(days => ${days})
    )
    select campaign_id, case when status = 'sent' then 'accepted' else reason end as stage, sum(n)::bigint as n from (
      select k.campaign_id, k.status, k.reason, k.n from delivery_counts k join recent r on r.id = k.campaign_id
      where k.status = 'outcome' or k.status = 'sent'
      union all
      select k.campaign_id, k.status, k.reason, k.n from delivery_count_changes k join recent r on r.id = k.campaign_id
      where k.status = 'outcome' or k.status = 'sent'
    ) kept
    group by 1, 2
    order by 1, 2
  `.execute(db);
  return rows.rows.map((r) => ({ campaignId: Number(r.campaign_id), stage: r.stage, n: Number(r.n) }));
}
