import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Unknown rows the provider accepted: now known to be sent. */
export async function markUnknownSent(db: Kysely<Database>, campaignId: number, accepted: ReadonlyMap<number, string>): Promise<number> {
  if (accepted.size === 0) return 0;
  const result = await sql`
    update deliveries d
    set status = 'sent', provider_id = u.provider_id, attempts = greatest(d.attempts, 1), sent_at = coalesce(d.sent_at, now()),
        error_code = null, error_message = null, updated_at = now()
    from unnest(${[...accepted.keys()]}::bigint[], ${[...accepted.values()]}::text[]) as u(recipient_id, provider_id)
    where d.campaign_id = ${campaignId} and d.recipient_id = u.recipient_id and d.status = 'unknown'
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
