import { sql, type Kysely } from 'kysely';

// A campaign's audience (docs/audience.md): the union of its included lists, minus the
// members of its excluded lists, filtered by a segment (a saved one, or ad-hoc text), fixed
// when the campaign first starts. campaigns.list_id stays: it is the first included list, for
// the readers that show one list name.
//
// campaign_audience holds the recipient ids fixed at the start, and the claim walks it by
// keyset as it walked list_members before. It has no foreign keys: a snapshot inserts a
// million rows at once, and a foreign-key check per row would cost more than the insert
// itself; the claim joins recipients, so an erased recipient is never claimed, and
// purge-details deletes a campaign's rows.
//
// Campaigns that are already running or paused carry on with the part of their list they had
// not claimed yet (ids past claim_cursor); their audience size is what they had claimed (the
// kept counts, which survive purge-details) plus that part.
export async function up(db: Kysely<unknown>): Promise<void> {
  // One statement per call: the embedded driver uses prepared statements, which take one command.
  for (const statement of [
    sql`
      create table segments (
        id bigserial primary key,
        name text not null unique,
        expression text not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )
    `,
    sql`
      create table campaign_lists (
        campaign_id bigint not null references campaigns (id) on delete cascade,
        list_id bigint not null references lists (id),
        role text not null check (role in ('include', 'exclude')),
        primary key (campaign_id, list_id)
      )
    `,
    sql`create index campaign_lists_list on campaign_lists (list_id)`,
    // segment_id is restricted, not set null: a draft must never lose its segment and go to
    // everyone. Removing a segment detaches it from the campaigns that already fixed their
    // audience (their where_text keeps the expression they used) and refuses otherwise.
    sql`
      alter table campaigns
        add column segment_id bigint references segments (id),
        add column where_text text,
        add column audience_size bigint
    `,
    sql`create index campaigns_segment on campaigns (segment_id) where segment_id is not null`,
    sql`
      create table campaign_audience (
        campaign_id bigint not null,
        recipient_id bigint not null,
        primary key (campaign_id, recipient_id)
      )
    `,
    sql`insert into campaign_lists (campaign_id, list_id, role) select id, list_id, 'include' from campaigns`,
    sql`
      insert into campaign_audience (campaign_id, recipient_id)
      select c.id, m.recipient_id
      from campaigns c join list_members m on m.list_id = c.list_id and m.recipient_id > c.claim_cursor
      where c.started_at is not null and c.status in ('running', 'paused') and not c.list_exhausted
    `,
    sql`
      update campaigns c set audience_size =
        coalesce((
          select sum(n) from (
            select n from delivery_counts k
            where k.campaign_id = c.id and k.status in ('pending', 'queued', 'sent', 'failed', 'suppressed', 'unknown', 'skipped')
            union all
            select n from delivery_count_changes k
            where k.campaign_id = c.id and k.status in ('pending', 'queued', 'sent', 'failed', 'suppressed', 'unknown', 'skipped')
          ) kept
        ), 0)
        + (select count(*) from campaign_audience a where a.campaign_id = c.id)
      where c.started_at is not null
    `,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`drop table campaign_audience`,
    sql`alter table campaigns drop column audience_size, drop column where_text, drop column segment_id`,
    sql`drop table campaign_lists`,
    sql`drop table segments`,
  ]) {
    await statement.execute(db);
  }
}
