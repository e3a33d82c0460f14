import { sql, type Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../db/schema.js';
import { emailKey } from '../domain/email.js';

/**
 * Adds addresses to the suppression list, each stored by its key (trimmed, lower-cased), so
 * every caller gets the same normalisation. An address already there keeps its first reason.
 * Returns how many were new. Every batch claimed after this skips them.
 */
export async function addSuppressions(
  db: Kysely<Database>,
  emails: readonly string[],
  reason: SuppressionReason,
  source: string,
  campaignId: number | null = null,
): Promise<number> {
  const keys = [...new Set(emails.map(emailKey))].filter((e) => e !== '');
  if (keys.length === 0) return 0;
  const result = await sql`
    insert into suppressions (email, reason, source, campaign_id)
    select e, ${reason}, ${source}, ${campaignId}::bigint from unnest(${keys}::text[]) as e
    on conflict (email) do nothing
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
