import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, DeliveryStatus } from '../db/schema.js';
import { planKeyRangePages } from './planKeyLookups.js';

export interface ReportRow {
  recipientId: number;
  email: string;
  status: DeliveryStatus;
  attempts: number;
  providerId: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  sentAt: Date | null;
  /** What happened after acceptance (migration 0009); null where no event came. */
  standing: string | null;
  deliveredAt: Date | null;
  failureSeverity: string | null;
  failureReason: string | null;
  failureCode: number | null;
  firstOpenAt: Date | null;
  opens: number | null;
  firstClickAt: Date | null;
  clicks: number | null;
  complainedAt: Date | null;
  unsubscribedAt: Date | null;
}

/** One page: the deliveries after recipient `after`. Run it after planKeyRangePages. */
export function reportPage(trx: Transaction<Database>, campaignId: number, after: number, pageSize: number) {
  return (
    trx
      .selectFrom('deliveries as d')
      // The outcome row by its primary key, per row (limit 1: a lateral the planner cannot flatten).
      .leftJoinLateral(
        (eb) =>
          eb
            .selectFrom('delivery_outcomes as o')
            .select([
              'o.standing',
              'o.delivered_at',
              'o.failure_severity',
              'o.failure_reason',
              'o.failure_code',
              'o.first_open_at',
              'o.opens',
              'o.first_click_at',
              'o.clicks',
              'o.complained_at',
              'o.unsubscribed_at',
            ])
            .whereRef('o.campaign_id', '=', 'd.campaign_id')
            .whereRef('o.recipient_id', '=', 'd.recipient_id')
            .limit(1)
            .as('o'),
        (join) => join.onTrue(),
      )
      .select([
        'd.recipient_id as recipientId',
        // Every delivery has its recipient (foreign key), so this is never null.
        sql<string>`(select r.email from recipients r where r.id = d.recipient_id)`.as('email'),
        'd.status',
        'd.attempts',
        'd.provider_id as providerId',
        'd.error_code as errorCode',
        'd.error_message as errorMessage',
        'd.sent_at as sentAt',
        'o.standing',
        'o.delivered_at as deliveredAt',
        'o.failure_severity as failureSeverity',
        'o.failure_reason as failureReason',
        'o.failure_code as failureCode',
        'o.first_open_at as firstOpenAt',
        'o.opens',
        'o.first_click_at as firstClickAt',
        'o.clicks',
        'o.complained_at as complainedAt',
        'o.unsubscribed_at as unsubscribedAt',
      ])
      .where('d.campaign_id', '=', campaignId)
      .where('d.recipient_id', '>', after)
      .orderBy('d.recipient_id')
      .limit(pageSize)
  );
}

/**
 * A campaign's deliveries in recipient order, one keyset page at a time, each page in its own
 * short transaction (a long report holds no snapshot, so vacuum keeps up with a sending run).
 *
 * Every page must cost the same wherever it starts, or the report is quadratic in the campaign's
 * size. Left to itself the planner did not do that: with statistics it merge-joined the page
 * with recipients read by primary key from id 1, and with stale ones (a deliveries table that
 * grew during the run) it read every remaining delivery of the campaign through a bitmap and
 * sorted them for each page. So the page is read by the deliveries primary key from the cursor
 * on (planKeyRangePages), and each row's email is a subquery by the recipients primary key,
 * which Postgres runs per row and cannot turn into a join that reads recipients from the start.
 */
export async function* campaignReportPages(db: Kysely<Database>, campaignId: number, pageSize = 5000): AsyncGenerator<ReportRow[]> {
  let after = 0;
  for (;;) {
    const rows = await db.transaction().execute(async (trx) => {
      await planKeyRangePages(trx);
      return reportPage(trx, campaignId, after, pageSize).execute();
    });
    if (rows.length > 0) yield rows;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.recipientId;
  }
}
