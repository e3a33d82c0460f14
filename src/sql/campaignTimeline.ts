import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface CampaignTimelineRows {
  /** Messages sent per UTC minute across the run. */
  sentPerMinute: Array<{ at: string; n: number }>;
  /** Open and click events per UTC hour since the send. */
  opensPerHour: Array<{ at: string; n: number }>;
  clicksPerHour: Array<{ at: string; n: number }>;
  /** Links by unique clicks (deliveries that clicked them), then by clicks. */
  topLinks: Array<{ url: string; uniqueClicks: number; clicks: number }>;
}

/** A campaign's time series and most clicked links, from the kept counts (migration 0009). */
export async function campaignTimeline(db: Kysely<Database>, campaignId: number, linkLimit = 10): Promise<CampaignTimelineRows> {
  const rows = await sql<{ status: string; reason: string; n: number }>`
    select status, reason, sum(n)::bigint as n from (
      select status, reason, n from delivery_counts
      where campaign_id = ${campaignId} and status in ('sent_per_minute', 'opened_per_hour', 'clicked_per_hour', 'link_clicks', 'link_unique_clicks')
      union all
      select status, reason, n from delivery_count_changes
      where campaign_id = ${campaignId} and status in ('sent_per_minute', 'opened_per_hour', 'clicked_per_hour', 'link_clicks', 'link_unique_clicks')
    ) kept
    group by status, reason
    having sum(n) <> 0
    order by status, reason
  `.execute(db);
  const series = (status: string) => rows.rows.filter((r) => r.status === status).map((r) => ({ at: r.reason, n: Number(r.n) }));
  const clicks = new Map(rows.rows.filter((r) => r.status === 'link_clicks').map((r) => [r.reason, Number(r.n)]));
  const topLinks = rows.rows
    .filter((r) => r.status === 'link_unique_clicks')
    .map((r) => ({ url: r.reason, uniqueClicks: Number(r.n), clicks: clicks.get(r.reason) ?? 0 }))
    .sort((a, b) => b.uniqueClicks - a.uniqueClicks || b.clicks - a.clicks || (a.url < b.url ? -1 : 1))
    .slice(0, linkLimit);
  return { sentPerMinute: series('sent_per_minute'), opensPerHour: series('opened_per_hour'), clicksPerHour: series('clicked_per_hour'), topLinks };
}
