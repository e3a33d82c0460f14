import { sql, type Kysely } from 'kysely';

// Why a campaign stopped or holds without an operator asking: `paused_reason` when the
// provider refused the account (a wrong API key, an unknown domain) and the campaign paused
// itself; `waiting_detail` beside the existing `waiting_reason` for a running campaign that
// holds its sending (a provider outage, an unreachable rate limiter). Resume clears them.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table campaigns add column paused_reason text, add column waiting_detail text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table campaigns drop column paused_reason, drop column waiting_detail`.execute(db);
}
