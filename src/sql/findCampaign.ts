import type { Kysely } from 'kysely';
import type { Campaign, Database } from '../db/schema.js';

export async function findCampaign(db: Kysely<Database>, id: number): Promise<Campaign | undefined> {
  return db.selectFrom('campaigns').selectAll().where('id', '=', id).executeTakeFirst();
}
