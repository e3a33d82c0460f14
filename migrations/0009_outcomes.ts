import { sql, type Kysely } from 'kysely';

// What happened after the provider accepted a message (docs/operations.md, "Outcomes").
//
// - `delivery_outcomes`: one row per delivery that has had an event, folded from the events by
//   the pure rules of src/domain/outcome.ts (the `standing` column is computed there too).
// - `delivery_events` (from 0002) stores every event once by its provider id; `url` is the
//   link of a click. `unmatched_events` keeps events for deliveries Herald does not know.
// - `event_log_positions`: how far the provider's log has been read, per sending domain.
// - The kept counts of 0008 learn the funnel and the time series, in the same transactions:
//   status `outcome` (reason delivered / bounced_hard / bounced_soft / opened / clicked /
//   complained / unsubscribed: deliveries with that fact), `sent_per_minute` (reason the UTC
//   minute), `opened_per_hour` and `clicked_per_hour` (events per UTC hour), `link_clicks` and
//   `link_unique_clicks` (reason the URL).
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`
      create table delivery_outcomes (
        campaign_id bigint not null,
        recipient_id bigint not null,
        standing text not null check (standing in ('accepted', 'delivered', 'bounced_hard', 'bounced_soft')),
        delivered_at timestamptz,
        failure_severity text check (failure_severity in ('permanent', 'temporary')),
        failed_at timestamptz,
        failure_reason text,
        failure_code integer,
        failure_event text,
        first_open_at timestamptz,
        opens integer not null default 0,
        first_click_at timestamptz,
        clicks integer not null default 0,
        complained_at timestamptz,
        unsubscribed_at timestamptz,
        updated_at timestamptz not null default now(),
        primary key (campaign_id, recipient_id),
        foreign key (campaign_id, recipient_id) references deliveries (campaign_id, recipient_id) on delete cascade
      )
    `,
    sql`alter table delivery_events add column url text`,
    sql`
      create table unmatched_events (
        id text primary key,
        event text not null,
        delivery text,
        occurred_at timestamptz not null,
        received_at timestamptz not null default now(),
        source text not null,
        payload jsonb not null
      )
    `,
    sql`
      create table event_log_positions (
        domain text primary key,
        synced_until timestamptz not null,
        updated_at timestamptz not null default now()
      )
    `,
    // Sent per minute joins the delivery counts kept by 0008.
    sql`
      create or replace function herald_count_delivery_changes() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, status, reason, sum(n) from (
            select campaign_id, status, coalesce(error_code, '') as reason, 1 as n from new_rows
            union all
            select campaign_id, 'sent_per_minute', to_char(sent_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"'), 1
            from new_rows where status = 'sent' and sent_at is not null
          ) changed group by 1, 2, 3;
        elsif tg_op = 'UPDATE' then
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, status, reason, sum(n) from (
            select campaign_id, status, coalesce(error_code, '') as reason, 1 as n from new_rows
            union all
            select campaign_id, status, coalesce(error_code, ''), -1 from old_rows
            union all
            select campaign_id, 'sent_per_minute', to_char(sent_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"'), 1
            from new_rows where status = 'sent' and sent_at is not null
            union all
            select campaign_id, 'sent_per_minute', to_char(sent_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"'), -1
            from old_rows where status = 'sent' and sent_at is not null
          ) changed
          group by 1, 2, 3 having sum(n) <> 0;
        elsif coalesce(current_setting('herald.keep_counts', true), '') <> 'on' then
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, status, reason, -sum(n) from (
            select campaign_id, status, coalesce(error_code, '') as reason, 1 as n from old_rows
            union all
            select campaign_id, 'sent_per_minute', to_char(sent_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"'), 1
            from old_rows where status = 'sent' and sent_at is not null
          ) changed group by 1, 2, 3;
        end if;
        return null;
      end
      $$
    `,
    sql`
      insert into delivery_counts (campaign_id, status, reason, n)
      select campaign_id, 'sent_per_minute', to_char(sent_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"'), count(*)
      from deliveries where status = 'sent' and sent_at is not null group by 1, 2, 3
    `,
    // The funnel: each delivery counts once for each fact it has.
    sql`
      create function herald_count_outcome_changes() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, 'outcome', fact, sum(n) from (
            select o.campaign_id, f.fact, 1 as n from new_rows o
            cross join lateral (values
              (case when o.standing <> 'accepted' then o.standing end),
              (case when o.first_open_at is not null then 'opened' end),
              (case when o.first_click_at is not null then 'clicked' end),
              (case when o.complained_at is not null then 'complained' end),
              (case when o.unsubscribed_at is not null then 'unsubscribed' end)
            ) f(fact)
            where f.fact is not null
          ) changed group by 1, 2, 3;
        elsif tg_op = 'UPDATE' then
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, 'outcome', fact, sum(n) from (
            select o.campaign_id, f.fact, 1 as n from new_rows o
            cross join lateral (values
              (case when o.standing <> 'accepted' then o.standing end),
              (case when o.first_open_at is not null then 'opened' end),
              (case when o.first_click_at is not null then 'clicked' end),
              (case when o.complained_at is not null then 'complained' end),
              (case when o.unsubscribed_at is not null then 'unsubscribed' end)
            ) f(fact)
            where f.fact is not null
            union all
            select o.campaign_id, f.fact, -1 as n from old_rows o
            cross join lateral (values
              (case when o.standing <> 'accepted' then o.standing end),
              (case when o.first_open_at is not null then 'opened' end),
              (case when o.first_click_at is not null then 'clicked' end),
              (case when o.complained_at is not null then 'complained' end),
              (case when o.unsubscribed_at is not null then 'unsubscribed' end)
            ) f(fact)
            where f.fact is not null
          ) changed group by 1, 2, 3 having sum(n) <> 0;
        elsif coalesce(current_setting('herald.keep_counts', true), '') <> 'on' then
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, 'outcome', fact, sum(n) from (
            select o.campaign_id, f.fact, -1 as n from old_rows o
            cross join lateral (values
              (case when o.standing <> 'accepted' then o.standing end),
              (case when o.first_open_at is not null then 'opened' end),
              (case when o.first_click_at is not null then 'clicked' end),
              (case when o.complained_at is not null then 'complained' end),
              (case when o.unsubscribed_at is not null then 'unsubscribed' end)
            ) f(fact)
            where f.fact is not null
          ) changed group by 1, 2, 3;
        end if;
        return null;
      end
      $$
    `,
    sql`
      create trigger delivery_outcomes_count_insert after insert on delivery_outcomes
      referencing new table as new_rows for each statement execute function herald_count_outcome_changes()
    `,
    sql`
      create trigger delivery_outcomes_count_update after update on delivery_outcomes
      referencing old table as old_rows new table as new_rows for each statement execute function herald_count_outcome_changes()
    `,
    sql`
      create trigger delivery_outcomes_count_delete after delete on delivery_outcomes
      referencing old table as old_rows for each statement execute function herald_count_outcome_changes()
    `,
    // Opens and clicks per hour, and clicks per link, from the stored events. A click is a
    // unique click of its link when no earlier-stored click of the same delivery has that link
    // (ingestion holds the delivery's outcome row, so two clicks of one delivery never race).
    sql`
      create function herald_count_event_changes() returns trigger language plpgsql as $$
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
    `,
    sql`
      create trigger delivery_events_count_insert after insert on delivery_events
      referencing new table as new_rows for each statement execute function herald_count_event_changes()
    `,
    sql`
      create trigger delivery_events_count_delete after delete on delivery_events
      referencing old table as old_rows for each statement execute function herald_count_event_changes()
    `,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`drop table event_log_positions`,
    sql`drop table unmatched_events`,
    sql`alter table delivery_events drop column url`,
    sql`drop table delivery_outcomes`,
    sql`drop function herald_count_outcome_changes()`,
    sql`drop trigger delivery_events_count_insert on delivery_events`,
    sql`drop trigger delivery_events_count_delete on delivery_events`,
    sql`drop function herald_count_event_changes()`,
    sql`
      create or replace function herald_count_delivery_changes() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, status, coalesce(error_code, ''), count(*) from new_rows group by 1, 2, 3;
        elsif tg_op = 'UPDATE' then
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, status, reason, sum(n) from (
            select campaign_id, status, coalesce(error_code, '') as reason, 1 as n from new_rows
            union all
            select campaign_id, status, coalesce(error_code, ''), -1 from old_rows
          ) changed
          group by 1, 2, 3 having sum(n) <> 0;
        elsif coalesce(current_setting('herald.keep_counts', true), '') <> 'on' then
          insert into delivery_count_changes (campaign_id, status, reason, n)
          select campaign_id, status, coalesce(error_code, ''), -count(*) from old_rows group by 1, 2, 3;
        end if;
        return null;
      end
      $$
    `,
    sql`delete from delivery_counts where status not in ('pending', 'queued', 'sent', 'failed', 'suppressed', 'unknown', 'skipped')`,
    sql`delete from delivery_count_changes where status not in ('pending', 'queued', 'sent', 'failed', 'suppressed', 'unknown', 'skipped')`,
  ]) {
    await statement.execute(db);
  }
}
