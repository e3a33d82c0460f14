import type { Kysely } from 'kysely';
import type { Database, SendingDomain } from '../db/schema.js';

/** Every registered sending domain, by name. */
export async function listSendingDomains(db: Kysely<Database>): Promise<SendingDomain[]> {
  return db.selectFrom('sending_domains').selectAll().orderBy('name').execute();
}
