import { sql, type Kysely } from 'kysely';

// "never sent" without reading every delivery (docs/segments.md, "Why never sent reads a kept
// fact"). `recipients.ever_sent` is true once a delivery to the recipient reached status
// `sent`. It is not written where deliveries are written (the send path stays as it is): a
// background step (src/sql/markSentRecipients.ts, run with the count fold) marks the sent
// recipients of each campaign that is not running, in batches, and records in
// `recipient_sends_marked` the campaign's kept sent count (delivery_counts, migration 0008)
// when that pass began. A campaign whose kept sent count is not the one recorded (running,
// sending again, never marked) is read from its deliveries by the segment instead, so the
// answer is exact whether or not the step has run.
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`alter table recipients add column ever_sent boolean not null default false`,
    sql`
      create table recipient_sends_marked (
        campaign_id bigint primary key references campaigns (id) on delete cascade,
        marked_sent bigint,
        pass_sent bigint,
        pass_after bigint
      )
    `,
    // What is there now, marked at once: every campaign's kept sent count, its sent recipients.
    sql`
      insert into recipient_sends_marked (campaign_id, marked_sent)
      select campaign_id, sum(n) from (
        select campaign_id, n from delivery_counts where status = 'sent'
        union all
        select campaign_id, n from delivery_count_changes where status = 'sent'
      ) k
      where exists (select 1 from campaigns c where c.id = k.campaign_id)
      group by campaign_id
    `,
    sql`update recipients r set ever_sent = true where exists (select 1 from deliveries d where d.recipient_id = r.id and d.status = 'sent')`,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [sql`drop table recipient_sends_marked`, sql`alter table recipients drop column ever_sent`]) {
    await statement.execute(db);
  }
}
