import { sql, type Kysely } from 'kysely';
import type { Database, NewCampaign } from '../db/schema.js';
import { insertCampaignLists, type CampaignAudienceLists } from './insertCampaign.js';

/**
 * Rewrites a draft's settings and the lists it includes and excludes, in one transaction, only
 * while it is still a draft: a start racing the edit either waits for it (and fixes the edited
 * audience) or wins, and then nothing is written. Returns false when it was not a draft.
 */
export async function updateDraftCampaign(
  db: Kysely<Database>,
  id: number,
  values: Omit<NewCampaign, 'status' | 'scheduled_at' | 'started_at' | 'finished_at'>,
  audience: CampaignAudienceLists,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('campaigns')
      .set({ ...values, updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('status', '=', 'draft')
      .returning('id')
      .executeTakeFirst();
    if (!row) return false;
    await trx.deleteFrom('campaign_lists').where('campaign_id', '=', id).execute();
    await insertCampaignLists(trx, id, audience);
    return true;
  });
}
