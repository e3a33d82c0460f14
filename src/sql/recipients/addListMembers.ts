import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/** Adds (list, recipient) pairs; returns the pairs that were not members yet (counts follow, migration 0008). */
export async function addListMembers(
  db: Kysely<Database>,
  pairs: ReadonlyArray<{ listId: number; recipientId: number }>,
): Promise<Array<{ listId: number; recipientId: number }>> {
  if (pairs.length === 0) return [];
  const rows = await sql<{ list_id: number; recipient_id: number }>`
    insert into list_members (list_id, recipient_id)
    select * from unnest(${pairs.map((p) => p.listId)}::bigint[], ${pairs.map((p) => p.recipientId)}::bigint[])
    on conflict do nothing
    returning list_id, recipient_id
  `.execute(db);
  return rows.rows.map((r) => ({ listId: r.list_id, recipientId: r.recipient_id }));
}
