import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.js';

/** One marking step at a time across every process of the installation (an advisory lock key). */
export const MARK_SENT_LOCK = 0x4865_7253; // "HerS"

/** Recipients marked per step: one short transaction beside sending. */
export const MARK_SENT_BATCH = 20_000;

/** Each campaign's kept sent count (migration 0008): folded counts plus the changes since. */
function keptSentCounts(): RawBuilder<{ campaign_id: number; sent: number }> {
  return sql`
    select campaign_id, sum(n) as sent from (
      select campaign_id, n from delivery_counts where status = 'sent'
      union all
      select campaign_id, n from delivery_count_changes where status = 'sent'
    ) seg_k0
    group by campaign_id
  `;
}

/**
 * The campaigns whose sent recipients are not (all) marked in `sent_recipients`: their
 * kept sent count is not the one the last complete marking pass began with (running, sending
 * again, never marked). "never sent" reads these campaigns' deliveries, and the mark for the
 * rest (migration 0015, docs/segments.md).
 */
export function unmarkedSentCampaigns(): RawBuilder<number> {
  return sql<number>`
    select seg_k.campaign_id from (${keptSentCounts()}) seg_k
    left join recipient_sends_marked seg_m on seg_m.campaign_id = seg_k.campaign_id
    where seg_k.sent > 0 and seg_m.marked_sent is distinct from seg_k.sent
  `;
}

export type MarkStep = 'idle' | 'busy' | 'more';

/**
 * One step of marking sent recipients: for the first campaign that is not running and not
 * marked (or `campaignId`), marks up to `batch` more of its sent recipients (in recipient id
 * order, from where the pass got to) and moves its pass on; when the pass reaches the end, the
 * kept sent count it began with is recorded as marked. A delivery that becomes sent during a
 * pass changes the kept count, so the campaign stays unmarked and is passed over again: the
 * mark never claims more than it covers. 'idle': nothing to mark; 'busy': another process
 * holds the step (only without `wait`); 'more': call again.
 */
export async function markSentRecipients(
  db: Kysely<Database>,
  { campaignId, batch = MARK_SENT_BATCH, wait = false }: { campaignId?: number; batch?: number; wait?: boolean } = {},
): Promise<MarkStep> {
  return db.transaction().execute(async (trx) => {
    if (wait) await sql`select pg_advisory_xact_lock(${MARK_SENT_LOCK})`.execute(trx);
    else {
      const lock = await sql<{ got: boolean }>`select pg_try_advisory_xact_lock(${MARK_SENT_LOCK}) as got`.execute(trx);
      if (!lock.rows[0]?.got) return 'busy';
    }
    const only = campaignId === undefined ? sql`` : sql`and k.campaign_id = ${campaignId}`;
    const next = await sql<{ id: string; sent: string; pass_sent: string | null; pass_after: string | null }>`
      select k.campaign_id as id, k.sent, m.pass_sent, m.pass_after
      from (${keptSentCounts()}) k
      join campaigns c on c.id = k.campaign_id
      left join recipient_sends_marked m on m.campaign_id = k.campaign_id
      where k.sent > 0 and m.marked_sent is distinct from k.sent and c.status <> 'running' ${only}
      order by k.campaign_id
      limit 1
    `.execute(trx);
    const row = next.rows[0];
    if (!row) return 'idle';
    const id = Number(row.id);
    const passSent = Number(row.pass_sent ?? row.sent);
    const after = Number(row.pass_after ?? 0);
    const step = await sql<{ n: string; last: string | null }>`
      with picked as (
        select recipient_id from deliveries
        where campaign_id = ${id} and recipient_id > ${after} and status = 'sent'
        order by recipient_id
        limit ${batch}
      ), marked as (
        insert into sent_recipients (recipient_id) select recipient_id from picked on conflict do nothing
      )
      select count(*) as n, max(recipient_id) as last from picked
    `.execute(trx);
    const n = Number(step.rows[0]?.n ?? 0);
    const done = n < batch;
    await sql`
      insert into recipient_sends_marked (campaign_id, marked_sent, pass_sent, pass_after)
      values (${id}, ${done ? passSent : null}, ${done ? null : passSent}, ${done ? null : Number(step.rows[0]!.last)})
      on conflict (campaign_id) do update set
        marked_sent = coalesce(excluded.marked_sent, recipient_sends_marked.marked_sent),
        pass_sent = excluded.pass_sent,
        pass_after = excluded.pass_after
    `.execute(trx);
    return 'more';
  });
}
