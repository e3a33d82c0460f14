import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** "Who did not get it": failed deliveries per reason, plus suppressed, skipped and unknown. */
export async function notSentBreakdown(db: Kysely<Database>, campaignId: number): Promise<Array<{ status: string; reason: string | null; count: number }>> {
  const rows = await sql<{ status: string; reason: string | null; count: number }>`
    select status, error_code as reason, count(*)::int as count from deliveries
    where campaign_id = ${campaignId} and status in ('failed', 'suppressed', 'skipped', 'unknown')
    group by status, error_code
    order by count(*) desc, status, error_code
  `.execute(db);
  return rows.rows;
}
