import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export async function createList(db: Kysely<Database>, name: string): Promise<number | null> {
  const row = await db.insertInto('lists').values({ name }).onConflict((oc) => oc.column('name').doNothing()).returning('id').executeTakeFirst();
  return row?.id ?? null;
}

export async function findListId(db: Kysely<Database>, name: string): Promise<number | undefined> {
  return (await db.selectFrom('lists').select('id').where('name', '=', name).executeTakeFirst())?.id;
}

export async function listLists(db: Kysely<Database>): Promise<Array<{ id: number; name: string; members: number }>> {
  const rows = await sql<{ id: number; name: string; members: number }>`
    select l.id, l.name, (select count(*) from list_members m where m.list_id = l.id) as members
    from lists l order by l.name
  `.execute(db);
  return rows.rows;
}

export async function countRecipients(db: Kysely<Database>, listId?: number): Promise<number> {
  const row =
    listId === undefined
      ? await sql<{ n: number }>`select count(*) as n from recipients`.execute(db)
      : await sql<{ n: number }>`select count(*) as n from list_members where list_id = ${listId}`.execute(db);
  return row.rows[0]?.n ?? 0;
}
