import type { Kysely } from 'kysely';
import type { Database, DeliveryStatus } from '../db/schema.js';

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

/** Streams a campaign's deliveries in recipient order, one keyset page at a time. */
export async function* campaignReport(db: Kysely<Database>, campaignId: number, pageSize = 5000): AsyncGenerator<ReportRow> {
  let after = 0;
  for (;;) {
    const rows = await db
      .selectFrom('deliveries as d')
      .innerJoin('recipients as r', 'r.id', 'd.recipient_id')
      .select(['d.recipient_id', 'r.email', 'd.status', 'd.attempts', 'd.provider_id', 'd.error_code', 'd.error_message', 'd.sent_at'])
      .where('d.campaign_id', '=', campaignId)
      .where('d.recipient_id', '>', after)
      .orderBy('d.recipient_id')
      .limit(pageSize)
      .execute();
    for (const r of rows) {
      yield {
        recipientId: r.recipient_id,
        email: r.email,
        status: r.status,
        attempts: r.attempts,
        providerId: r.provider_id,
        errorCode: r.error_code,
        errorMessage: r.error_message,
        sentAt: r.sent_at,
      };
    }
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.recipient_id;
  }
}
