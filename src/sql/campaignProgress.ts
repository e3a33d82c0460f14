import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { countListMembers } from './countListMembers.js';

export interface CampaignProgressRow {
  listSize: number;
  sentLastMinute: number;
  /** Workers with open claims on the campaign, with how many each holds. */
  holders: Array<{ workerId: string; open: number; heartbeatAt: Date | null }>;
}

/** The parts of `campaign status` that are not plain counts. */
export async function campaignProgress(db: Kysely<Database>, campaignId: number, listId: number): Promise<CampaignProgressRow> {
  const [size, recent, holders] = await Promise.all([
    countListMembers(db, listId),
    sql<{ n: number }>`
      select count(*) as n from deliveries
      where campaign_id = ${campaignId} and sent_at is not null and sent_at > now() - interval '60 seconds'
    `.execute(db),
    sql<{ worker_id: string; open: number; heartbeat_at: Date | null }>`
      select d.worker_id, count(*) as open, w.heartbeat_at
      from deliveries d left join workers w on w.id = d.worker_id
      where d.campaign_id = ${campaignId} and d.status = 'queued'
      group by d.worker_id, w.heartbeat_at
      order by d.worker_id
    `.execute(db),
  ]);
  return {
    listSize: size,
    sentLastMinute: recent.rows[0]?.n ?? 0,
    holders: holders.rows.map((h) => ({ workerId: h.worker_id, open: h.open, heartbeatAt: h.heartbeat_at })),
  };
}
