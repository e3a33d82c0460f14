import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { domainKey } from '../domain/email.js';
import { findSendingDomain } from './findSendingDomain.js';
import { domainColumns, type DomainSettings } from './sendingDomainSettings.js';

/** Registers a sending domain (by its lower-cased name); false when it exists already. */
export async function addSendingDomain(db: Kysely<Database>, name: string, settings: DomainSettings): Promise<boolean> {
  if (await findSendingDomain(db, name)) return false;
  const row = await db
    .insertInto('sending_domains')
    .values({ name: domainKey(name), ...domainColumns(settings) })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('name')
    .executeTakeFirst();
  return row !== undefined;
}
