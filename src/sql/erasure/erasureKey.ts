import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { generatedOnce } from '../generatedSetting.js';

/** The key erased addresses are hashed under (domain/erasure.ts): generated once per installation, kept in settings. */
export async function erasureKey(db: Kysely<Database>): Promise<string> {
  return generatedOnce(db, 'erasure_key', () => randomBytes(32).toString('base64url'));
}
