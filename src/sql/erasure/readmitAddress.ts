import { sql, type Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../../db/schema.js';

/** Forgets that an address was erased; returns the suppression it carried, or undefined when it was not erased. */
export async function readmitAddress(db: Kysely<Database>, hash: string): Promise<{ suppressionReason: SuppressionReason | null } | undefined> {
  const rows = await sql<{ suppression_reason: SuppressionReason | null }>`
    delete from erased_addresses where address_hash = ${hash} returning suppression_reason
  `.execute(db);
  const r = rows.rows[0];
  return r && { suppressionReason: r.suppression_reason };
}
