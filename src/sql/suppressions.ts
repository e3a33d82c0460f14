import { sql, type Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../db/schema.js';
import { emailKey } from '../domain/email.js';

export interface Suppression {
  email: string;
  reason: SuppressionReason;
  source: string | null;
  campaignId: number | null;
  createdAt: Date;
}

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

export async function removeSuppression(db: Kysely<Database>, email: string): Promise<boolean> {
  const result = await db.deleteFrom('suppressions').where('email', '=', emailKey(email)).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

export async function listSuppressions(db: Kysely<Database>, limit: number, reason?: SuppressionReason): Promise<Suppression[]> {
  let q = db.selectFrom('suppressions').selectAll().orderBy('created_at', 'desc').orderBy('email').limit(limit);
  if (reason) q = q.where('reason', '=', reason);
  const rows = await q.execute();
  return rows.map((r) => ({ email: r.email, reason: r.reason, source: r.source, campaignId: r.campaign_id, createdAt: r.created_at }));
}
