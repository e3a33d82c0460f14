import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/** An advisory lock key: erasures take it alone, claims and event batches share it. */
const ERASURE_LOCK = 0x4865_7261_4552; // "HeraER"

/**
 * Taken (exclusively, until the transaction ends) by an erasure before it touches a row: it
 * waits for claims and provider-event batches already under way to commit, and holds new
 * ones back until it has committed, so each of them either happened before the erasure (and
 * the erasure sees and cleans what it wrote) or after it (and sees the tombstone). Without it
 * a claim whose statement began just before the erasure committed could queue the person
 * afterwards, and an event batch could store their address after it was scrubbed.
 */
export async function holdErasureLock(db: Kysely<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${ERASURE_LOCK})`.execute(db);
}

/** The shared side of holdErasureLock, for a claim or an event batch: call it before touching any row. */
export async function shareErasureLock(db: Kysely<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock_shared(${ERASURE_LOCK})`.execute(db);
}
