import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { domainKey } from '../domain/email.js';
import { domainColumns, type DomainSettings } from './sendingDomainSettings.js';

/** Changes the given settings of a domain; false when there is no such domain. */
export async function updateSendingDomain(db: Kysely<Database>, name: string, settings: DomainSettings): Promise<boolean> {
  const result = await db
    .updateTable('sending_domains')
    .set({ ...domainColumns(settings), updated_at: sql<Date>`now()` })
    .where(sql`lower(name)`, '=', domainKey(name))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
