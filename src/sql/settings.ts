import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

const UNSUBSCRIBE_SECRET = 'unsubscribe_secret';
const INSTALLATION_ID = 'installation_id';

/** A value generated once per database and kept, so every process of the installation agrees on it. */
async function generatedOnce(db: Kysely<Database>, key: string, make: () => string): Promise<string> {
  await db
    .insertInto('settings')
    .values({ key, value: make() })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
  return row.value;
}

/**
 * Names this installation (this database) in places it shares with others: the limiter ids
 * in Redis, so staging and production on one Redis never share a rate limit.
 */
export function installationId(db: Kysely<Database>): Promise<string> {
  return generatedOnce(db, INSTALLATION_ID, () => randomBytes(6).toString('hex'));
}

/**
 * The key that signs unsubscribe links: HERALD_SECRET when set, otherwise one generated
 * once and kept in the database, so every worker and `herald serve` agree on it.
 */
export async function unsubscribeSecret(db: Kysely<Database>, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  return generatedOnce(db, UNSUBSCRIBE_SECRET, () => randomBytes(32).toString('base64url'));
}
