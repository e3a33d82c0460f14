import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Until the transaction ends, has Postgres find rows by key (nested loops over index scans)
 * instead of reading and hashing whole tables. Herald's batch statements touch a few hundred
 * rows by primary key, but the planner prices a few hundred index probes above one sequential
 * scan of a mid-sized table: a claim of 500 recipients from a list of 50,000 hashed the whole
 * recipients table twice (several times slower than by key; BENCHMARKS.md, "Why these hand-written parts"), and
 * results written to a deliveries table that grew from empty during the run (no statistics yet)
 * hashed all of it for every batch.
 */
export async function planKeyLookups(trx: Transaction<Database>): Promise<void> {
  await sql`select set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`.execute(
    trx,
  );
}
