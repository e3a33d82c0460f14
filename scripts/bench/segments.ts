/**
 * Segment counts and samples on 1M recipients: for a set of representative segments (the
 * issue's example among them), `select count(*) from recipients r where <segment>` and the first
 * 10 recipients by id, as the count preview runs them, with the tables' statistics stale (never
 * analysed since the rows went in) and analysed; median of --runs runs each.
 *   DATABASE_URL=postgres://… npm run bench:segments -- --recipients 1000000 --runs 5
 *
 * The fixture is generated in SQL (generate_series): recipients with a few attributes as a CSV
 * import stores them (strings; 2% of scores not a number), five campaigns started 150 to 7 days
 * ago, each sent to 40% of the recipients (the last fifth of them never sent anything), outcomes
 * for 60% of the sent deliveries with opens, clicks, hard bounces and complaints, and 1% of the
 * addresses suppressed; the sent recipients are marked (sent_recipients) as the workers'
 * background step marks them once a campaign stops running. Autovacuum is off on the big tables so "stale" stays stale until the
 * benchmark runs ANALYZE. Each query runs in its own transaction after planSegmentQuery, as the
 * product runs them (--default-work-mem leaves it out, to compare). The database is its own,
 * dropped at the end (--keep keeps it; --reuse URL measures on a kept one).
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { sql, type Transaction } from 'kysely';
import { connect } from '../../src/db/connect.js';
import type { Database } from '../../src/db/schema.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { parseSegment } from '../../src/domain/segment/index.js';
import { markSentRecipients } from '../../src/sql/markSentRecipients.js';
import { planSegmentQuery } from '../../src/sql/planSegmentQuery.js';
import { segmentPredicate } from '../../src/sql/segmentPredicate.js';
import { benchDatabase, machineLine, median, writeBenchmarkSection } from '../lib/report.js';

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '5' },
    /** Only segments whose text contains this. */
    only: { type: 'string' },
    /** Records the table in BENCHMARKS.md ("Segments"). */
    write: { type: 'boolean', default: false },
    /** Keeps the generated database (its URL is printed) instead of dropping it. */
    keep: { type: 'boolean', default: false },
    /** Measures on a database kept by an earlier --keep run instead of generating one. */
    reuse: { type: 'string' },
    /** Runs the queries without planSegmentQuery (Postgres's default work_mem), to compare. */
    'default-work-mem': { type: 'boolean', default: false },
    /** Prints each count's plan (EXPLAIN ANALYZE) once per mode, to see where the time goes. */
    explain: { type: 'boolean', default: false },
  },
});
const n = Number(values.recipients.replaceAll('_', ''));
const runs = Number(values.runs);
const planned = !values['default-work-mem'];

const SEGMENTS = [
  'plan = "pro" and score >= 50 and city in ("Berlin", "Paris") and clicked within 90 days and not bounced',
  'vip exists or opened within 90 days or clicked in the last 2 campaigns',
  'plan = "pro"',
  'score >= 50 and score < 75',
  'city in ("berlin", "paris") ignoring case or company contains "42"',
  'email ends with "7@bench.test" and name starts with "R1"',
  'signup >= "2026-06-01" and vip exists',
  'phone is empty',
  'opened within 30 days',
  'clicked in the last 3 campaigns',
  'not opened within 90 days and not clicked within 90 days',
  'never sent',
  'bounced or complained',
  'not bounced and not complained and opened in the last 5 campaigns',
  'plan = "pro" and never sent',
].filter((s) => !values.only || s.includes(values.only));

const now = new Date();

const fresh = await benchDatabase('herald_bench_segments', values);
const db = await connect({ databaseUrl: fresh.url, poolSize: 2 });

