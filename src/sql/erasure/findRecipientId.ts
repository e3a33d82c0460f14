import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { emailKey } from '../../domain/email.js';

/** The id of the recipient with this address (any case), if there is one. */
export async function findRecipientId(db: Kysely<Database>, email: string): Promise<number | undefined> {
  const row = await sql<{ id: number }>`select id from recipients where lower(email) = ${emailKey(email)}`.execute(db);
  return row.rows[0]?.id;
}
