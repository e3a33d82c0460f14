import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Saves a segment; null when one of that name exists already. */
export async function insertSegment(db: Kysely<Database>, name: string, expression: string): Promise<number | null> {
  const row = await db
    .insertInto('segments')
    .values({ name, expression })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id ?? null;
}
