import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { notifyCampaignChanged } from './notifyCampaignChanged.js';
import { snapshotAudience } from './snapshotAudience.js';
import { storeCampaignContent } from './storeCampaignContent.js';
import type { ContentSnapshot } from '../domain/content.js';

/**
 * Starts scheduled campaigns whose time has come, unless it came more than `graceMs` ago:
 * a schedule missed by that much (every worker was down) waits for an explicit start
 * rather than firing by surprise. Each starts in its own transaction that also fixes its
 * audience (docs/audience.md), so one whose segment no longer parses stays scheduled and is
 * reported in `failed` while the others start. `contentFor` makes each one's content from the
 * files before its transaction, which stores it (docs/architecture.md, "A campaign's
 * content"); a template that no longer makes one keeps the campaign scheduled, in `failed`.
 * Returns the started ids and the missed ones.
 */
export async function promoteDueCampaigns(
  db: Kysely<Database>,
  graceMs: number,
  contentFor?: (campaignId: number) => Promise<ContentSnapshot>,
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
      const content = contentFor ? await contentFor(id) : undefined;
      const moved = await db.transaction().execute(async (trx) => {
        const row = await sql<{ id: number }>`
          update campaigns set status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
          where id = ${id} and status = 'scheduled' and scheduled_at <= now()
          returning id
        `.execute(trx);
        if (row.rows.length === 0) return false;
        await snapshotAudience(trx, id, new Date());
        if (content) await storeCampaignContent(trx, id, content);
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
