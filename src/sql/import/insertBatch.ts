import { sql } from 'kysely';
import type { ImportRow, SessionRunner } from './session.js';

/** Loads a batch through unnest (PGlite): one statement, four parameters whatever its size. */
export async function insertBatch(run: SessionRunner, rows: readonly ImportRow[]): Promise<void> {
  await run(sql`truncate import_batch`);
  await run(sql`
    insert into import_batch (line, email, name, attributes)
    select * from unnest(${rows.map((r) => r.line)}::int[], ${rows.map((r) => r.email)}::text[],
                         ${rows.map((r) => r.name)}::text[], ${rows.map((r) => JSON.stringify(r.attributes))}::jsonb[])
  `);
}
