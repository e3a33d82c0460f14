import { sql } from 'kysely';
import type { SessionRunner } from './session.js';

/** Adds recipients to a list; returns how many were not members yet. */
export async function addMembers(run: SessionRunner, ids: readonly number[], listId: number): Promise<number> {
  if (ids.length === 0) return 0;
  const members = await run(sql`
    insert into list_members (list_id, recipient_id)
    select ${listId}, id from unnest(${[...ids]}::bigint[]) as id
    on conflict do nothing
  `);
  return members.affected;
}
