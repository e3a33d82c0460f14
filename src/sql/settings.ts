import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

const UNSUBSCRIBE_SECRET = 'unsubscribe_secret';

/**
 * The key that signs unsubscribe links: HERALD_SECRET when set, otherwise one generated
 * once and kept in the database, so every worker and `herald serve` agree on it.
 */
export async function unsubscribeSecret(db: Kysely<Database>, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  await db
    .insertInto('settings')
    .values({ key: UNSUBSCRIBE_SECRET, value: randomBytes(32).toString('base64url') })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.selectFrom('settings').select('value').where('key', '=', UNSUBSCRIBE_SECRET).executeTakeFirstOrThrow();
  return row.value;
}
