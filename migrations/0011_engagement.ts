import { sql, type Kysely } from 'kysely';

// What segments' engagement conditions read (docs/segments.md, "Engagement" and "Indexes").
//
// - `delivery_outcomes.last_open_at` / `last_click_at`: the latest open and click of a delivery,
//   kept by the outcome fold (src/domain/outcome.ts) like the first ones: "opened within 90 days"
//   asks for the latest. Filled here from the stored events (or the first open or click where
//   the events are gone).
// - `delivery_outcomes (recipient_id)`: a recipient's outcomes across campaigns, for opened,
//   clicked, bounced and complained. recipient_id never changes, so the index does not stop
//   the fold's updates of a row from being HOT; it is written once per delivery that has events,
//   by ingestion, never by sending.
// - `delivery_outcomes_bounced` / `_complained`: the few outcomes with a hard bounce or a
//   complaint, so "bounced" and "not bounced" read those rows instead of every outcome. An
//   outcome row enters them once, when the fact arrives.
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`alter table delivery_outcomes add column last_open_at timestamptz, add column last_click_at timestamptz`,
    sql`
      update delivery_outcomes o
      set last_open_at = greatest(o.first_open_at, e.last_open), last_click_at = greatest(o.first_click_at, e.last_click)
      from (
        select campaign_id, recipient_id,
          max(occurred_at) filter (where event = 'opened') as last_open,
          max(occurred_at) filter (where event = 'clicked') as last_click
        from delivery_events where event in ('opened', 'clicked')
        group by 1, 2
      ) e
      where o.campaign_id = e.campaign_id and o.recipient_id = e.recipient_id
    `,
    sql`
      update delivery_outcomes set last_open_at = coalesce(last_open_at, first_open_at), last_click_at = coalesce(last_click_at, first_click_at)
      where (last_open_at is null and first_open_at is not null) or (last_click_at is null and first_click_at is not null)
    `,
    sql`create index delivery_outcomes_recipient on delivery_outcomes (recipient_id)`,
    sql`create index delivery_outcomes_bounced on delivery_outcomes (recipient_id) where failure_severity = 'permanent'`,
    sql`create index delivery_outcomes_complained on delivery_outcomes (recipient_id) where complained_at is not null`,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`drop index delivery_outcomes_complained`,
    sql`drop index delivery_outcomes_bounced`,
    sql`drop index delivery_outcomes_recipient`,
    sql`alter table delivery_outcomes drop column last_open_at, drop column last_click_at`,
  ]) {
    await statement.execute(db);
  }
}
