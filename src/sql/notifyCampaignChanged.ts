import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Workers LISTEN here; the payload is the campaign id. */
export const CAMPAIGN_CHANNEL = 'herald_campaign';

export async function notifyCampaignChanged(db: Kysely<Database>, id: number): Promise<void> {
  await sql`select pg_notify(${CAMPAIGN_CHANNEL}, ${String(id)})`.execute(db);
}
