import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Every list with its size (kept on the list row, migration 0008). */
export async function listLists(db: Kysely<Database>): Promise<Array<{ id: number; name: string; members: number }>> {
  const rows = await sql<{ id: number; name: string; members: number }>`
    select id, name, member_count as members from lists order by name
  `.execute(db);
  return rows.rows.map((r) => ({ ...r, members: Number(r.members) }));
}
