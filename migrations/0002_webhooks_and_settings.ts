import { sql, type Kysely } from 'kysely';

// Provider events (webhooks) linked to their delivery, the replay guard for webhook tokens,
// and settings Herald generates itself (the unsubscribe signing secret when none is set).
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`
      create table settings (
        key text primary key,
        value text not null,
        created_at timestamptz not null default now()
      )
    `,
    sql`
      create table webhook_tokens (
        token text primary key,
        seen_at timestamptz not null default now()
      )
    `,
    sql`
      create table delivery_events (
        id text primary key,
        campaign_id bigint not null,
        recipient_id bigint not null,
        event text not null,
        severity text,
        reason text,
        occurred_at timestamptz not null,
        payload jsonb not null,
        received_at timestamptz not null default now(),
        foreign key (campaign_id, recipient_id) references deliveries (campaign_id, recipient_id) on delete cascade
      )
    `,
    sql`create index delivery_events_delivery on delivery_events (campaign_id, recipient_id)`,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['delivery_events', 'webhook_tokens', 'settings']) {
    await sql`drop table ${sql.table(table)}`.execute(db);
  }
}
