import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { ERASED_PREFIX } from '../../domain/erasure.js';

/**
 * Turns a recipient row into an anonymous tombstone (migration 0013): address, name and
 * attributes go, the id stays for the deliveries that reference it. The row is locked FOR
 * UPDATE first: a claim inserting a delivery for it holds a key-share lock on it (the
 * foreign key) until it commits, so an erasure waits for a claim in progress, and a claim
 * that comes after finds the tombstone. False when there is no such recipient left to erase.
 */
export async function tombstoneRecipient(db: Kysely<Database>, recipientId: number, at: Date): Promise<boolean> {
  const locked = await sql`select id from recipients where id = ${recipientId} and erased_at is null for update`.execute(db);
  if (locked.rows.length === 0) return false;
  await sql`
    update recipients
    set email = ${ERASED_PREFIX} || id::text, name = null, attributes = '{}'::jsonb, erased_at = ${at}, updated_at = now()
    where id = ${recipientId}
  `.execute(db);
  return true;
}
