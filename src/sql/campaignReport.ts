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
}

/** One page: the deliveries after recipient `after`. Run it after planKeyRangePages. */
export function reportPage(trx: Transaction<Database>, campaignId: number, after: number, pageSize: number) {
  return trx
    .selectFrom('deliveries as d')
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
    ])
    .where('d.campaign_id', '=', campaignId)
    .where('d.recipient_id', '>', after)
    .orderBy('d.recipient_id')
    .limit(pageSize);
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
