import { sql, type Kysely } from 'kysely';
import type { CampaignStatus, Database } from '../db/schema.js';

export type RemoveSegmentResult =
  | { state: 'removed' }
  | { state: 'missing' }
  /** Campaigns that would lose their filter: they name it and have not fixed their audience. */
  | { state: 'in_use'; campaigns: Array<{ id: number; name: string; status: CampaignStatus }> };

/**
 * Removes a saved segment unless a campaign that has not fixed its audience yet names it.
 * Campaigns that fixed theirs keep the expression they used (where_text) and let go of the
 * name. The segment row is locked first: a campaign created with it at the same moment either
 * commits first (and is seen here) or finds the segment gone (its foreign key refuses it).
 */
export async function removeSegment(db: Kysely<Database>, name: string): Promise<RemoveSegmentResult> {
  return db.transaction().execute(async (trx) => {
    const found = await sql<{ id: number; expression: string }>`select id, expression from segments where name = ${name} for update`.execute(trx);
    const segment = found.rows[0];
    if (!segment) return { state: 'missing' };
    const pending = await sql<{ id: number; name: string; status: CampaignStatus }>`
      select id, name, status from campaigns
      where segment_id = ${segment.id} and audience_size is null and status not in ('cancelled', 'finished')
      order by id
    `.execute(trx);
    if (pending.rows.length > 0) return { state: 'in_use', campaigns: pending.rows };
    await sql`
      update campaigns set segment_id = null, where_text = coalesce(where_text, ${segment.expression}), updated_at = now()
      where segment_id = ${segment.id}
    `.execute(trx);
    await sql`delete from segments where id = ${segment.id}`.execute(trx);
    return { state: 'removed' };
  });
}
