import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export async function countListMembers(db: Kysely<Database>, listId: number): Promise<number> {
  const row = await sql<{ n: number }>`select count(*) as n from list_members where list_id = ${listId}`.execute(db);
  return row.rows[0]?.n ?? 0;
}
