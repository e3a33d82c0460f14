import { sql, type Kysely } from 'kysely';

// The count trigger of provider events (0009) runs its statements through EXECUTE, planned
// each time with the table as it is. As static statements PL/pgSQL planned them once per
// connection and kept the plan until something invalidated it: a connection that first stored
// a click while `delivery_events` was small or freshly emptied kept a sequential scan of it for
// the unique-click check, run once per click of every later batch, however large the table
// grew, until a VACUUM or ANALYZE of the table came along (autovacuum, when it got to it). Planning the
// statement costs a fraction of a millisecond a batch.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
      create or replace function herald_count_event_changes() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          execute $q$
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, status, reason, sum(n) from (
            select campaign_id, event || '_per_hour' as status, to_char(date_trunc('hour', occurred_at at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:00"Z"') as reason, 1 as n
            from new_rows where event in ('opened', 'clicked')
            union all
            select campaign_id, 'link_clicks', url, 1 from new_rows where event = 'clicked' and url is not null
            union all
            select campaign_id, 'link_unique_clicks', url, 1 from (
              select distinct n.campaign_id, n.recipient_id, n.url from new_rows n
              where n.event = 'clicked' and n.url is not null
                and not exists (
                  select 1 from delivery_events e
                  where e.campaign_id = n.campaign_id and e.recipient_id = n.recipient_id and e.event = 'clicked' and e.url = n.url
                    and not exists (select 1 from new_rows x where x.id = e.id)
                )
            ) firsts
          ) changed group by 1, 2, 3
          $q$;
        elsif coalesce(current_setting('herald.keep_counts', true), '') <> 'on' then
          execute $q$
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, status, reason, -sum(n) from (
            select campaign_id, event || '_per_hour' as status, to_char(date_trunc('hour', occurred_at at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:00"Z"') as reason, 1 as n
            from old_rows where event in ('opened', 'clicked')
            union all
            select campaign_id, 'link_clicks', url, 1 from old_rows where event = 'clicked' and url is not null
            union all
            select campaign_id, 'link_unique_clicks', url, 1 from (
              select distinct o.campaign_id, o.recipient_id, o.url from old_rows o
              where o.event = 'clicked' and o.url is not null
                and not exists (
                  select 1 from delivery_events e
                  where e.campaign_id = o.campaign_id and e.recipient_id = o.recipient_id and e.event = 'clicked' and e.url = o.url
                )
            ) lasts
          ) changed group by 1, 2, 3
          $q$;
        end if;
        return null;
      end
      $$
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
      create or replace function herald_count_event_changes() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, status, reason, sum(n) from (
            select campaign_id, event || '_per_hour' as status, to_char(date_trunc('hour', occurred_at at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:00"Z"') as reason, 1 as n
            from new_rows where event in ('opened', 'clicked')
            union all
            select campaign_id, 'link_clicks', url, 1 from new_rows where event = 'clicked' and url is not null
            union all
            select campaign_id, 'link_unique_clicks', url, 1 from (
              select distinct n.campaign_id, n.recipient_id, n.url from new_rows n
              where n.event = 'clicked' and n.url is not null
                and not exists (
                  select 1 from delivery_events e
                  where e.campaign_id = n.campaign_id and e.recipient_id = n.recipient_id and e.event = 'clicked' and e.url = n.url
                    and not exists (select 1 from new_rows x where x.id = e.id)
                )
            ) firsts
          ) changed group by 1, 2, 3;
        elsif coalesce(current_setting('herald.keep_counts', true), '') <> 'on' then
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, status, reason, -sum(n) from (
            select campaign_id, event || '_per_hour' as status, to_char(date_trunc('hour', occurred_at at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:00"Z"') as reason, 1 as n
            from old_rows where event in ('opened', 'clicked')
            union all
            select campaign_id, 'link_clicks', url, 1 from old_rows where event = 'clicked' and url is not null
            union all
            select campaign_id, 'link_unique_clicks', url, 1 from (
              select distinct o.campaign_id, o.recipient_id, o.url from old_rows o
              where o.event = 'clicked' and o.url is not null
                and not exists (
                  select 1 from delivery_events e
                  where e.campaign_id = o.campaign_id and e.recipient_id = o.recipient_id and e.event = 'clicked' and e.url = o.url
                )
            ) lasts
          ) changed group by 1, 2, 3;
        end if;
        return null;
      end
      $$
  `.execute(db);
}
