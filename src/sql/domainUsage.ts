import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Messages counted against a domain's cap on one cap day. */
export async function domainUsage(db: Kysely<Database>, name: string, day: string): Promise<number> {
  const row = await db.selectFrom('domain_daily_usage').select('used').where('domain', '=', name).where('day', '=', day).executeTakeFirst();
  return row?.used ?? 0;
}
