import { sql, type Kysely } from 'kysely';

// "What happened to this address?" looks deliveries up by recipient across campaigns; the
// primary key (campaign_id, recipient_id) cannot serve that.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index deliveries_recipient on deliveries (recipient_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index deliveries_recipient`.execute(db);
}
