import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { reserveDailyQuota } from './reserveDailyQuota.js';
import { planKeyLookups } from './planKeyLookups.js';
import { snapshotAudience } from './snapshotAudience.js';
import { shareErasureLock } from './erasure/erasureLock.js';

export interface ClaimedRecipient {
  recipientId: number;
  email: string;
  name: string | null;
  attributes: Record<string, unknown>;
}

export type ClaimResult =
  /** Rows now owned by this worker (queued), and how many were recorded as suppressed. */
  | { state: 'claimed'; recipients: ClaimedRecipient[]; suppressed: number }
  /** The campaign is no longer running (paused, cancelled, finished): claim nothing. */
  | { state: 'stopped' }
  /** Nothing left to claim: the audience is exhausted and no delivery is pending. */
  | { state: 'exhausted' }
  /** The sending domain's daily cap is used up until `until`. */
  | { state: 'capped'; domain: string; until: Date };

interface ClaimRow {
  recipient_id: number;
  status: 'queued' | 'suppressed' | 'skipped';
  email: string;
  name: string | null;
  attributes: Record<string, unknown>;
}

/**
 * Claims up to `limit` recipients of a running campaign for one worker. Released (pending)
 * deliveries go first, then the next keyset page of its audience, fixed at its start
 * (campaign_audience; docs/audience.md). The campaign row lock
 * serialises claimers, and the (campaign, recipient) primary key makes a double claim
 * impossible even without it. Suppressed addresses are recorded as such, never queued, and
 * erased people (their recipient row a tombstone, migration 0013) are recorded `skipped` with
 * reason `erased`: the condition is on the recipient row, so it holds however the claim found
 * them. Those claimed before their erasure are withdrawn by the worker before sending
 * (docs/operations.md, "Erasing a person").
 *
 * When the campaign's sending domain has a daily cap, the claim takes only what is left of
 * today's quota and counts its queued rows against it in the same transaction, so the cap
 * holds across campaigns and workers. `now` decides which cap day it is.
 */
export interface ClaimContext {
  /** The sending domain the campaign goes out through (its daily cap applies). */
  domain?: string | undefined;
  now?: Date;
}

