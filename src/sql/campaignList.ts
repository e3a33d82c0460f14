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
  /** The funnel after acceptance (sent is "accepted"). */
  delivered: number;
  opened: number;
  clicked: number;
  bounced: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  waitingReason: string | null;
}

/**
 * The newest campaigns with their counts and funnel, for the dashboard and the API: the page of
 * campaigns by primary key, then their kept counts (migrations 0008, 0009) by key in one pass.
 */
export async function listCampaigns(db: Kysely<Database>, limit: number): Promise<CampaignSummary[]> {
  const rows = await sql<CampaignSummary>`
    with page as (
      select c.id, c.name, c.status, l.name as list_name, l.member_count, c.created_at, c.started_at, c.finished_at,
        case when c.status = 'running' then c.waiting_reason end as waiting_reason
      from campaigns c join lists l on l.id = c.list_id
      order by c.id desc
      limit ${limit}
    ), kept as (
      select campaign_id, status, reason, n from delivery_counts
      where campaign_id = any(array(select id from page)) and status in ('sent', 'failed', 'outcome')
      union all
      select campaign_id, status, reason, n from delivery_count_changes
      where campaign_id = any(array(select id from page)) and status in ('sent', 'failed', 'outcome')
    ), sums as (
      select campaign_id,
        coalesce(sum(n) filter (where status = 'sent'), 0)::int as sent,
        coalesce(sum(n) filter (where status = 'failed'), 0)::int as failed,
        coalesce(sum(n) filter (where status = 'outcome' and reason = 'delivered'), 0)::int as delivered,
        coalesce(sum(n) filter (where status = 'outcome' and reason = 'opened'), 0)::int as opened,
        coalesce(sum(n) filter (where status = 'outcome' and reason = 'clicked'), 0)::int as clicked,
        coalesce(sum(n) filter (where status = 'outcome' and reason in ('bounced_hard', 'bounced_soft')), 0)::int as bounced
      from kept group by campaign_id
    )
    select p.id, p.name, p.status, p.list_name as "listName", p.member_count::int as "listSize",
      coalesce(s.sent, 0) as sent, coalesce(s.failed, 0) as failed, coalesce(s.delivered, 0) as delivered,
      coalesce(s.opened, 0) as opened, coalesce(s.clicked, 0) as clicked, coalesce(s.bounced, 0) as bounced,
      p.created_at as "createdAt", p.started_at as "startedAt", p.finished_at as "finishedAt", p.waiting_reason as "waitingReason"
    from page p left join sums s on s.campaign_id = p.id
    order by p.id desc
  `.execute(db);
  return rows.rows;
}
