import { sql, type Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../../db/schema.js';

/**
 * Remembers an erased address by its hash, with the suppression it had (if any): an address
 * erased again keeps its first suppression, and the latest tombstone.
 */
export async function recordErasedAddress(
  db: Kysely<Database>,
  entry: { hash: string; recipientId: number | null; at: Date; suppression: { reason: SuppressionReason; at: Date } | null },
): Promise<void> {
  await sql`
    insert into erased_addresses (address_hash, recipient_id, erased_at, suppression_reason, suppressed_at)
    values (${entry.hash}, ${entry.recipientId}, ${entry.at}, ${entry.suppression?.reason ?? null}, ${entry.suppression?.at ?? null})
    on conflict (address_hash) do update set
      recipient_id = coalesce(excluded.recipient_id, erased_addresses.recipient_id),
      erased_at = excluded.erased_at,
      suppression_reason = coalesce(erased_addresses.suppression_reason, excluded.suppression_reason),
      suppressed_at = coalesce(erased_addresses.suppressed_at, excluded.suppressed_at)
  `.execute(db);
}
