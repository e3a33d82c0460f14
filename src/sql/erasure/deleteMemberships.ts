import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/** Takes the recipient out of every list (the member counts follow, migration 0008); returns the lists' names. */
export async function deleteMemberships(db: Kysely<Database>, recipientId: number): Promise<string[]> {
  const rows = await sql<{ name: string }>`
    with gone as (delete from list_members where recipient_id = ${recipientId} returning list_id)
    select l.name from gone join lists l on l.id = gone.list_id order by l.name
  `.execute(db);
  return rows.rows.map((r) => r.name);
}
