import { sql, type Kysely } from 'kysely';

// The audit trail of earlier outcomes: when failed deliveries are re-queued (retry-failed),
// their previous result is kept here before the row is reset.
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`
      create table delivery_attempts (
        id bigserial primary key,
        campaign_id bigint not null,
        recipient_id bigint not null,
        status text not null,
        attempts integer not null,
        provider_id text,
        error_code text,
        error_message text,
        sent_at timestamptz,
        recorded_at timestamptz not null default now(),
        foreign key (campaign_id, recipient_id) references deliveries (campaign_id, recipient_id) on delete cascade
      )
    `,
    sql`create index delivery_attempts_delivery on delivery_attempts (campaign_id, recipient_id)`,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table delivery_attempts`.execute(db);
}
