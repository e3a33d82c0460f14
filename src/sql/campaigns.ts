import { sql, type Kysely } from 'kysely';
import type { Campaign, CampaignStatus, Database, DeliveryStatus, NewCampaign } from '../db/schema.js';
import { transitionFor, type CampaignAction } from '../domain/campaignState.js';

/** Workers LISTEN here; the payload is the campaign id. */
export const CAMPAIGN_CHANNEL = 'herald_campaign';

export async function insertCampaign(db: Kysely<Database>, values: NewCampaign): Promise<number> {
  const row = await db.insertInto('campaigns').values(values).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

export async function findCampaign(db: Kysely<Database>, id: number): Promise<Campaign | undefined> {
  return db.selectFrom('campaigns').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Moves a campaign along the state machine in one statement, so two operators racing
 * cannot both win. Returns the new row, or undefined when the move is not allowed now.
 */
export async function transitionCampaign(
  db: Kysely<Database>,
  id: number,
  action: CampaignAction,
  extra: { scheduledAt?: Date | null } = {},
): Promise<Campaign | undefined> {
  const { from, to } = transitionFor(action);
  const row = await db
    .updateTable('campaigns')
    .set((eb) => ({
      status: to,
      updated_at: sql<Date>`now()`,
      ...(action === 'start' || action === 'resume' ? { started_at: eb.fn.coalesce('started_at', sql<Date>`now()`) } : {}),
      ...(action === 'finish' ? { finished_at: sql<Date>`now()` } : {}),
      ...(action === 'schedule' ? { scheduled_at: extra.scheduledAt ?? null } : {}),
      // Whatever held the campaign is the operator's to judge again once they act on it.
      ...(action !== 'pause' ? { paused_reason: null, waiting_reason: null, waiting_until: null, waiting_detail: null } : {}),
    }))
    .where('id', '=', id)
    .where('status', 'in', from)
    .returningAll()
    .executeTakeFirst();
  if (row) await notifyCampaignChanged(db, id);
  return row;
}

/**
 * A running campaign pauses itself: the provider refused the account or domain, which no
 * retry and no other recipient can fix. Returns false when it was no longer running.
 */
export async function pauseCampaignFor(db: Kysely<Database>, id: number, reason: string): Promise<boolean> {
  const result = await sql`
    update campaigns set status = 'paused', paused_reason = ${reason}, updated_at = now()
    where id = ${id} and status = 'running'
  `.execute(db);
  const paused = Number(result.numAffectedRows ?? 0) === 1;
  if (paused) await notifyCampaignChanged(db, id);
  return paused;
}

/**
 * Says why running campaigns hold their sending (`reason` null clears it). Only holds this
 * worker sets are cleared here; a daily cap is the claim's to set and clear.
 */
export async function setCampaignsWaiting(
  db: Kysely<Database>,
  ids: readonly number[],
  hold: { reason: string; detail: string | null; until: Date | null } | null,
  clearing: string,
): Promise<void> {
  if (ids.length === 0) return;
  if (hold) {
    await sql`
      update campaigns set waiting_reason = ${hold.reason}, waiting_detail = ${hold.detail}, waiting_until = ${hold.until}
      where id = any(${[...ids]}::bigint[]) and status = 'running' and (waiting_reason is null or waiting_reason <> 'daily_cap')
    `.execute(db);
  } else {
    await sql`
      update campaigns set waiting_reason = null, waiting_detail = null, waiting_until = null
      where id = any(${[...ids]}::bigint[]) and waiting_reason = ${clearing}
    `.execute(db);
  }
}

export async function notifyCampaignChanged(db: Kysely<Database>, id: number): Promise<void> {
  await sql`select pg_notify(${CAMPAIGN_CHANNEL}, ${String(id)})`.execute(db);
}

/**
 * Marks a running campaign finished, but only when the list is exhausted and no delivery is
 * still open. This is the one place a campaign becomes finished.
 */
export async function finishIfComplete(db: Kysely<Database>, id: number): Promise<boolean> {
  const result = await sql`
    update campaigns set status = 'finished', finished_at = now(), updated_at = now()
    where id = ${id} and status = 'running' and list_exhausted
      -- One probe per open state, so each reads its own small partial index.
      and not exists (select 1 from deliveries where campaign_id = ${id} and status = 'pending')
      and not exists (select 1 from deliveries where campaign_id = ${id} and status = 'queued')
      and not exists (select 1 from deliveries where campaign_id = ${id} and status = 'unknown')
  `.execute(db);
  const finished = Number(result.numAffectedRows ?? 0) === 1;
  if (finished) await notifyCampaignChanged(db, id);
  return finished;
}

export async function runningCampaigns(db: Kysely<Database>): Promise<Campaign[]> {
  return db
    .selectFrom('campaigns')
    .selectAll()
    .where('status', '=', 'running')
    .orderBy('priority', 'desc')
    .orderBy('id')
    .execute();
}

export async function campaignStatus(db: Kysely<Database>, id: number): Promise<CampaignStatus | undefined> {
  const row = await db.selectFrom('campaigns').select('status').where('id', '=', id).executeTakeFirst();
  return row?.status;
}

export type StatusCounts = Record<DeliveryStatus, number>;

export async function countDeliveries(db: Kysely<Database>, campaignId: number): Promise<StatusCounts> {
  const rows = await db
    .selectFrom('deliveries')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('campaign_id', '=', campaignId)
    .groupBy('status')
    .execute();
  const counts: StatusCounts = { pending: 0, queued: 0, sent: 0, failed: 0, suppressed: 0, unknown: 0, skipped: 0 };
  for (const r of rows) counts[r.status] = Number(r.n);
  return counts;
}
