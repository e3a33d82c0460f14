import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/** Renews the lease. False means another process declared this worker dead: stop sending. */
export async function heartbeat(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await sql`update workers set heartbeat_at = now() where id = ${id}`.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}
