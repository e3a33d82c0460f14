import { sql } from 'kysely';
import type { SessionRunner } from './session.js';

/** Drops the staging session's tables (they would go with the session anyway). */
export async function dropImportTables(run: SessionRunner): Promise<void> {
  await run(sql`drop table if exists import_batch, import_seen`);
}
