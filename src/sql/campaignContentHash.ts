import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** The hash of a campaign's stored content, without the content; null before its first start. */
export async function campaignContentHash(db: Kysely<Database>, campaignId: number): Promise<string | null> {
  const row = await db.selectFrom('campaign_content').select('hash').where('campaign_id', '=', campaignId).executeTakeFirst();
  return row?.hash ?? null;
}
