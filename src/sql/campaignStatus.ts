import type { Kysely } from 'kysely';
import type { CampaignStatus, Database } from '../db/schema.js';

export async function campaignStatus(db: Kysely<Database>, id: number): Promise<CampaignStatus | undefined> {
  const row = await db.selectFrom('campaigns').select('status').where('id', '=', id).executeTakeFirst();
  return row?.status;
}
