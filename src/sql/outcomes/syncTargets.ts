import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export interface SyncTarget {
  /** The sending domain (null: the configured MAILGUN_DOMAIN). */
  domain: string | null;
  /** The earliest start of its campaigns in the window. */
  firstSendAt: Date;
  /** How far its log was read before (event_log_positions), if ever. */
  syncedUntil: Date | null;
}

/**
 * The sending domains whose provider log may hold events Herald lacks: those of campaigns
 * that started sending within `days` days or are still running or paused, optionally one
 * campaign only.
 */
export async function syncTargets(db: Kysely<Database>, days: number, campaignId?: number): Promise<SyncTarget[]> {
  const rows = await sql<{ domain: string | null; first_send_at: Date; synced_until: Date | null }>`
    select c.sending_domain as domain, min(c.started_at) as first_send_at,
      (select p.synced_until from event_log_positions p where p.domain = coalesce(c.sending_domain, '')) as synced_until
    from campaigns c
    where c.started_at is not null
      and (${campaignId ?? null}::bigint is null or c.id = ${campaignId ?? null}::bigint)
      and (c.started_at > now() - make_interval(days => ${days}) or c.status in ('running', 'paused')
           or c.finished_at > now() - make_interval(days => ${days}))
    group by c.sending_domain
    order by 1 nulls first
  `.execute(db);
  return rows.rows.map((r) => ({ domain: r.domain, firstSendAt: r.first_send_at, syncedUntil: r.synced_until }));
}
