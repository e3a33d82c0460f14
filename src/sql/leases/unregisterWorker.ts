import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export async function unregisterWorker(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('workers').where('id', '=', id).execute();
}
