import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface CountDifference {
  /** `campaign` rows are per status and reason; `list` rows are member counts. */
  kind: 'campaign' | 'list';
  id: number;
  status?: string;
  reason?: string;
  kept: number;
  actual: number;
}

/**
 * Counts the rows again and compares them with the kept counts (migrations 0008, 0009):
 * deliveries per campaign, status and reason, sent per minute, the outcome funnel, opens and
 * clicks per hour, clicks per link; and members per list. With `fix`, corrects each difference.
 *
 * Deliveries need no lock: one statement sees one snapshot of both the rows and their counts
 * (they are written in the same transactions), and a correction goes in as one more change
 * row, so writes committed meanwhile add to both sides alike. List sizes live on the list row,
 * so that part holds imports back (a share lock on list_members) while it counts. Campaigns
 * whose per-recipient rows were purged keep their counts and are not compared.
 */
export async function recountKeptCounts(db: Kysely<Database>, { fix }: { fix: boolean }): Promise<CountDifference[]> {
  return db.transaction().execute(async (trx) => {
    const diff = sql`
      with actual as (
        select campaign_id, status, coalesce(error_code, '') as reason, count(*)::bigint as n
        from deliveries group by 1, 2, 3
        union all
        select campaign_id, 'sent_per_minute', to_char(sent_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"'), count(*)
        from deliveries where status = 'sent' and sent_at is not null group by 1, 2, 3
        union all
        select o.campaign_id, 'outcome', f.fact, count(*)
        from delivery_outcomes o
        cross join lateral (values
          (case when o.standing <> 'accepted' then o.standing end),
          (case when o.first_open_at is not null then 'opened' end),
          (case when o.first_click_at is not null then 'clicked' end),
          (case when o.complained_at is not null then 'complained' end),
          (case when o.unsubscribed_at is not null then 'unsubscribed' end)
        ) f(fact)
        where f.fact is not null group by 1, 2, 3
        union all
        select campaign_id, event || '_per_hour', to_char(date_trunc('hour', occurred_at at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:00"Z"'), count(*)
        from delivery_events where event in ('opened', 'clicked') group by 1, 2, 3
        union all
        select campaign_id, 'link_clicks', url, count(*) from delivery_events where event = 'clicked' and url is not null group by 1, 2, 3
        union all
        select campaign_id, 'link_unique_clicks', url, count(distinct recipient_id)
        from delivery_events where event = 'clicked' and url is not null group by 1, 2, 3
      ), kept as (
        select campaign_id, status, reason, sum(n)::bigint as n from (
          select campaign_id, status, reason, n from delivery_counts
          union all
          select campaign_id, status, reason, n from delivery_count_changes
        ) k group by 1, 2, 3
      )
      select coalesce(a.campaign_id, k.campaign_id) as campaign_id, coalesce(a.status, k.status) as status,
             coalesce(a.reason, k.reason) as reason, coalesce(k.n, 0) as kept, coalesce(a.n, 0) as actual
      from actual a full join kept k on k.campaign_id = a.campaign_id and k.status = a.status and k.reason = a.reason
      where coalesce(k.n, 0) <> coalesce(a.n, 0)
        and not exists (
          select 1 from campaigns c where c.id = coalesce(a.campaign_id, k.campaign_id) and c.details_purged_at is not null
        )
    `;
    const deliveries = fix
      ? await sql<{ campaign_id: number; status: string; reason: string; kept: number; actual: number }>`
          with diff as (${diff}), corrected as (
            insert into delivery_count_changes (campaign_id, status, reason, n)
            select campaign_id, status, reason, actual - kept from diff
          )
          select * from diff order by campaign_id, status, reason
        `.execute(trx)
      : await sql<{ campaign_id: number; status: string; reason: string; kept: number; actual: number }>`
          ${diff} order by 1, 2, 3
        `.execute(trx);

    if (fix) await sql`lock table list_members in share mode`.execute(trx);
    const listDiff = sql`
      select l.id, l.member_count as kept, coalesce(m.n, 0)::bigint as actual
      from lists l left join (select list_id, count(*) as n from list_members group by list_id) m on m.list_id = l.id
      where l.member_count <> coalesce(m.n, 0)
    `;
    const lists = fix
      ? await sql<{ id: number; kept: number; actual: number }>`
          with diff as (${listDiff}), corrected as (
            update lists l set member_count = diff.actual from diff where l.id = diff.id
          )
          select * from diff order by id
        `.execute(trx)
      : await sql<{ id: number; kept: number; actual: number }>`${listDiff} order by 1`.execute(trx);

    return [
      ...deliveries.rows.map((r) => ({
        kind: 'campaign' as const,
        id: Number(r.campaign_id),
        status: r.status,
        reason: r.reason,
        kept: Number(r.kept),
        actual: Number(r.actual),
      })),
      ...lists.rows.map((r) => ({ kind: 'list' as const, id: Number(r.id), kept: Number(r.kept), actual: Number(r.actual) })),
    ];
  });
}
