import type { Kysely } from 'kysely';
import type { Database, NewCampaign } from '../db/schema.js';

export async function insertCampaign(db: Kysely<Database>, values: NewCampaign): Promise<number> {
  const row = await db.insertInto('campaigns').values(values).returning('id').executeTakeFirstOrThrow();
  return row.id;
}
