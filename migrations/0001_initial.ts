import { sql, type Kysely } from 'kysely';

// The schema for the whole product. deliveries is the source of truth: one row per
// (campaign, recipient), claimed before sending, result written after.
export async function up(db: Kysely<unknown>): Promise<void> {
  // One statement per call: the embedded driver uses prepared statements, which take one command.
  for (const statement of [
    sql`
      create table lists (
        id bigserial primary key,
        name text not null unique,
        created_at timestamptz not null default now()
      )
    `,
    sql`
      create table recipients (
        id bigserial primary key,
        email text not null,
        name text,
        attributes jsonb not null default '{}'::jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )
    `,
    sql`
      create unique index recipients_email_lower_key on recipients (lower(email))
    `,
    sql`
      create table list_members (
        list_id bigint not null references lists (id) on delete cascade,
        recipient_id bigint not null references recipients (id) on delete cascade,
        created_at timestamptz not null default now(),
        primary key (list_id, recipient_id)
      )
    `,
    sql`
      create index list_members_recipient on list_members (recipient_id)
    `,
    sql`
      create table suppressions (
        email text primary key check (email = lower(email)),
        reason text not null check (reason in ('unsubscribed', 'bounced', 'complained', 'manual')),
        source text,
        campaign_id bigint,
        created_at timestamptz not null default now()
      )
    `,
    sql`
      create table campaigns (
        id bigserial primary key,
        name text not null,
        list_id bigint not null references lists (id),
        template text not null,
        subject text not null,
        from_address text not null,
        reply_to text,
        tags text[] not null default '{}',
        status text not null default 'draft'
          check (status in ('draft', 'scheduled', 'running', 'paused', 'cancelled', 'finished')),
        rate_per_second integer check (rate_per_second > 0),
        max_concurrency integer check (max_concurrency > 0),
        priority integer not null default 0,
        unknown_policy text not null default 'reconcile'
          check (unknown_policy in ('reconcile', 'resend', 'skip')),
        claim_cursor bigint not null default 0,
        list_exhausted boolean not null default false,
        scheduled_at timestamptz,
        created_at timestamptz not null default now(),
        started_at timestamptz,
        finished_at timestamptz,
        updated_at timestamptz not null default now()
      )
    `,
    sql`
      create index campaigns_status on campaigns (status)
    `,
    sql`
      create table workers (
        id text primary key,
        hostname text not null,
        pid integer not null,
        started_at timestamptz not null default now(),
        heartbeat_at timestamptz not null default now()
      )
    `,
    sql`
      create table deliveries (
        campaign_id bigint not null references campaigns (id) on delete cascade,
        recipient_id bigint not null references recipients (id),
        status text not null
          check (status in ('pending', 'queued', 'sent', 'failed', 'suppressed', 'unknown', 'skipped')),
        attempts integer not null default 0,
        provider_id text,
        error_code text,
        error_message text,
        worker_id text,
        claimed_at timestamptz,
        sent_at timestamptz,
        updated_at timestamptz not null default now(),
        primary key (campaign_id, recipient_id)
      )
    `,
    sql`
      create index deliveries_campaign_status on deliveries (campaign_id, status)
    `,
    sql`
      create index deliveries_open_by_worker on deliveries (worker_id) where status = 'queued'
    `,
    sql`
      create index deliveries_campaign_sent_at on deliveries (campaign_id, sent_at) where sent_at is not null
    `,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['deliveries', 'workers', 'campaigns', 'suppressions', 'list_members', 'recipients', 'lists']) {
    await sql`drop table ${sql.table(table)}`.execute(db);
  }
}
