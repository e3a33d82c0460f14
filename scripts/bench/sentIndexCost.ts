/**
 * What an index for the segment condition "never sent" would cost the send path: the sender's
 * result write (src/sql/writeResults.ts, batches of 500 rows queued → sent) timed on a deliveries
 * table with history, with and without a partial index `deliveries (recipient_id) where status =
 * 'sent'`, in alternating rounds; and what the index buys: `count(*) … where never sent` with and
 * without it. docs/segments.md, "Indexes", says what was chosen and why.
 *   DATABASE_URL=postgres://… node dist/scripts/bench/sentIndexCost.js --recipients 1000000 --rounds 3
 */
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { connect } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { parseSegment } from '../../src/domain/segment/index.js';
import { segmentPredicate } from '../../src/sql/segmentPredicate.js';
import { writeResults, type DeliveryResult } from '../../src/sql/writeResults.js';
import { freshDatabase, median } from '../lib/report.js';

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '1000000' },
    /** Campaigns of history, each to every recipient, before the measured rounds. */
    history: { type: 'string', default: '2' },
    /** Rows sent per measured round. */
    send: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
  },
});
const n = Number(values.recipients.replaceAll('_', ''));
const history = Number(values.history);
const perRound = Number(values.send.replaceAll('_', ''));
const rounds = Number(values.rounds);
const BATCH = 500;

const fresh = await freshDatabase('herald_bench_sent_index');
const db = await connect({ databaseUrl: fresh.url, poolSize: 4 });

async function newCampaign(name: string): Promise<number> {
  const row = await sql<{ id: number }>`
    insert into campaigns (name, list_id, template, subject, from_address, status, started_at)
    values (${name}, 1, 'spring-sale', 'Hi', 'Shop <s@bench.test>', 'running', now()) returning id
  `.execute(db.kysely);
  return row.rows[0]!.id;
}

/** Claims (as the claim inserts them) and sends `perRound` recipients; returns the milliseconds spent in writeResults. */
async function sendRound(campaignId: number): Promise<number> {
  let spent = 0;
  for (let start = 1; start <= perRound; start += BATCH) {
    const end = Math.min(perRound, start + BATCH - 1);
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, worker_id, claimed_at)
      select ${campaignId}, g, 'queued', 'w1', now() from generate_series(${start}::int, ${end}::int) g
    `.execute(db.kysely);
    const results: DeliveryResult[] = [];
    for (let id = start; id <= end; id++) {
      results.push({
        campaignId,
        recipientId: id,
        status: 'sent',
        attempts: 1,
        providerId: `<${id}.${campaignId}@mg.bench.test>`,
        errorCode: null,
        errorMessage: null,
        sentAt: new Date(),
      });
    }
    const t = performance.now();
    await writeResults(db.kysely, results);
    spent += performance.now() - t;
  }
  return spent;
}

async function neverSentCount(): Promise<number> {
  const parsed = parseSegment('never sent');
  if (!parsed.ok) throw new Error(parsed.error.message);
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    await sql`select count(*) from recipients r where ${segmentPredicate(parsed.segment, new Date())}`.execute(db.kysely);
    times.push(performance.now() - t);
  }
  return median(times);
}

const withIndex: number[] = [];
const without: number[] = [];
try {
  await migrateToLatest(db);
  await sql`insert into lists (name) values ('bench')`.execute(db.kysely);
  await sql`insert into recipients (email) select 'r' || g || '@bench.test' from generate_series(1, ${n}::int) g`.execute(db.kysely);
  for (let h = 0; h < history; h++) {
    const id = await newCampaign(`history ${h}`);
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts, provider_id, sent_at)
      select ${id}, g, 'sent', 1, '<' || g || '@mg.bench.test>', now() from generate_series(1, ${n}::int) g
    `.execute(db.kysely);
  }
  await sql`vacuum analyze`.execute(db.kysely);
  console.log(`${n.toLocaleString('en')} recipients, ${(history * n).toLocaleString('en')} deliveries of history`);

  const noIndexCount = await neverSentCount();
  await sql`create index deliveries_sent_recipient on deliveries (recipient_id) where status = 'sent'`.execute(db.kysely);
  await sql`vacuum analyze deliveries`.execute(db.kysely);
  const indexCount = await neverSentCount();
  await sql`drop index deliveries_sent_recipient`.execute(db.kysely);

  for (let r = 0; r < rounds; r++) {
    for (const indexed of [false, true]) {
      if (indexed) await sql`create index deliveries_sent_recipient on deliveries (recipient_id) where status = 'sent'`.execute(db.kysely);
      await sql`vacuum analyze deliveries`.execute(db.kysely);
      const ms = await sendRound(await newCampaign(`round ${r} ${indexed}`));
      (indexed ? withIndex : without).push(ms);
      console.log(`round ${r + 1} ${indexed ? 'with' : 'without'} the index: ${((ms / perRound) * 1000).toFixed(1)} ms per 1,000 results`);
      if (indexed) await sql`drop index deliveries_sent_recipient`.execute(db.kysely);
    }
  }
  const per1000 = (v: number[]) => (median(v) / perRound) * 1000;
  console.log(`| | without the index | with the index |`);
  console.log(`|---|---:|---:|`);
  console.log(`| writeResults, ms per 1,000 results (median of ${rounds}) | ${per1000(without).toFixed(1)} | ${per1000(withIndex).toFixed(1)} |`);
  console.log(`| count of "never sent", ms | ${Math.round(noIndexCount)} | ${Math.round(indexCount)} |`);
  console.log(`write cost of the index: ${(((per1000(withIndex) - per1000(without)) / per1000(without)) * 100).toFixed(1)}% of the result write`);
} finally {
  await db.close();
  await fresh.drop();
}
