import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { notifyCampaignChanged } from './notifyCampaignChanged.js';

/**
 * A running campaign pauses itself: the provider refused the account or domain, which no
 * retry and no other recipient can fix. Returns false when it was no longer running.
 */
export async function pauseCampaignFor(db: Kysely<Database>, id: number, reason: string): Promise<boolean> {
  const result = await sql`
    update campaigns set status = 'paused', paused_reason = ${reason}, updated_at = now()
    where id = ${id} and status = 'running'
  `.execute(db);
  const paused = Number(result.numAffectedRows ?? 0) === 1;
  if (paused) await notifyCampaignChanged(db, id);
  return paused;
}
