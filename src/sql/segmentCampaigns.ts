import { sql, type Kysely } from 'kysely';
import type { CampaignStatus, Database } from '../db/schema.js';

/** The campaigns that name a segment, newest first, and whether each has fixed its audience. */
export async function segmentCampaigns(
  db: Kysely<Database>,
  segmentId: number,
): Promise<Array<{ id: number; name: string; status: CampaignStatus; fixed: boolean }>> {
  const rows = await sql<{ id: number; name: string; status: CampaignStatus; fixed: boolean }>`
    select id, name, status, audience_size is not null as fixed from campaigns where segment_id = ${segmentId} order by id desc
  `.execute(db);
  return rows.rows;
}
