import { sql, type Kysely } from 'kysely';
import type { Database, DeliveryStatus } from '../db/schema.js';
import { emailKey } from '../domain/email.js';
import type { ReportRow } from './campaignReport.js';

export interface DeliveryFilter {
  campaignId?: number | undefined;
  status?: DeliveryStatus | undefined;
  /** Matched case-insensitively and exactly. */
  email?: string | undefined;
  /** Keyset cursor: the last (campaign, recipient) of the previous page. */
  after?: { campaignId: number; recipientId: number } | undefined;
  limit: number;
}

export interface DeliveryRow extends ReportRow {
  campaignId: number;
  campaignName: string;
  updatedAt: Date;
}

/**
 * One page of delivery records in (campaign, recipient) order; fetch `limit + 1` to know if
 * there is more. Looking one address up needs no index on recipient_id: the planner probes
 * the primary key once per campaign (campaigns are few), which keeps claims' inserts cheap.
 */
export async function deliveriesPage(db: Kysely<Database>, filter: DeliveryFilter): Promise<DeliveryRow[]> {
  let q = db
    .selectFrom('deliveries as d')
    .innerJoin('recipients as r', 'r.id', 'd.recipient_id')
    .innerJoin('campaigns as c', 'c.id', 'd.campaign_id')
    .leftJoinLateral(
      (eb) =>
        eb
          .selectFrom('delivery_outcomes as o')
          .selectAll('o')
          .whereRef('o.campaign_id', '=', 'd.campaign_id')
          .whereRef('o.recipient_id', '=', 'd.recipient_id')
          .limit(1)
          .as('o'),
      (join) => join.onTrue(),
    )
    .select([
      'd.campaign_id as campaignId',
      'c.name as campaignName',
      'd.recipient_id as recipientId',
      'r.email',
      'd.status',
      'd.attempts',
      'd.provider_id as providerId',
      'd.error_code as errorCode',
      'd.error_message as errorMessage',
      'd.sent_at as sentAt',
      'd.updated_at as updatedAt',
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
    .orderBy('d.campaign_id')
    .orderBy('d.recipient_id')
    .limit(filter.limit);
  if (filter.campaignId !== undefined) q = q.where('d.campaign_id', '=', filter.campaignId);
  if (filter.status !== undefined) q = q.where('d.status', '=', filter.status);
  if (filter.email !== undefined) q = q.where(sql`lower(r.email)`, '=', emailKey(filter.email));
  if (filter.after) q = q.where(sql`(d.campaign_id, d.recipient_id)`, '>', sql`(${filter.after.campaignId}, ${filter.after.recipientId})`);
  return q.execute();
}
