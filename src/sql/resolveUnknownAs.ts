import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Unknown rows to send again (pending) or never again (skipped). With `listedAt`, only rows
 * unchanged since that listing: a row resent meanwhile by another worker may be `unknown`
 * again, for a newer request that the decision taken on the old listing knows nothing about.
 */
export async function resolveUnknownAs(
  db: Kysely<Database>,
  campaignId: number,
  recipientIds: readonly number[],
  status: 'pending' | 'skipped',
  listedAt?: string,
): Promise<number> {
  if (recipientIds.length === 0) return 0;
  const result = await sql`
    update deliveries
    set status = ${status}, worker_id = null,
        error_code = ${status === 'skipped' ? 'unknown_skipped' : null}, updated_at = now()
    where campaign_id = ${campaignId} and recipient_id = any(${[...recipientIds]}::bigint[]) and status = 'unknown'
      and (${listedAt ?? null}::timestamptz is null or updated_at <= ${listedAt ?? null}::timestamptz)
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
