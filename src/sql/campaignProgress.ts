import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface CampaignProgressRow {
  /**
   * The campaign's sent count a minute ago (or as long ago as its samples go), and how many
   * seconds ago that was; null before the first sample (sql/foldDeliveryCounts.ts).
   */
  sentBefore: { sent: number; secondsAgo: number } | null;
  /** Workers with open claims on the campaign, with how many each holds. */
  holders: Array<{ workerId: string; open: number; heartbeatAt: Date | null }>;
}

/** The parts of `campaign status` that are not plain counts. */
export async function campaignProgress(db: Kysely<Database>, campaignId: number): Promise<CampaignProgressRow> {
  const [sample, holders] = await Promise.all([
    sql<{ sent: number; seconds_ago: number }>`
      select sent, extract(epoch from now() - at)::float8 as seconds_ago from (
        (select sent, at from campaign_samples where campaign_id = ${campaignId} and at <= now() - interval '60 seconds' order by at desc limit 1)
        union all
        (select sent, at from campaign_samples where campaign_id = ${campaignId} order by at limit 1)
      ) s
      limit 1
    `.execute(db),
    // The open claims are few, and the partial index deliveries_queued holds just them.
    sql<{ worker_id: string; open: number; heartbeat_at: Date | null }>`
      select d.worker_id, count(*) as open, w.heartbeat_at
      from deliveries d left join workers w on w.id = d.worker_id
      where d.campaign_id = ${campaignId} and d.status = 'queued'
      group by d.worker_id, w.heartbeat_at
      order by d.worker_id
    `.execute(db),
  ]);
  const s = sample.rows[0];
  return {
    sentBefore: s ? { sent: Number(s.sent), secondsAgo: Number(s.seconds_ago) } : null,
    holders: holders.rows.map((h) => ({ workerId: h.worker_id, open: h.open, heartbeatAt: h.heartbeat_at })),
  };
}
