import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { generatedOnce } from './generatedSetting.js';

/**
 * The key that signs unsubscribe links: HERALD_SECRET when set, otherwise one generated
 * once and kept in the database, so every worker and `herald serve` agree on it.
 */
export async function unsubscribeSecret(db: Kysely<Database>, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  return generatedOnce(db, 'unsubscribe_secret', () => randomBytes(32).toString('base64url'));
}
