import { sql, type Kysely } from 'kysely';
import type { Campaign, Database } from '../db/schema.js';
import { transitionFor, type CampaignAction } from '../domain/campaignState.js';
import { notifyCampaignChanged } from './notifyCampaignChanged.js';
import { snapshotAudience } from './snapshotAudience.js';
import { storeCampaignContent } from './storeCampaignContent.js';
import type { ContentSnapshot } from '../domain/content.js';

/**
 * Moves a campaign along the state machine in one statement, so two operators racing
 * cannot both win. Returns the new row, or undefined when the move is not allowed now.
 *
 * A move to running fixes the audience in the same transaction when it is not fixed yet
 * (the first start; a campaign paused while scheduled starts later): workers see the
 * campaign running only with its audience in place, and a second start that lost the race
 * for the row finds nothing to do (docs/audience.md). Its content (`extra.content`, made from
 * the files by the caller) is stored in the same transaction unless it has some already: a
 * snapshot is never rewritten (docs/architecture.md, "A campaign's content").
 */
export async function transitionCampaign(
  db: Kysely<Database>,
  id: number,
  action: CampaignAction,
  extra: { scheduledAt?: Date | null; content?: ContentSnapshot } = {},
): Promise<Campaign | undefined> {
  const { from, to } = transitionFor(action);
  const move = async (trx: Kysely<Database>): Promise<Campaign | undefined> => {
    let row = await trx
      .updateTable('campaigns')
      .set((eb) => ({
        status: to,
        updated_at: sql<Date>`now()`,
        ...(action === 'start' || action === 'resume' ? { started_at: eb.fn.coalesce('started_at', sql<Date>`now()`) } : {}),
        ...(action === 'finish' ? { finished_at: sql<Date>`now()` } : {}),
        ...(action === 'schedule' ? { scheduled_at: extra.scheduledAt ?? null } : {}),
        // Whatever held the campaign is the operator's to judge again once they act on it.
        ...(action !== 'pause' ? { paused_reason: null, waiting_reason: null, waiting_until: null, waiting_detail: null } : {}),
      }))
      .where('id', '=', id)
      .where('status', 'in', from)
      .returningAll()
      .executeTakeFirst();
    if (row && to === 'running' && row.audience_size === null) {
      await snapshotAudience(trx, id, new Date());
      row = await trx.selectFrom('campaigns').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    }
    if (row && to === 'running' && extra.content) await storeCampaignContent(trx, id, extra.content);
    if (row) await notifyCampaignChanged(trx, id);
    return row;
  };
  if (to !== 'running' || db.isTransaction) return move(db);
  return db.transaction().execute(move);
}
