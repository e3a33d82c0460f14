import { sql, type Kysely } from 'kysely';

// "never sent" without reading every delivery (docs/segments.md, "Why never sent reads a kept
// fact"). `sent_recipients` holds the id of every recipient a delivery to whom reached status
// `sent`: one narrow row each, inserted once, so marking rewrites no recipient row (the
// recipients heap, which every segment reads whole, does not grow). It is not written where
// deliveries are written (the send path stays as it is): a
// background step (src/sql/markSentRecipients.ts, run with the count fold) marks the sent
// recipients of each campaign that is not running, in batches, and records in
// `recipient_sends_marked` the campaign's kept sent count (delivery_counts, migration 0008)
// when that pass began. A campaign whose kept sent count is not the one recorded (running,
// sending again, never marked) is read from its deliveries by the segment instead, so the
// answer is exact whether or not the step has run.
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`create table sent_recipients (recipient_id bigint primary key references recipients (id) on delete cascade)`,
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
    sql`insert into sent_recipients (recipient_id) select distinct recipient_id from deliveries where status = 'sent'`,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [sql`drop table recipient_sends_marked`, sql`drop table sent_recipients`]) {
    await statement.execute(db);
  }
}
