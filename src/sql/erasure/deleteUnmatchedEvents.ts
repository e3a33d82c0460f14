import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/**
 * Provider events kept aside for deliveries Herald does not know are linked to no recipient,
 * so those naming the address anywhere in their payload go (a scan of a table that holds only
 * the odd stray event). Returns how many.
 */
export async function deleteUnmatchedEvents(db: Kysely<Database>, pattern: string): Promise<number> {
  const result = await sql`delete from unmatched_events where payload::text ~* ${pattern}`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
