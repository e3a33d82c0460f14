import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { emailKey } from '../../domain/email.js';

/** Takes the recipient with this address out of the list; false when they were not in it. */
export async function removeListMember(db: Kysely<Database>, listId: number, email: string): Promise<boolean> {
  const rows = await sql`
    delete from list_members m using recipients r
    where m.list_id = ${listId} and m.recipient_id = r.id and lower(r.email) = ${emailKey(email)}
    returning m.recipient_id
  `.execute(db);
  return rows.rows.length > 0;
}
