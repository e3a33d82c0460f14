import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** A value generated once per database and kept, so every process of the installation agrees on it. */
export async function generatedOnce(db: Kysely<Database>, key: string, make: () => string): Promise<string> {
  await db
    .insertInto('settings')
    .values({ key, value: make() })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
  return row.value;
}
