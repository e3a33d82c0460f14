import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/**
 * Forgets workers whose lease expired and marks their open claims `unknown`: the message may
 * or may not have reached the provider. Also catches claims whose worker row is gone.
 * Returns the campaigns that got unknown rows.
 *
 * An unknown row's `claimed_at` becomes at least its worker's last heartbeat: a request may
 * have started as late as that (the claim itself can be much older, held through a provider
 * outage), and the provider's log is read `--reconcile-after` from then.
 */
export async function expireDeadWorkers(db: Kysely<Database>, leaseMs: number): Promise<number[]> {
  return db.transaction().execute(async (trx) => {
    const dead = await sql<{ id: string; heartbeat_at: Date }>`
      delete from workers where heartbeat_at < now() - make_interval(secs => ${leaseMs / 1000}) returning id, heartbeat_at
    `.execute(trx);
    const ids = dead.rows.map((r) => r.id);
    const beats = dead.rows.map((r) => r.heartbeat_at.toISOString());
    const orphaned = await sql<{ campaign_id: number }>`
      update deliveries d set status = 'unknown', updated_at = now(),
        claimed_at = greatest(d.claimed_at, (select u.beat from unnest(${ids}::text[], ${beats}::timestamptz[]) as u(id, beat) where u.id = d.worker_id))
      where d.status = 'queued' and not exists (select 1 from workers w where w.id = d.worker_id)
      returning d.campaign_id
    `.execute(trx);
    return [...new Set(orphaned.rows.map((r) => r.campaign_id))];
  });
}
