import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export async function listLists(db: Kysely<Database>): Promise<Array<{ id: number; name: string; members: number }>> {
  const rows = await sql<{ id: number; name: string; members: number }>`
    select l.id, l.name, (select count(*) from list_members m where m.list_id = l.id) as members
    from lists l order by l.name
  `.execute(db);
  return rows.rows;
}
