import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { generatedOnce } from '../generatedSetting.js';

const KEY = 'erasure_key';

/**
 * The key erased addresses are hashed under (domain/erasure.ts): generated once per
 * installation, kept in settings. `create: false` reads it only, for a lookup (no key yet: nothing was erased).
 */
export async function erasureKey(db: Kysely<Database>): Promise<string>;
export async function erasureKey(db: Kysely<Database>, options: { create: false }): Promise<string | undefined>;
export async function erasureKey(db: Kysely<Database>, options: { create: boolean } = { create: true }): Promise<string | undefined> {
  if (options.create) return generatedOnce(db, KEY, () => randomBytes(32).toString('base64url'));
  return (await db.selectFrom('settings').select('value').where('key', '=', KEY).executeTakeFirst())?.value;
}
