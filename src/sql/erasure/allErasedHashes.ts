import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/**
 * Every erased address's hash, for an import to check its rows against in memory: erasures
 * are people who asked, so this stays small, and an import with none to check (the usual
 * case) computes no hash at all.
 */
export async function allErasedHashes(db: Kysely<Database>): Promise<Set<string>> {
  const rows = await sql<{ address_hash: string }>`select address_hash from erased_addresses`.execute(db);
  return new Set(rows.rows.map((r) => r.address_hash));
}