export async function claimBatch(
  db: Kysely<Database>,
  campaignId: number,
  workerId: string,
  limit: number,
  { domain, now = new Date() }: ClaimContext = {},
): Promise<ClaimResult> {
  return db.transaction().execute(async (trx) => {
    const campaign = await sql<{
      status: string;
      claim_cursor: number;
      list_exhausted: boolean;
      waiting_reason: string | null;
      audience_size: number | null;
    }>`
      select status, claim_cursor, list_exhausted, waiting_reason, audience_size from campaigns where id = ${campaignId} for update
    `.execute(trx);
    const row = campaign.rows[0];
    if (row?.status !== 'running') return { state: 'stopped' };
    // Before any delivery row: an erasure under way finishes first (sql/erasure/erasureLock.ts).
    await shareErasureLock(trx);
    // Every way to running fixes the audience (transitionCampaign, promoteDueCampaigns); a
    // campaign row written as running by other means gets its audience at its first claim.
    if (row.audience_size === null && !row.list_exhausted) await snapshotAudience(trx, campaignId, now);
    // The claim reads a few hundred recipients by key; left to itself, Postgres hashed the
    // whole recipients table twice per claim.
    await planKeyLookups(trx);

    const quota = domain ? await reserveDailyQuota(trx, domain, now) : null;
    // A campaign with nothing left to claim is not waiting for the cap: it goes on to report
    // itself exhausted, so it can finish.
    if (quota && quota.allowance <= 0 && !(row.list_exhausted && (await nothingPending(trx, campaignId)))) {
      await sql`
        update campaigns set waiting_reason = 'daily_cap', waiting_until = ${quota.resetsAt}
        where id = ${campaignId} and (waiting_reason is distinct from 'daily_cap' or waiting_until is distinct from ${quota.resetsAt})
      `.execute(trx);
      return { state: 'capped', domain: domain!, until: quota.resetsAt };
    }
    if (quota) limit = Math.min(limit, quota.allowance);
    // Only the cap's hold is the claim's to clear; a worker that holds for a provider outage
    // clears its own once the provider answers again.
    if (row.waiting_reason === 'daily_cap') {
      await sql`update campaigns set waiting_reason = null, waiting_until = null, waiting_detail = null where id = ${campaignId}`.execute(trx);
    }

    const rows: ClaimRow[] = (
      await sql<ClaimRow>`
        with picked as (
          select recipient_id from deliveries
          where campaign_id = ${campaignId} and status = 'pending'
          order by recipient_id
          limit ${limit}
          for update skip locked
        ), claimed as (
          update deliveries d
          set status = case when r.erased_at is not null then 'skipped' when s.email is null then 'queued' else 'suppressed' end,
              error_code = case when r.erased_at is not null then 'erased' else d.error_code end,
              worker_id = ${workerId}, claimed_at = ${now}, updated_at = now()
          from picked p
          join recipients r on r.id = p.recipient_id
          left join suppressions s on s.email = lower(r.email)
          where d.campaign_id = ${campaignId} and d.recipient_id = p.recipient_id
          returning d.recipient_id, d.status
        )
        select c.recipient_id, c.status, r.email, r.name, r.attributes
        from claimed c join recipients r on r.id = c.recipient_id
        order by c.recipient_id
      `.execute(trx)
    ).rows;

    const room = limit - rows.length;
    if (room > 0 && !row.list_exhausted) {
      const page = await sql<{ recipient_id: number }>`
        select recipient_id from campaign_audience
        where campaign_id = ${campaignId} and recipient_id > ${row.claim_cursor}
        order by recipient_id
        limit ${room}
      `.execute(trx);
      const ids = page.rows.map((r) => r.recipient_id);
      if (ids.length > 0) {
        const inserted = await sql<ClaimRow>`
          with claimed as (
            insert into deliveries (campaign_id, recipient_id, status, error_code, worker_id, claimed_at)
            select ${campaignId}, r.id,
              case when r.erased_at is not null then 'skipped' when s.email is null then 'queued' else 'suppressed' end,
              case when r.erased_at is not null then 'erased' end, ${workerId}, ${now}::timestamptz
            from unnest(${ids}::bigint[]) as p(recipient_id)
            join recipients r on r.id = p.recipient_id
            left join suppressions s on s.email = lower(r.email)
            on conflict do nothing
            returning recipient_id, status
          )
          select c.recipient_id, c.status, r.email, r.name, r.attributes
          from claimed c join recipients r on r.id = c.recipient_id
          order by c.recipient_id
        `.execute(trx);
        rows.push(...inserted.rows);
      }
      await sql`
        update campaigns
        set claim_cursor = ${ids.length > 0 ? ids[ids.length - 1]! : row.claim_cursor},
            list_exhausted = ${ids.length < room}, updated_at = now()
        where id = ${campaignId}
      `.execute(trx);
      if (rows.length === 0 && ids.length < room) return { state: 'exhausted' };
    } else if (rows.length === 0) {
      return { state: 'exhausted' };
    }

    const recipients: ClaimedRecipient[] = [];
    let suppressed = 0;
    for (const r of rows) {
      if (r.status === 'suppressed') suppressed++;
      else if (r.status === 'queued') recipients.push({ recipientId: r.recipient_id, email: r.email, name: r.name, attributes: r.attributes });
    }
    if (quota) await quota.consume(recipients.length);
    return { state: 'claimed', recipients, suppressed };
  });
}

/** True when no released or recovered delivery waits to be claimed again. */
async function nothingPending(trx: Kysely<Database>, campaignId: number): Promise<boolean> {
  const found = await sql`select 1 from deliveries where campaign_id = ${campaignId} and status = 'pending' limit 1`.execute(trx);
  return found.rows.length === 0;
}
