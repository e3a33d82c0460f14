import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ClaimedRecipient } from './claimBatch.js';

/** One keyset page of a list's members, read-only (no claim): for dry runs and samples. */
export async function listPage(db: Kysely<Database>, listId: number, afterRecipientId: number, limit: number): Promise<ClaimedRecipient[]> {
  const rows = await db
    .selectFrom('list_members as m')
    .innerJoin('recipients as r', 'r.id', 'm.recipient_id')
    .select(['r.id', 'r.email', 'r.name', 'r.attributes'])
    .where('m.list_id', '=', listId)
    .where('m.recipient_id', '>', afterRecipientId)
    .orderBy('m.recipient_id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ recipientId: r.id, email: r.email, name: r.name, attributes: r.attributes }));
}
