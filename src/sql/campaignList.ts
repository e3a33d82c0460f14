import { sql, type Kysely } from 'kysely';
import type { CampaignStatus, Database } from '../db/schema.js';

export interface CampaignSummary {
  id: number;
  name: string;
  status: CampaignStatus;
  /** The first included list. */
  listName: string;
  /** The audience's size once fixed at the start; before it, the list's size when it is the whole audience, else 0. */
  listSize: number;
  /** The audience (docs/audience.md): included and excluded lists, segment name, where text, size once fixed. */
  lists: string[];
  excludeLists: string[];
  segment: string | null;
  where: string | null;
  audienceSize: number | null;
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
        case when c.status = 'running' then c.waiting_reason end as waiting_reason,
        c.audience_size, c.where_text, c.segment_id
      from campaigns c join lists l on l.id = c.list_id
      order by c.id desc
      limit ${limit}
    ), audiences as (
      select cl.campaign_id,
        array_agg(l.name order by l.name) filter (where cl.role = 'include') as lists,
        array_agg(l.name order by l.name) filter (where cl.role = 'exclude') as exclude_lists
      from campaign_lists cl join lists l on l.id = cl.list_id
      where cl.campaign_id = any(array(select id from page))
      group by cl.campaign_id
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
    select p.id, p.name, p.status, p.list_name as "listName",
      coalesce(p.audience_size, case when p.segment_id is null and p.where_text is null and coalesce(cardinality(a.lists), 1) = 1
        and a.exclude_lists is null then p.member_count else 0 end)::bigint as "listSize",
      coalesce(a.lists, array[p.list_name]) as lists, coalesce(a.exclude_lists, '{}') as "excludeLists",
      sg.name as segment, p.where_text as "where", p.audience_size as "audienceSize",
      coalesce(s.sent, 0) as sent, coalesce(s.failed, 0) as failed, coalesce(s.delivered, 0) as delivered,
      coalesce(s.opened, 0) as opened, coalesce(s.clicked, 0) as clicked, coalesce(s.bounced, 0) as bounced,
      p.created_at as "createdAt", p.started_at as "startedAt", p.finished_at as "finishedAt", p.waiting_reason as "waitingReason"
    from page p left join sums s on s.campaign_id = p.id
      left join audiences a on a.campaign_id = p.id
      left join segments sg on sg.id = p.segment_id
    order by p.id desc
  `.execute(db);
  return rows.rows;
}
