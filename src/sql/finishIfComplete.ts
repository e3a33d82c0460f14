import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { notifyCampaignChanged } from './notifyCampaignChanged.js';

/**
 * Marks a running campaign finished, but only when the list is exhausted and no delivery is
 * still open. This is the one place a campaign becomes finished.
 */
export async function finishIfComplete(db: Kysely<Database>, id: number): Promise<boolean> {
  const result = await sql`
    update campaigns set status = 'finished', finished_at = now(), updated_at = now()
    where id = ${id} and status = 'running' and list_exhausted
      -- One probe per open state, so each reads its own small partial index.
      and not exists (select 1 from deliveries where campaign_id = ${id} and status = 'pending')
      and not exists (select 1 from deliveries where campaign_id = ${id} and status = 'queued')
      and not exists (select 1 from deliveries where campaign_id = ${id} and status = 'unknown')
  `.execute(db);
  const finished = Number(result.numAffectedRows ?? 0) === 1;
  if (finished) await notifyCampaignChanged(db, id);
  return finished;
}
