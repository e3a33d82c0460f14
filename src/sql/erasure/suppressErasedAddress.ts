import { sql, type Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../../db/schema.js';

/**
 * Suppresses an erased address by its hash (an unsubscribe link in an old message): true when
 * the address is erased, so no suppression row with the address is to be written.
 */
export async function suppressErasedAddress(db: Kysely<Database>, hash: string, reason: SuppressionReason): Promise<boolean> {
  const rows = await sql`
    update erased_addresses
    set suppression_reason = coalesce(suppression_reason, ${reason}), suppressed_at = coalesce(suppressed_at, now())
    where address_hash = ${hash}
    returning address_hash
  `.execute(db);
  return rows.rows.length > 0;
}
