import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { AudienceSource } from './audiencePage.js';
import { audienceCondition } from './audienceQuery.js';
import { planSegmentQuery } from './planSegmentQuery.js';

/** Whether a recipient is in an audience (a campaign's fixed one, or one as defined now). */
export async function inAudience(db: Kysely<Database>, source: AudienceSource, recipientId: number): Promise<boolean> {
  if ('definition' in source && source.definition.segment !== null) {
    if (!db.isTransaction) return db.transaction().execute((trx) => inAudience(trx, source, recipientId));
    await planSegmentQuery(db as Transaction<Database>);
  }
  const row =
    'campaignId' in source
      ? await sql<{ found: boolean }>`
          select exists (select 1 from campaign_audience a where a.campaign_id = ${source.campaignId} and a.recipient_id = ${recipientId}) as found
        `.execute(db)
      : await sql<{ found: boolean }>`
          select exists (select 1 from recipients r where r.id = ${recipientId} and ${audienceCondition(source.definition, source.now)}) as found
        `.execute(db);
  return row.rows[0]?.found === true;
}
