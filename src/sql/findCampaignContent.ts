import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { storedSources, type ContentSnapshot } from '../domain/content.js';

export interface StoredContent extends ContentSnapshot {
  madeAt: Date;
}

/** A started campaign's stored content (migration 0014), or undefined when it has none. */
export async function findCampaignContent(db: Kysely<Database>, campaignId: number): Promise<StoredContent | undefined> {
  const row = await db.selectFrom('campaign_content').select(['sources', 'hash', 'made_at']).where('campaign_id', '=', campaignId).executeTakeFirst();
  if (!row) return undefined;
  return { sources: storedSources(row.sources, campaignId), hash: row.hash, madeAt: row.made_at };
}