async function generate(): Promise<void> {
  await migrateToLatest(db);
  const t0 = performance.now();
  for (const table of ['recipients', 'deliveries', 'delivery_outcomes', 'suppressions']) {
    await sql`alter table ${sql.table(table)} set (autovacuum_enabled = off)`.execute(db.kysely);
  }
  await sql`
    insert into recipients (email, name, attributes)
    select 'r' || g || '@bench.test', 'R' || g,
      jsonb_build_object(
        'plan', (array['free', 'basic', 'pro'])[1 + g % 3],
        'score', case when g % 50 = 0 then 'n/a' else ((g * 7) % 101)::text end,
        'city', (array['Berlin', 'Paris', 'Rome', 'Madrid', 'Lisbon', 'Vienna', 'Prague', 'Oslo'])[1 + (g / 7) % 8],
        'signup', to_char(date '2025-01-01' + (g % 700), 'YYYY-MM-DD')
      )
      || case when g % 2 = 0 then jsonb_build_object('company', 'Company ' || (g % 5000)) else '{}'::jsonb end
      || case when g % 10 = 0 then jsonb_build_object('vip', 'yes') else '{}'::jsonb end
    from generate_series(1, ${n}::int) g
  `.execute(db.kysely);
  await sql`insert into lists (name) values ('bench')`.execute(db.kysely);
  const slice = Math.floor(n / 5);
  const ago = [150, 120, 60, 30, 7];
  for (let k = 0; k < 5; k++) {
    const started = new Date(now.getTime() - ago[k]! * 86_400_000);
    const id = (
      await sql<{ id: number }>`
        insert into campaigns (name, list_id, template, subject, from_address, status, started_at, finished_at)
        values (${`c${k + 1}`}, 1, 'spring-sale', 'Hi', 'Shop <s@bench.test>', 'finished', ${started.toISOString()}::timestamptz, ${started.toISOString()}::timestamptz)
        returning id
      `.execute(db.kysely)
    ).rows[0]!.id;
    const from = k * Math.floor(slice / 2) + 1;
    const to = from + 2 * slice - 1;
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts, provider_id, sent_at, updated_at)
      select ${id}, g, case when g % 50 = 3 then 'failed' else 'sent' end, 1,
        case when g % 50 = 3 then null else '<' || g || '.' || ${id}::bigint || '@mg.bench.test>' end,
        case when g % 50 = 3 then null else ${started.toISOString()}::timestamptz end, now()
      from generate_series(${from}::int, ${to}::int) g
    `.execute(db.kysely);
    await sql`
      insert into delivery_outcomes (campaign_id, recipient_id, standing, delivered_at, failure_severity, failed_at,
        first_open_at, last_open_at, opens, first_click_at, last_click_at, clicks, complained_at)
      select campaign_id, recipient_id,
        case when recipient_id % 97 = 0 then 'bounced_hard' else 'delivered' end,
        case when recipient_id % 97 = 0 then null else sent_at + interval '1 minute' end,
        case when recipient_id % 97 = 0 then 'permanent' end,
        case when recipient_id % 97 = 0 then sent_at + interval '1 minute' end,
        o.first_open, o.first_open + make_interval(days => (recipient_id % 5)::int), (o.first_open is not null)::int,
        c.first_click, c.first_click + make_interval(hours => (recipient_id % 48)::int), (c.first_click is not null)::int,
        case when recipient_id % 1999 = 0 then sent_at + interval '2 hours' end
      from deliveries d
      cross join lateral (
        select case when (recipient_id * 7 + campaign_id) % 5 = 0 and recipient_id % 97 <> 0 then sent_at + make_interval(hours => (recipient_id % 72)::int) end as first_open
      ) o
      cross join lateral (
        select case when (recipient_id * 7 + campaign_id) % 20 = 0 and recipient_id % 97 <> 0 then sent_at + make_interval(hours => 1 + (recipient_id % 72)::int) end as first_click
      ) c
      where campaign_id = ${id} and status = 'sent' and recipient_id % 5 <> 1 and recipient_id % 5 <> 2
    `.execute(db.kysely);
  }
  await sql`
    insert into suppressions (email, reason, source)
    select lower(email), case when id % 3 = 0 then 'bounced' else 'unsubscribed' end, 'bench'
    from recipients where id % 100 = 50
  `.execute(db.kysely);
  // The sent recipients marked, as the workers' background step does once a campaign is no
  // longer running (migration 0015; "never sent" reads the mark).
  const tm = performance.now();
  while ((await markSentRecipients(db.kysely, { wait: true })) === 'more');
  console.log(`sent recipients marked in ${((performance.now() - tm) / 1000).toFixed(1)} s`);
  await sql`checkpoint`.execute(db.kysely);
  const counts = await sql<{ deliveries: number; outcomes: number }>`
    select (select count(*) from deliveries)::int as deliveries, (select count(*) from delivery_outcomes)::int as outcomes
  `.execute(db.kysely);
  const c = counts.rows[0]!;
  console.log(
    `${n.toLocaleString('en')} recipients, ${c.deliveries.toLocaleString('en')} deliveries, ${c.outcomes.toLocaleString('en')} outcomes generated in SQL in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

interface Row {
  segment: string;
  mode: 'stale' | 'analysed';
  count: number;
  countMs: number[];
  sampleMs: number[];
}

async function measure(text: string, mode: 'stale' | 'analysed'): Promise<Row> {
  const parsed = parseSegment(text);
  if (!parsed.ok) throw new Error(`${text}: ${parsed.error.message}`);
  const predicate = segmentPredicate(parsed.segment, now);
  const row: Row = { segment: text, mode, count: 0, countMs: [], sampleMs: [] };
  // Each query in its own transaction, as the count preview runs it (planSegmentQuery holds for one transaction).
  const inTransaction = <T>(f: (trx: Transaction<Database>) => Promise<T>): Promise<T> =>
    db.kysely.transaction().execute(async (trx) => {
      await sql`select set_config('statement_timeout', '120s', true)`.execute(trx);
      if (planned) await planSegmentQuery(trx);
      return f(trx);
    });
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    const counted = await inTransaction((trx) => sql<{ n: number }>`select count(*)::int as n from recipients r where ${predicate}`.execute(trx));
    row.countMs.push(performance.now() - t);
    row.count = counted.rows[0]!.n;
    t = performance.now();
    const sample = await inTransaction((trx) =>
      sql<{ id: number }>`select r.id, r.email, r.name, r.attributes from recipients r where ${predicate} order by r.id limit 10`.execute(trx),
    );
    row.sampleMs.push(performance.now() - t);
    if (sample.rows.length !== Math.min(10, row.count)) throw new Error(`${text}: ${sample.rows.length} samples for ${row.count} recipients`);
  }
  if (values.explain) {
    const plan = await inTransaction((trx) =>
      sql<{ 'QUERY PLAN': string }>`explain (analyze, buffers) select count(*)::int as n from recipients r where ${predicate}`.execute(trx),
    );
    console.log(plan.rows.map((p) => p['QUERY PLAN']).join('\n'));
  }
  console.log(`${mode} ${text}: ${row.count} recipients, count ${ms(median(row.countMs))}, sample ${ms(median(row.sampleMs))}`);
  return row;
}

