import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface FunnelCounts {
  delivered: number;
  bounced_hard: number;
  bounced_soft: number;
  opened: number;
  clicked: number;
  complained: number;
  unsubscribed: number;
}

/** Deliveries with each outcome fact (migration 0009), from the kept counts. */
export async function campaignFunnel(db: Kysely<Database>, campaignId: number): Promise<FunnelCounts> {
  const rows = await sql<{ fact: keyof FunnelCounts; n: number }>`
    select reason as fact, sum(n)::bigint as n from (
      select reason, n from delivery_counts where campaign_id = ${campaignId} and status = 'outcome'
      union all
      select reason, n from delivery_count_changes where campaign_id = ${campaignId} and status = 'outcome'
    ) kept
    group by reason
  `.execute(db);
  const funnel: FunnelCounts = { delivered: 0, bounced_hard: 0, bounced_soft: 0, opened: 0, clicked: 0, complained: 0, unsubscribed: 0 };
  for (const r of rows.rows) if (r.fact in funnel) funnel[r.fact] = Number(r.n);
  return funnel;
}
