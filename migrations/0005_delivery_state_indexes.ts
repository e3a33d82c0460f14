import { sql, type Kysely } from 'kysely';

// Only the rare, open states of a delivery are indexed by status. A campaign of a million
// recipients leaves a million sent rows; an index on (campaign_id, status) took an entry for
// every claim and another for every result, and kept the dead 'queued' entries of every row
// already sent until a vacuum, so the planner's cheap-looking path through it got slower with
// each batch. Each partial index below holds the rows one kind of query looks for (claiming
// released rows, a worker's open claims, rows of unknown outcome); sent, failed, suppressed
// and skipped rows cost no status index entry at all. Counting a campaign's rows by status
// reads its primary-key range instead, which is what `campaign status` needs anyway.
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`drop index deliveries_campaign_status`,
    sql`drop index deliveries_open_by_worker`,
    sql`create index deliveries_pending on deliveries (campaign_id, recipient_id) where status = 'pending'`,
    sql`create index deliveries_queued on deliveries (campaign_id, worker_id) where status = 'queued'`,
    sql`create index deliveries_unknown on deliveries (campaign_id, recipient_id) where status = 'unknown'`,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`drop index deliveries_unknown`,
    sql`drop index deliveries_queued`,
    sql`drop index deliveries_pending`,
    sql`create index deliveries_campaign_status on deliveries (campaign_id, status)`,
    sql`create index deliveries_open_by_worker on deliveries (worker_id) where status = 'queued'`,
  ]) {
    await statement.execute(db);
  }
}
