import { sql, type Kysely } from 'kysely';

// Sending domains with their own limits, and the per-day counter that makes a daily cap hold
// across campaigns and workers. Campaigns name the domain they send from; waiting_reason /
// waiting_until say why a running campaign is not sending (a reached daily cap).
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`
      create table sending_domains (
        name text primary key,
        rate_per_second integer check (rate_per_second > 0),
        max_concurrency integer check (max_concurrency > 0),
        daily_cap integer check (daily_cap >= 0),
        reset_hour smallint not null default 0 check (reset_hour between 0 and 23),
        time_zone text not null default 'UTC',
        warmup_start date,
        warmup_caps integer[],
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        check ((warmup_start is null) = (warmup_caps is null))
      )
    `,
    sql`
      create table domain_daily_usage (
        domain text not null references sending_domains (name) on delete cascade,
        day date not null,
        used integer not null default 0 check (used >= 0),
        primary key (domain, day)
      )
    `,
    sql`alter table campaigns add column sending_domain text`,
    sql`alter table campaigns add column waiting_reason text`,
    sql`alter table campaigns add column waiting_until timestamptz`,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table campaigns drop column waiting_until`.execute(db);
  await sql`alter table campaigns drop column waiting_reason`.execute(db);
  await sql`alter table campaigns drop column sending_domain`.execute(db);
  await sql`drop table domain_daily_usage`.execute(db);
  await sql`drop table sending_domains`.execute(db);
}
