import { sql, type Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../../db/schema.js';

export interface ErasedAddress {
  erasedAt: Date;
  suppressionReason: SuppressionReason | null;
}

/** Which of these address hashes belong to erased addresses. */
export async function findErasedAddresses(db: Kysely<Database>, hashes: readonly string[]): Promise<Map<string, ErasedAddress>> {
  if (hashes.length === 0) return new Map();
  const rows = await sql<{ address_hash: string; erased_at: Date; suppression_reason: SuppressionReason | null }>`
    select address_hash, erased_at, suppression_reason from erased_addresses where address_hash = any(${[...hashes]}::text[])
  `.execute(db);
  return new Map(rows.rows.map((r) => [r.address_hash, { erasedAt: r.erased_at, suppressionReason: r.suppression_reason }]));
}
