import type { Kysely } from 'kysely';
import type { Database, DeliveryStatus } from '../db/schema.js';

export type StatusCounts = Record<DeliveryStatus, number>;

export async function countDeliveries(db: Kysely<Database>, campaignId: number): Promise<StatusCounts> {
  const rows = await db
    .selectFrom('deliveries')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('campaign_id', '=', campaignId)
    .groupBy('status')
    .execute();
  const counts: StatusCounts = { pending: 0, queued: 0, sent: 0, failed: 0, suppressed: 0, unknown: 0, skipped: 0 };
  for (const r of rows) counts[r.status] = Number(r.n);
  return counts;
}
