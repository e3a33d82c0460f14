import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Marks a finished or cancelled campaign's per-recipient rows as purged (from now on reports
 * and retry-failed refuse it, and doctor leaves its counts alone). Keeps the first time when it
 * was marked already (a purge that was interrupted and is run again). Null when the campaign
 * is in another state.
 */
export async function markDetailsPurged(db: Kysely<Database>, campaignId: number): Promise<Date | null> {
  const row = await sql<{ at: Date }>`
    update campaigns set details_purged_at = coalesce(details_purged_at, now()), updated_at = now()
    where id = ${campaignId} and status in ('finished', 'cancelled')
    returning details_purged_at as at
  `.execute(db);
  return row.rows[0]?.at ?? null;
}
