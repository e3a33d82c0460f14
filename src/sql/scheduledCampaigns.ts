import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { notifyCampaignChanged } from './notifyCampaignChanged.js';

/**
 * Starts scheduled campaigns whose time has come, unless it came more than `graceMs` ago:
 * a schedule missed by that much (every worker was down) waits for an explicit start
 * rather than firing by surprise. Returns the started ids and the missed ones.
 */
export async function promoteDueCampaigns(db: Kysely<Database>, graceMs: number): Promise<{ started: number[]; missed: number[] }> {
  const started = await sql<{ id: number }>`
    update campaigns set status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
    where status = 'scheduled' and scheduled_at <= now()
      and scheduled_at > now() - make_interval(secs => ${graceMs / 1000})
    returning id
  `.execute(db);
  for (const { id } of started.rows) await notifyCampaignChanged(db, id);
  const missed = await sql<{ id: number }>`
    select id from campaigns
    where status = 'scheduled' and scheduled_at <= now() - make_interval(secs => ${graceMs / 1000})
  `.execute(db);
  return { started: started.rows.map((r) => r.id), missed: missed.rows.map((r) => r.id) };
}
