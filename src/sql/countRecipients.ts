import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { countListMembers } from './countListMembers.js';

export async function countRecipients(db: Kysely<Database>, listId?: number): Promise<number> {
  if (listId !== undefined) return countListMembers(db, listId);
  const row = await sql<{ n: number }>`select count(*) as n from recipients`.execute(db);
  return row.rows[0]?.n ?? 0;
}
