import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { generatedOnce } from './generatedSetting.js';

/**
 * Names this installation (this database) in places it shares with others: the limiter ids
 * in Redis, so staging and production on one Redis never share a rate limit.
 */
export function installationId(db: Kysely<Database>): Promise<string> {
  return generatedOnce(db, 'installation_id', () => randomBytes(6).toString('hex'));
}
