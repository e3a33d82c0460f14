import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/**
 * Every attribute name the list's members have, in code-point order (the same on every
 * database, whatever its collation): the export's header, read before its
 * rows so that no row has to be held to learn it. One pass over the members; Postgres keeps
 * only the distinct names.
 */
export async function listAttributeNames(db: Kysely<Database>, listId: number): Promise<string[]> {
  const rows = await sql<{ key: string }>`
    select distinct k.key collate "C" as key
    from list_members m
    join recipients r on r.id = m.recipient_id
    cross join lateral jsonb_object_keys(r.attributes) as k(key)
    where m.list_id = ${listId}
    order by 1
  `.execute(db);
  return rows.rows.map((r) => r.key);
}
