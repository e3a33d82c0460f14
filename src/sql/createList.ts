import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export async function createList(db: Kysely<Database>, name: string): Promise<number | null> {
  const row = await db
    .insertInto('lists')
    .values({ name })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id ?? null;
}
