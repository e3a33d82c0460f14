import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/** Registered workers; right after expireDeadWorkers, the live ones. */
export async function countWorkers(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('workers')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
