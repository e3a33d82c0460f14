import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Until the transaction ends, gives Postgres the memory to hash the recipient-id sets of a
 * segment's engagement conditions (src/sql/segmentPredicate.ts). An engagement condition next
 * to others under `or` is looked up once per recipient: in a hash of its set when the set's
 * estimate fits in work_mem, else by a subquery per recipient, which on a million recipients
 * is tens of seconds instead of one. With the default work_mem a set of a few hundred thousand
 * ids (or any set on statistics not yet gathered) is estimated too big. Run it before a query
 * that filters recipients by a segment: a count, a sample, the audience snapshot, an export.
 * docs/segments.md, "How a segment runs".
 */
export async function planSegmentQuery(trx: Transaction<Database>): Promise<void> {
  await sql`select set_config('work_mem', '64MB', true)`.execute(trx);
}
