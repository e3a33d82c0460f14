import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export async function findListId(db: Kysely<Database>, name: string): Promise<number | undefined> {
  return (await db.selectFrom('lists').select('id').where('name', '=', name).executeTakeFirst())?.id;
}
