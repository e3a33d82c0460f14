import { sql, type Kysely } from 'kysely';
import type { Database, SendingDomain } from '../db/schema.js';
import { domainKey } from '../domain/email.js';

/**
 * The registered domain of that name, whatever its case: a cap registered as `MG.example.com`
 * holds for campaigns sending through `mg.example.com` (rows from before names were
 * lower-cased on the way in are found too; the table has a handful of rows).
 */
export async function findSendingDomain(db: Kysely<Database>, name: string): Promise<SendingDomain | undefined> {
  return db.selectFrom('sending_domains').selectAll().where(sql`lower(name)`, '=', domainKey(name)).orderBy('name').executeTakeFirst();
}
