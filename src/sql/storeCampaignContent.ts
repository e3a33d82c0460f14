import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ContentSnapshot } from '../domain/content.js';

/**
 * Stores a campaign's content unless it has some already: a snapshot is written once and never
 * replaced (docs/architecture.md, "A campaign's content"). Returns true when this call stored it.
 */
export async function storeCampaignContent(db: Kysely<Database>, campaignId: number, content: ContentSnapshot): Promise<boolean> {
  const result = await sql`
    insert into campaign_content (campaign_id, sources, hash)
    values (${campaignId}, ${JSON.stringify(content.sources)}::jsonb, ${content.hash})
    on conflict (campaign_id) do nothing
  `.execute(db);
  return Number(result.numAffectedRows ?? 0) > 0;
}
