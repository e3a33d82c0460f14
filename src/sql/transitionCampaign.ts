import { sql, type Kysely } from 'kysely';
import type { Campaign, Database } from '../db/schema.js';
import { transitionFor, type CampaignAction } from '../domain/campaignState.js';
import { notifyCampaignChanged } from './notifyCampaignChanged.js';

/**
 * Moves a campaign along the state machine in one statement, so two operators racing
 * cannot both win. Returns the new row, or undefined when the move is not allowed now.
 */
export async function transitionCampaign(
  db: Kysely<Database>,
  id: number,
  action: CampaignAction,
  extra: { scheduledAt?: Date | null } = {},
): Promise<Campaign | undefined> {
  const { from, to } = transitionFor(action);
  const row = await db
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
  if (row) await notifyCampaignChanged(db, id);
  return row;
}
