import { sql } from 'kysely';
import type { SessionRunner } from './session.js';

/**
 * Session-scoped tables of the staging session: the current batch, and every address seen
 * so far in the file (so duplicates are found in the database, not in a growing in-memory
 * set).
 */
export async function createImportTables(run: SessionRunner): Promise<void> {
  await run(
    sql`create temporary table if not exists import_batch (line int not null, email text not null, name text, attributes jsonb not null, is_first boolean not null default false)`,
  );
  await run(sql`create temporary table if not exists import_seen (email_lower text primary key, line int not null)`);
  await run(sql`truncate import_batch, import_seen`);
}
