import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** A list's size, kept on its row by a trigger on list_members (migration 0008). */
export async function countListMembers(db: Kysely<Database>, listId: number): Promise<number> {
  const row = await sql<{ n: number }>`select member_count as n from lists where id = ${listId}`.execute(db);
  return Number(row.rows[0]?.n ?? 0);
}
