import type { Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../db/schema.js';

export interface Suppression {
  email: string;
  reason: SuppressionReason;
  source: string | null;
  campaignId: number | null;
  createdAt: Date;
}

export async function listSuppressions(db: Kysely<Database>, limit: number, reason?: SuppressionReason): Promise<Suppression[]> {
  let q = db.selectFrom('suppressions').selectAll().orderBy('created_at', 'desc').orderBy('email').limit(limit);
  if (reason) q = q.where('reason', '=', reason);
  const rows = await q.execute();
  return rows.map((r) => ({ email: r.email, reason: r.reason, source: r.source, campaignId: r.campaign_id, createdAt: r.created_at }));
}
