import { sql, type Kysely } from 'kysely';
import type { CampaignStatus, Database } from '../db/schema.js';

export interface CampaignSummary {
  id: number;
  name: string;
  status: CampaignStatus;
  listName: string;
  listSize: number;
  sent: number;
  failed: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  waitingReason: string | null;
}

/** The newest campaigns with their sent / failed counts (kept, migration 0008), for the dashboard and the API. */
export async function listCampaigns(db: Kysely<Database>, limit: number): Promise<CampaignSummary[]> {
  const rows = await sql<CampaignSummary>`
    select c.id, c.name, c.status, l.name as "listName",
      l.member_count::int as "listSize",
      (select coalesce(sum(n), 0) from delivery_counts k where k.campaign_id = c.id and k.status = 'sent')::int
        + (select coalesce(sum(n), 0) from delivery_count_changes k where k.campaign_id = c.id and k.status = 'sent')::int as sent,
      (select coalesce(sum(n), 0) from delivery_counts k where k.campaign_id = c.id and k.status = 'failed')::int
        + (select coalesce(sum(n), 0) from delivery_count_changes k where k.campaign_id = c.id and k.status = 'failed')::int as failed,
      c.created_at as "createdAt", c.started_at as "startedAt", c.finished_at as "finishedAt",
      case when c.status = 'running' then c.waiting_reason end as "waitingReason"
    from campaigns c join lists l on l.id = c.list_id
    order by c.id desc
    limit ${limit}
  `.execute(db);
  return rows.rows;
}
