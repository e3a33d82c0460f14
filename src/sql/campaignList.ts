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

/** The newest campaigns with their sent / failed counts, for the dashboard and the API. */
export async function listCampaigns(db: Kysely<Database>, limit: number): Promise<CampaignSummary[]> {
  const rows = await sql<CampaignSummary>`
    select c.id, c.name, c.status, l.name as "listName",
      (select count(*) from list_members m where m.list_id = c.list_id)::int as "listSize",
      (select count(*) from deliveries d where d.campaign_id = c.id and d.status = 'sent')::int as sent,
      (select count(*) from deliveries d where d.campaign_id = c.id and d.status = 'failed')::int as failed,
      c.created_at as "createdAt", c.started_at as "startedAt", c.finished_at as "finishedAt",
      case when c.status = 'running' then c.waiting_reason end as "waitingReason"
    from campaigns c join lists l on l.id = c.list_id
    order by c.id desc
    limit ${limit}
  `.execute(db);
  return rows.rows;
}
