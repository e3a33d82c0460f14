import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { emailKey } from '../domain/email.js';

export async function removeSuppression(db: Kysely<Database>, email: string): Promise<boolean> {
  const result = await db.deleteFrom('suppressions').where('email', '=', emailKey(email)).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}
