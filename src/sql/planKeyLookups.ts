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

/**
 * Until the transaction ends, has Postgres read a range of rows in key order through the primary
 * key and stop at the LIMIT, as a keyset page needs, whatever the statistics say: besides
 * planKeyLookups' settings, no bitmap scan (it reads the whole range, then sorts it) and no
 * parallel workers (a page is small; on two cores they only add start-up).
 */
export async function planKeyRangePages(trx: Transaction<Database>): Promise<void> {
  await sql`select set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true), set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)`.execute(
    trx,
  );
}
