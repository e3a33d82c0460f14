import { sql, type Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../../db/schema.js';
import { emailKey } from '../../domain/email.js';

/** Deletes the address's suppression row; returns what it said, for the erased address's record. */
export async function takeSuppression(db: Kysely<Database>, email: string): Promise<{ reason: SuppressionReason; at: Date } | undefined> {
  const rows = await sql<{ reason: SuppressionReason; created_at: Date }>`
    delete from suppressions where email = ${emailKey(email)} returning reason, created_at
  `.execute(db);
  const r = rows.rows[0];
  return r && { reason: r.reason, at: r.created_at };
}
