import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { audienceCondition, type AudienceDefinition } from './audienceQuery.js';
import type { ClaimedRecipient } from './claimBatch.js';
import { planSegmentQuery } from './planSegmentQuery.js';

/** Whose page: a campaign's fixed audience, or an audience as defined now. */
export type AudienceSource = { campaignId: number } | { definition: AudienceDefinition; now: Date };

/**
 * One keyset page of an audience's recipients in id order, read-only (no claim): for dry
 * runs, test sends and the preview's samples. With `withoutSuppressed`, suppressed addresses
 * are left out (who would be sent to).
 */
export async function audiencePage(
  db: Kysely<Database>,
  source: AudienceSource,
  afterRecipientId: number,
  limit: number,
  { withoutSuppressed = false }: { withoutSuppressed?: boolean } = {},
): Promise<ClaimedRecipient[]> {
  if ('definition' in source && source.definition.segment !== null) {
    if (!db.isTransaction) return db.transaction().execute((trx) => audiencePage(trx, source, afterRecipientId, limit, { withoutSuppressed }));
    await planSegmentQuery(db as Transaction<Database>);
  }
  const unsuppressed = withoutSuppressed ? sql`and not exists (select 1 from suppressions s where s.email = lower(r.email))` : sql``;
  const rows =
    'campaignId' in source
      ? await sql<{ id: number; email: string; name: string | null; attributes: Record<string, unknown> }>`
          select r.id, r.email, r.name, r.attributes
          from campaign_audience a join recipients r on r.id = a.recipient_id
          where a.campaign_id = ${source.campaignId} and a.recipient_id > ${afterRecipientId} ${unsuppressed}
          order by a.recipient_id
          limit ${limit}
        `.execute(db)
      : await sql<{ id: number; email: string; name: string | null; attributes: Record<string, unknown> }>`
          select r.id, r.email, r.name, r.attributes
          from recipients r
          where r.id > ${afterRecipientId} and ${audienceCondition(source.definition, source.now)} ${unsuppressed}
          order by r.id
          limit ${limit}
        `.execute(db);
  return rows.rows.map((r) => ({ recipientId: r.id, email: r.email, name: r.name, attributes: r.attributes }));
}
