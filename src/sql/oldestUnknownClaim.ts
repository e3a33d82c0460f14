import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** When the oldest still-unknown row of a campaign was claimed; null when there is none. */
export async function oldestUnknownClaim(db: Kysely<Database>, campaignId: number): Promise<Date | null> {
  const row = await sql<{ oldest: Date | null }>`
    select min(coalesce(claimed_at, 'epoch'::timestamptz)) as oldest from deliveries where campaign_id = ${campaignId} and status = 'unknown'
  `.execute(db);
  return row.rows[0]?.oldest ?? null;
}
