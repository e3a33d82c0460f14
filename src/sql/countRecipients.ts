import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { countListMembers } from './countListMembers.js';

/** Recipients in a list, or all of them (not the tombstones of erased people). */
export async function countRecipients(db: Kysely<Database>, listId?: number): Promise<number> {
  if (listId !== undefined) return countListMembers(db, listId);
  const row = await sql<{ n: number }>`select count(*) as n from recipients where erased_at is null`.execute(db);
  return row.rows[0]?.n ?? 0;
}
