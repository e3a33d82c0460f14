import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { emailKey } from '../domain/email.js';
import type { ClaimedRecipient } from './claimBatch.js';

export async function findRecipientByEmail(db: Kysely<Database>, email: string): Promise<ClaimedRecipient | undefined> {
  const r = await db
    .selectFrom('recipients')
    .select(['id', 'email', 'name', 'attributes'])
    .where((eb) => eb(eb.fn('lower', ['email']), '=', emailKey(email)))
    .executeTakeFirst();
  return r && { recipientId: r.id, email: r.email, name: r.name, attributes: r.attributes };
}
