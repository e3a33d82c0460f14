import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { CAMPAIGN_CHANNEL } from '../notifyCampaignChanged.js';

/**
 * Workers hear of an erasure on the campaign channel they already listen to (no connection
 * more per worker): the payload is this prefix and the recipient ids, comma-separated. A
 * worker that reads campaign ids from the channel finds no campaign by this payload.
 */
export const ERASED_NOTICE = 'erased:';

/** Tells every worker (at commit, when called in a transaction) not to send to these recipients. */
export async function notifyErased(db: Kysely<Database>, recipientIds: readonly number[]): Promise<void> {
  if (recipientIds.length === 0) return;
  await sql`select pg_notify(${CAMPAIGN_CHANNEL}, ${ERASED_NOTICE + recipientIds.join(',')})`.execute(db);
}

/** The recipient ids of an erasure notice, or null when the payload is something else. */
export function erasedIdsOf(payload: string): number[] | null {
  if (!payload.startsWith(ERASED_NOTICE)) return null;
  return payload
    .slice(ERASED_NOTICE.length)
    .split(',')
    .map(Number)
    .filter((n) => Number.isSafeInteger(n) && n > 0);
}
