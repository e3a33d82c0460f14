import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { notifyCampaignChanged } from './notifyCampaignChanged.js';
import { snapshotAudience } from './snapshotAudience.js';

/**
 * Starts scheduled campaigns whose time has come, unless it came more than `graceMs` ago:
 * a schedule missed by that much (every worker was down) waits for an explicit start
 * rather than firing by surprise. Each starts in its own transaction that also fixes its
 * audience (docs/audience.md), so one whose segment no longer parses stays scheduled and is
 * reported in `failed` while the others start. Returns the started ids and the missed ones.
 */
export async function promoteDueCampaigns(
  db: Kysely<Database>,
  graceMs: number,
): Promise<{ started: number[]; missed: number[]; failed: Array<{ id: number; message: string }> }> {
  const due = await sql<{ id: number }>`
    select id from campaigns
    where status = 'scheduled' and scheduled_at <= now()
      and scheduled_at > now() - make_interval(secs => ${graceMs / 1000})
    order by id
  `.execute(db);
  const started: number[] = [];
  const failed: Array<{ id: number; message: string }> = [];
  for (const { id } of due.rows) {
    try {
      const moved = await db.transaction().execute(async (trx) => {
        const row = await sql<{ id: number }>`
          update campaigns set status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
          where id = ${id} and status = 'scheduled' and scheduled_at <= now()
          returning id
        `.execute(trx);
        if (row.rows.length === 0) return false;
        await snapshotAudience(trx, id, new Date());
        await notifyCampaignChanged(trx, id);
        return true;
      });
      if (moved) started.push(id);
    } catch (err) {
      failed.push({ id, message: (err as Error).message });
    }
  }
  const missed = await sql<{ id: number }>`
    select id from campaigns
    where status = 'scheduled' and scheduled_at <= now() - make_interval(secs => ${graceMs / 1000})
  `.execute(db);
  return { started, missed: missed.rows.map((r) => r.id), failed };
}