const ms = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);

const rows: Row[] = [];
const loads: number[] = [];
try {
  if (!fresh.reused) await generate();
  for (const mode of ['stale', 'analysed'] as const) {
    if (mode === 'analysed') await sql`vacuum analyze recipients, deliveries, delivery_outcomes, suppressions, campaigns`.execute(db.kysely);
    for (const text of SEGMENTS) {
      loads.push(os.loadavg()[0]!);
      rows.push(await measure(text, mode));
    }
  }
} finally {
  await db.close();
  await fresh.done();
}

const table = [
  '| segment | recipients | count, stale | sample, stale | count, analysed | sample, analysed |',
  '|---|---:|---:|---:|---:|---:|',
  ...SEGMENTS.map((text) => {
    const stale = rows.find((r) => r.segment === text && r.mode === 'stale')!;
    const analysed = rows.find((r) => r.segment === text && r.mode === 'analysed')!;
    const cell = (times: number[]) => ms(median(times));
    return `| \`${text}\` | ${analysed.count.toLocaleString('en')} | ${cell(stale.countMs)} | ${cell(stale.sampleMs)} | ${cell(analysed.countMs)} | ${cell(analysed.sampleMs)} |`;
  }),
].join('\n');
console.log(table);
if (values.write) {
  writeBenchmarkSection(
    'Segments',
    `${machineLine()}; real Postgres on the same machine; median of ${runs} runs; 1-minute load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during the runs.

Command: \`DATABASE_URL=postgres://… npm run bench:segments -- --recipients ${values.recipients} --runs ${runs} --write\`

${n.toLocaleString('en')} recipients generated in SQL with attributes as a CSV import stores them, five campaigns of 40% of them each (the last fifth never sent anything), outcomes for 60% of the sent deliveries, the sent recipients marked as the workers' background step marks them (migration 0015). "count": \`select count(*) from recipients r where <segment>\`; "sample": the first 10 by id, as the count preview shows them; each in its own transaction after planSegmentQuery${planned ? '' : ' (left out: --default-work-mem)'}. "stale": never analysed since the rows went in (autovacuum off); "analysed": after VACUUM ANALYZE. The target is under a second each (issue #29).

${table}`,
  );
}
