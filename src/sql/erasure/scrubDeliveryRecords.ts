import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { ERASED_MARK } from '../../domain/erasure.js';

/**
 * Cuts the address out of the text kept with the recipient's deliveries: the provider's error
 * messages (deliveries, delivery_attempts), the failure reason of their outcomes, and the
 * reason and link of their provider events, whose payloads go entirely (they are the
 * provider's copy of the message's envelope: address, headers, IP, client). The rows stay,
 * so every kept count still matches them; no status or error code changes, so the count
 * triggers record nothing. `pattern` is addressPattern() of the address, bound as a value.
 */
export async function scrubDeliveryRecords(db: Kysely<Database>, recipientId: number, campaignIds: readonly number[], pattern: string): Promise<void> {
  if (campaignIds.length === 0) return;
  const ids = [...campaignIds];
  await sql`
    update deliveries set error_message = regexp_replace(error_message, ${pattern}, ${ERASED_MARK}, 'gi')
    where campaign_id = any(${ids}::bigint[]) and recipient_id = ${recipientId} and error_message ~* ${pattern}
  `.execute(db);
  await sql`
    update delivery_attempts set error_message = regexp_replace(error_message, ${pattern}, ${ERASED_MARK}, 'gi')
    where campaign_id = any(${ids}::bigint[]) and recipient_id = ${recipientId} and error_message ~* ${pattern}
  `.execute(db);
  await sql`
    update delivery_outcomes set failure_reason = regexp_replace(failure_reason, ${pattern}, ${ERASED_MARK}, 'gi')
    where campaign_id = any(${ids}::bigint[]) and recipient_id = ${recipientId} and failure_reason ~* ${pattern}
  `.execute(db);
  await sql`
    update delivery_events
    set payload = '{}'::jsonb,
        reason = regexp_replace(reason, ${pattern}, ${ERASED_MARK}, 'gi'),
        url = regexp_replace(url, ${pattern}, ${ERASED_MARK}, 'gi')
    where campaign_id = any(${ids}::bigint[]) and recipient_id = ${recipientId}
  `.execute(db);
}
