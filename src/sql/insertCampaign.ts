import type { Kysely } from 'kysely';
import type { Database, NewCampaign } from '../db/schema.js';

/**
 * Stores a campaign, and with `audience` the lists it includes and excludes (docs/audience.md),
 * in one transaction. Without it the campaign sends to its list_id.
 */
export async function insertCampaign(db: Kysely<Database>, values: NewCampaign, audience?: CampaignAudienceLists): Promise<number> {
  if (!audience) {
    const row = await db.insertInto('campaigns').values(values).returning('id').executeTakeFirstOrThrow();
    return row.id;
  }
  return db.transaction().execute(async (trx) => {
    const { id } = await trx.insertInto('campaigns').values(values).returning('id').executeTakeFirstOrThrow();
    await insertCampaignLists(trx, id, audience);
    return id;
  });
}

/** The lists a campaign sends to and those it leaves out, by id. */
export interface CampaignAudienceLists {
  include: readonly number[];
  exclude: readonly number[];
}

/** A campaign's rows in campaign_lists; also used by updateDraftCampaign, which rewrites them. */
export async function insertCampaignLists(trx: Kysely<Database>, id: number, audience: CampaignAudienceLists): Promise<void> {
  const rows = [
    ...audience.include.map((list_id) => ({ campaign_id: id, list_id, role: 'include' as const })),
    ...audience.exclude.map((list_id) => ({ campaign_id: id, list_id, role: 'exclude' as const })),
  ];
  if (rows.length > 0) await trx.insertInto('campaign_lists').values(rows).execute();
}
