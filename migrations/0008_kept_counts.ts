import { sql, type Kysely } from 'kysely';

// Counts that are kept, not counted (docs/operations.md, "Kept counts"). Watching a campaign
// must not cost a scan of its deliveries, so the number of deliveries per campaign, status
// and reason, and the number of members per list, are maintained by statement-level triggers
// in the same transaction as every write to those rows: claims, results, releases,
// reconciliation, retry-failed, anything written by hand in psql. They cannot drift from the
// rows, whoever writes them.
//
// Delivery counts are kept as changes appended by each statement (insert-only: writers from
// many workers never wait on one another's counter rows, and no lock order between counter
// rows can deadlock) and folded into `delivery_counts` every few seconds by whichever process
// gets the fold lock (sql/foldDeliveryCounts.ts). A reader adds the folded counts and the few
// changes since the last fold in one statement, so it sees one consistent snapshot.
//
// List sizes change in imports only, a statement per batch for one list, so they are kept on
// the list row itself.
//
// `campaign_samples` keeps a campaign's sent count every few seconds while it runs, for the
// rate and ETA without reading recent deliveries.
//
// A purge of a finished campaign's per-recipient rows (campaign purge-details) deletes with
// `herald.keep_counts = on`, so the counts outlive the rows.
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`
      create table delivery_counts (
        campaign_id bigint not null,
        status text not null,
        reason text not null,
        n bigint not null,
        primary key (campaign_id, status, reason)
      )
    `,
    sql`
      create table delivery_count_changes (
        campaign_id bigint not null,
        status text not null,
        reason text not null,
        n bigint not null
      )
    `,
    sql`create index delivery_count_changes_campaign on delivery_count_changes (campaign_id, status)`,
    sql`
      create function herald_count_delivery_changes() returns trigger language plpgsql as $$
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
    sql`
      create trigger deliveries_count_insert after insert on deliveries
      referencing new table as new_rows for each statement execute function herald_count_delivery_changes()
    `,
    sql`
      create trigger deliveries_count_update after update on deliveries
      referencing old table as old_rows new table as new_rows for each statement execute function herald_count_delivery_changes()
    `,
    sql`
      create trigger deliveries_count_delete after delete on deliveries
      referencing old table as old_rows for each statement execute function herald_count_delivery_changes()
    `,
    // The rows already there, counted once, under the triggers' lock on deliveries.
    sql`
      insert into delivery_counts (campaign_id, status, reason, n)
      select campaign_id, status, coalesce(error_code, ''), count(*) from deliveries group by 1, 2, 3
    `,

    sql`alter table lists add column member_count bigint not null default 0`,
    sql`
      create function herald_count_list_members() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          update lists l set member_count = l.member_count + c.n
          from (select list_id, count(*) as n from new_rows group by list_id) c where l.id = c.list_id;
        elsif tg_op = 'DELETE' then
          update lists l set member_count = l.member_count - c.n
          from (select list_id, count(*) as n from old_rows group by list_id) c where l.id = c.list_id;
        else
          update lists l set member_count = l.member_count + c.n
          from (
            select list_id, sum(n) as n from (
              select list_id, 1 as n from new_rows union all select list_id, -1 from old_rows
            ) moved group by list_id having sum(n) <> 0
          ) c where l.id = c.list_id;
        end if;
        return null;
      end
      $$
    `,
    sql`
      create trigger list_members_count_insert after insert on list_members
      referencing new table as new_rows for each statement execute function herald_count_list_members()
    `,
    sql`
      create trigger list_members_count_update after update on list_members
      referencing old table as old_rows new table as new_rows for each statement execute function herald_count_list_members()
    `,
    sql`
      create trigger list_members_count_delete after delete on list_members
      referencing old table as old_rows for each statement execute function herald_count_list_members()
    `,
    sql`update lists l set member_count = (select count(*) from list_members m where m.list_id = l.id)`,

    sql`
      create table campaign_samples (
        campaign_id bigint not null,
        at timestamptz not null,
        sent bigint not null,
        primary key (campaign_id, at)
      )
    `,
    sql`alter table campaigns add column details_purged_at timestamptz`,
    // Its one reader was the rate over the last minute, now taken from campaign_samples; every
    // sent delivery paid an entry in it.
    sql`drop index deliveries_campaign_sent_at`,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`create index deliveries_campaign_sent_at on deliveries (campaign_id, sent_at) where sent_at is not null`,
    sql`alter table campaigns drop column details_purged_at`,
    sql`drop table campaign_samples`,
    sql`drop trigger list_members_count_insert on list_members`,
    sql`drop trigger list_members_count_update on list_members`,
    sql`drop trigger list_members_count_delete on list_members`,
    sql`drop function herald_count_list_members()`,
    sql`alter table lists drop column member_count`,
    sql`drop trigger deliveries_count_insert on deliveries`,
    sql`drop trigger deliveries_count_update on deliveries`,
    sql`drop trigger deliveries_count_delete on deliveries`,
    sql`drop function herald_count_delivery_changes()`,
    sql`drop table delivery_count_changes`,
    sql`drop table delivery_counts`,
  ]) {
    await statement.execute(db);
  }
}
