import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Says why running campaigns hold their sending (`reason` null clears it). Only holds this
 * worker sets are cleared here; a daily cap is the claim's to set and clear.
 */
export async function setCampaignsWaiting(
  db: Kysely<Database>,
  ids: readonly number[],
  hold: { reason: string; detail: string | null; until: Date | null } | null,
  clearing: string,
): Promise<void> {
  if (ids.length === 0) return;
  if (hold) {
    await sql`
      update campaigns set waiting_reason = ${hold.reason}, waiting_detail = ${hold.detail}, waiting_until = ${hold.until}
      where id = any(${[...ids]}::bigint[]) and status = 'running' and (waiting_reason is null or waiting_reason <> 'daily_cap')
    `.execute(db);
  } else {
    await sql`
      update campaigns set waiting_reason = null, waiting_detail = null, waiting_until = null
      where id = any(${[...ids]}::bigint[]) and waiting_reason = ${clearing}
    `.execute(db);
  }
}
