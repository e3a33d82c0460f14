import type { Kysely } from 'kysely';
import type { Campaign, Database } from '../db/schema.js';

export async function runningCampaigns(db: Kysely<Database>): Promise<Campaign[]> {
  return db.selectFrom('campaigns').selectAll().where('status', '=', 'running').orderBy('priority', 'desc').orderBy('id').execute();
}
