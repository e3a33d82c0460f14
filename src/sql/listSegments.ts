import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface SegmentSummary {
  name: string;
  expression: string;
  createdAt: Date;
  /** Campaigns that name it and have not fixed their audience yet (drafts, scheduled). */
  pendingCampaigns: number;
}

/** Every saved segment by name. */
export async function listSegments(db: Kysely<Database>): Promise<SegmentSummary[]> {
  const rows = await sql<{ name: string; expression: string; created_at: Date; pending: number }>`
    select s.name, s.expression, s.created_at,
      (select count(*) from campaigns c where c.segment_id = s.id and c.audience_size is null and c.status not in ('cancelled', 'finished')) as pending
    from segments s
    order by s.name
  `.execute(db);
  return rows.rows.map((r) => ({ name: r.name, expression: r.expression, createdAt: r.created_at, pendingCampaigns: Number(r.pending) }));
}
