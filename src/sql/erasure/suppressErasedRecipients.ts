import { sql, type Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../../db/schema.js';

/**
 * A bounce, complaint or unsubscribe that arrives for an erased recipient (a late event, an
 * old unsubscribe link) cannot suppress the address, which is gone: it is kept on the erased
 * address's record instead, and comes back as a suppression if the address is readmitted.
 */
export async function suppressErasedRecipients(db: Kysely<Database>, recipientIds: readonly number[], reason: SuppressionReason): Promise<number> {
  if (recipientIds.length === 0) return 0;
  const result = await sql`
    update erased_addresses set suppression_reason = ${reason}, suppressed_at = now()
    where recipient_id = any(${[...recipientIds]}::bigint[]) and suppression_reason is null
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
