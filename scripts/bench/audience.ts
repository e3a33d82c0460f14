/**
 * Audience benchmark (issue "Audience"): a campaign over two overlapping lists, minus an
 * exclusion list, filtered by a segment, on a database of 1,000,000 recipients.
 *   DATABASE_URL=postgres://… npm run bench:audience -- --recipients 1000000 --runs 3
 * Measures, per run:
 *   (a) start → first message accepted by the mock: `campaign start` (which fixes the audience
 *       in its transaction) with an idle `herald worker --watch` already waiting; also how long
 *       the start's transaction took.
 *   (b) the send rate of a segmented campaign (a narrower segment over the same lists) and of a
 *       campaign over a plain list of the same recipients, each as `herald campaign start ID --wait` (the send benchmark's way, scripts/bench/run.ts),
 *       in alternating order from run to run; the ratio is taken within a run.
 *   (c) the count preview (`segments count`: size after exclusions and suppressions, 10 samples,
 *       attributes no recipient has) on the whole database and on the campaign's lists.
 * The mock runs in its own process as in the send benchmark (50 ms ± 20 ms, 0.25% 429s and 503s).
 * --counts-only measures (c) alone; --keep keeps the generated database and --reuse URL measures
 * on a kept one (with --counts-only: the other parts make lists and campaigns of fixed names).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type RawBuilder } from 'kysely';
import { previewAudience, type AudienceInput } from '../../src/campaigns/audience.js';
import { controlCampaign } from '../../src/campaigns/control.js';
import { createCampaign } from '../../src/campaigns/create.js';
import { loadConfig } from '../../src/config/config.js';
import { connect } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { markSentRecipients } from '../../src/sql/markSentRecipients.js';
import { MOCK_DOMAIN, MOCK_KEY, runHerald, spawnHerald, startMockProcess } from '../../test/support/processes.js';
import { benchDatabase, machineLine, median, writeBenchmarkSection } from '../lib/report.js';

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    /** Count previews timed per run (the median is reported). */
    counts: { type: 'string', default: '5' },
    'send-where': { type: 'string', default: 'plan in ("pro", "team") and score >= 60 and score < 70 and not bounced' },
    'no-write': { type: 'boolean', default: false },
    /** Only (c), the count previews: no mock sends, no campaign starts. */
    'counts-only': { type: 'boolean', default: false },
    /** Keeps the generated database (its URL is printed) instead of dropping it. */
    keep: { type: 'boolean', default: false },
    /** Measures on a database kept by an earlier --keep run instead of generating one. */
    reuse: { type: 'string' },
  },
});
const countsOnly = values['counts-only'];
if (values.reuse && !countsOnly) throw new Error('--reuse measures the counts alone: add --counts-only (the sends make lists and campaigns of fixed names)');
const recipients = Number(values.recipients);
const runs = Number(values.runs);
const countRepeats = Number(values.counts);

const LISTS = ['customers', 'trial'];
const EXCLUDED = ['press'];
const SEGMENT = 'plan in ("pro", "team") and score >= 60 and not bounced';
const audienceInput: AudienceInput = { lists: LISTS, excludeLists: EXCLUDED, where: SEGMENT };
/**
 * (b) sends whole campaigns, so it uses a narrower segment over the same lists (a twentieth
 * of them by default): the send rate is steady long before that many messages.
 */
const SEND_SEGMENT = values['send-where'];
/** (a) also with a segment every recipient matches: the audience is the whole of both lists minus press. */
const BROAD_SEGMENT = 'score >= 0 and not bounced';
const broadInput: AudienceInput = { lists: LISTS, excludeLists: EXCLUDED, where: BROAD_SEGMENT };
const sendInput: AudienceInput = { lists: LISTS, excludeLists: EXCLUDED, where: SEND_SEGMENT };

interface RunResult {
  /** The machine's 1-minute load average when the run began (other work on the machine slows every number). */
  load: number;
  startMs: number;
  firstAcceptedMs: number;
  broadStartMs: number;
  broadFirstAcceptedMs: number;
  segmentRate: number;
  plainRate: number;
  order: string;
  countAllMs: number;
  countListsMs: number;
}

const fresh = await benchDatabase('herald_bench_audience', values);
const mock = await startMockProcess(['--latency', '50', '--jitter', '20', '--fail-rate', '0.0025', '--throttle-rate', '0.0025', '--record', 'deliveries']);
const db = await connect({ databaseUrl: fresh.url });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-audience-'));
const env = { DATABASE_URL: fresh.url, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url, HERALD_SECRET: 'bench-secret' };
const config = loadConfig({ ...process.env, ...env });
const results: RunResult[] = [];
let cleaned = false;
/** Drops the database, stops the mock: at the end, or when the run is interrupted. */
async function cleanUp(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await db.close();
  await mock.stop();
  await fresh.done();
  fs.rmSync(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanUp().finally(() => process.exit(130));
  });
}
let audienceSize = 0;
let sendSize = 0;
let broadSize = 0;
let setupSeconds = 0;

const accepted = async (): Promise<number> => (await mock.stats()).accepted;
const resetMock = async (): Promise<void> => {
  await fetch(`${mock.url}/mock/reset`, { method: 'POST' });
};
const newCampaign = (name: string, input: AudienceInput): Promise<number> =>
  createCampaign(db, config, {
    name,
    ...input,
    template: 'spring-sale',
    subject: 'Spring sale for {{ name }}',
    from: `Shop <news@${MOCK_DOMAIN}>`,
    tags: ['bench'],
  });

/** `campaign start ID --wait` after the audience was fixed: the send rate alone. */
async function sendRate(id: number): Promise<number> {
  await controlCampaign(db, config, id, 'start');
  const statsFile = path.join(work, `herald-${id}.json`);
  await runHerald(['campaign', 'start', String(id), '--wait', '--stats-json', statsFile], { ...env, LOG_LEVEL: 'warn' });
  const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8')) as { messagesPerSecond: number; status: string };
  if (stats.status !== 'finished') throw new Error(`campaign ${id} ended ${stats.status}`);
  await resetMock();
  return stats.messagesPerSecond;
}

/** With an idle `worker --watch` waiting: how long the start takes, and until the mock accepts the first message. */
async function timeToFirstMessage(name: string, input: AudienceInput): Promise<{ startMs: number; firstAcceptedMs: number }> {
  const id = await newCampaign(name, input);
  const worker = spawnHerald(['worker', '--watch'], { ...env, LOG_LEVEL: 'warn' });
  await sleep(3000);
  const before = await accepted();
  const started = performance.now();
  await controlCampaign(db, config, id, 'start');
  const startMs = performance.now() - started;
  while ((await accepted()) <= before) await sleep(5);
  const firstAcceptedMs = performance.now() - started;
  await controlCampaign(db, config, id, 'cancel');
  worker.process.kill('SIGTERM');
  await worker.exited;
  await resetMock();
  return { startMs, firstAcceptedMs };
}

async function timedCount(input: AudienceInput): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < countRepeats; i++) {
    const t0 = performance.now();
    await previewAudience(db, input);
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** A list of the recipients matching `where`. */
async function ids(name: string, where: RawBuilder<unknown>): Promise<void> {
  const list = await db.kysely.insertInto('lists').values({ name }).returning('id').executeTakeFirstOrThrow();
  await sql`insert into list_members (list_id, recipient_id) select ${list.id}, id from recipients where ${where}`.execute(db.kysely);
}

/** The database: recipients, the three lists, an earlier campaign with outcomes. */
async function generate(): Promise<void> {
  await migrateToLatest(db);
  await sql`
    insert into recipients (email, name, attributes)
    select 'reader' || g || '@example' || (g % 97) || '.com', 'Reader ' || g,
      jsonb_build_object(
        'plan', case when g % 10 < 3 then 'pro' when g % 10 < 5 then 'team' else 'free' end,
        'score', (g::bigint * 7919) % 100,
        'city', 'City ' || (g % 500),
        'products', case when g % 3 = 0 then 'tent,lantern,boots,pack,stove,jacket' else '' end)
    from generate_series(1, ${recipients}) g
  `.execute(db.kysely);
  // Two lists overlapping in a fifth of the recipients, and one to leave out.
  await ids('customers', sql`id <= ${Math.round(recipients * 0.6)}`);
  await ids('trial', sql`id > ${Math.round(recipients * 0.4)}`);
  await ids('press', sql`id % 50 = 0`);
  // Some history, as a database of this size has: an earlier campaign to 40% of the recipients,
  // with outcomes for 60% of those, 1% of them hard bounces (what `not bounced` reads).
  const history = await sql<{ id: number }>`
    insert into campaigns (name, list_id, template, subject, from_address, status, list_exhausted, started_at, finished_at)
    select 'history', id, 'spring-sale', 'Earlier', ${`news@${MOCK_DOMAIN}`}, 'finished', true, now() - interval '30 days', now() - interval '29 days'
    from lists where name = 'customers'
    returning id
  `.execute(db.kysely);
  const historyId = history.rows[0]!.id;
  await sql`
    insert into deliveries (campaign_id, recipient_id, status, attempts, sent_at)
    select ${historyId}, id, 'sent', 1, now() - interval '30 days' from recipients where id % 5 < 2
  `.execute(db.kysely);
  await sql`
    insert into delivery_outcomes (campaign_id, recipient_id, standing, delivered_at, failure_severity, failed_at)
    select ${historyId}, recipient_id,
      case when recipient_id % 100 = 1 then 'bounced_hard' else 'delivered' end,
      case when recipient_id % 100 = 1 then null else now() - interval '30 days' end,
      case when recipient_id % 100 = 1 then 'permanent' end,
      case when recipient_id % 100 = 1 then now() - interval '30 days' end
    from deliveries where campaign_id = ${historyId} and recipient_id % 10 < 6
  `.execute(db.kysely);
  // Its sent recipients marked, as the workers' background step would have by now (migration
  // 0015): the measured runs do not do that work for an earlier campaign.
  while ((await markSentRecipients(db.kysely, { wait: true })) === 'more');
  // As in the send benchmark: no autovacuum or checkpoint of the load during the measured phases.
  await sql`vacuum analyze`.execute(db.kysely);
  await sql`checkpoint`.execute(db.kysely);
}

try {
  const t0 = performance.now();
  if (!fresh.reused) await generate();
  audienceSize = (await previewAudience(db, audienceInput)).count;
  sendSize = (await previewAudience(db, sendInput)).count;
  broadSize = (await previewAudience(db, broadInput)).count;
  setupSeconds = (performance.now() - t0) / 1000;
  console.log(
    `${recipients.toLocaleString('en')} recipients; segmented audience ${audienceSize.toLocaleString('en')}, sent campaigns ${sendSize.toLocaleString('en')}; set up in ${setupSeconds.toFixed(0)} s`,
  );

  for (let run = 1; run <= runs; run++) {
    const load = os.loadavg()[0]!;
    if (countsOnly) {
      const all = await timedCount({ where: SEGMENT });
      const lists = await timedCount(audienceInput);
      console.log(`run ${run} (load ${load.toFixed(1)}): count ${all.toFixed(0)} ms (all), ${lists.toFixed(0)} ms (lists)`);
      continue;
    }
    // (a) An idle watching worker; the start fixes the audience, the worker sends at once.
    const a = await timeToFirstMessage(`start-${run}`, audienceInput);
    const broad = await timeToFirstMessage(`start-broad-${run}`, broadInput);

    // (b) The same-size plain campaign and the segmented one, alternating which goes first.
    const segmentFirst = run % 2 === 1;
    // The plain list holds exactly the segmented campaign's audience: the same people, the
    // same recipient rows read, only the way the audience was defined differs.
    const segmented = await newCampaign(`segment-${run}`, sendInput);
    await controlCampaign(db, config, segmented, 'start');
    await ids(`plain-${run}`, sql`id in (select recipient_id from campaign_audience where campaign_id = ${segmented})`);
    const plain = await newCampaign(`plain-${run}`, { lists: [`plain-${run}`] });
    let segmentRate: number;
    let plainRate: number;
    if (segmentFirst) {
      segmentRate = await sendRate(segmented);
      plainRate = await sendRate(plain);
    } else {
      plainRate = await sendRate(plain);
      segmentRate = await sendRate(segmented);
    }

    // (c) Count previews.
    const countAllMs = await timedCount({ where: SEGMENT });
    const countListsMs = await timedCount(audienceInput);
    const r: RunResult = {
      load,
      startMs: a.startMs,
      firstAcceptedMs: a.firstAcceptedMs,
      broadStartMs: broad.startMs,
      broadFirstAcceptedMs: broad.firstAcceptedMs,
      segmentRate,
      plainRate,
      order: segmentFirst ? 'segment, plain' : 'plain, segment',
      countAllMs,
      countListsMs,
    };
    results.push(r);
    console.log(
      `run ${run} (load ${load.toFixed(1)}): start ${r.startMs.toFixed(0)} ms, first accepted ${r.firstAcceptedMs.toFixed(0)} ms; all: start ${r.broadStartMs.toFixed(0)} ms, first accepted ${r.broadFirstAcceptedMs.toFixed(0)} ms | segment ${segmentRate}/s, plain ${plainRate}/s (${r.order}), ${((segmentRate / plainRate) * 100).toFixed(1)}% | count ${countAllMs.toFixed(0)} ms (all), ${countListsMs.toFixed(0)} ms (lists)`,
    );
  }
} finally {
  await cleanUp();
}

if (countsOnly) process.exit(0);
const med = (pick: (r: RunResult) => number): number => median(results.map(pick));
const ms = (n: number): string => `${(n / 1000).toFixed(2)} s`;
const table = [
  '| measure | median | runs | target |',
  '|---|---:|---|---|',
  `| (a) start's transaction (audience of ${audienceSize.toLocaleString('en')} fixed) | ${ms(med((r) => r.startMs))} | ${results.map((r) => ms(r.startMs)).join(', ')} | |`,
  `| (a) start → first message accepted | ${ms(med((r) => r.firstAcceptedMs))} | ${results.map((r) => ms(r.firstAcceptedMs)).join(', ')} | < 10 s |`,
  `| (a) start's transaction, segment matching all (${broadSize.toLocaleString('en')}) | ${ms(med((r) => r.broadStartMs))} | ${results.map((r) => ms(r.broadStartMs)).join(', ')} | |`,
  `| (a) start → first message accepted, segment matching all | ${ms(med((r) => r.broadFirstAcceptedMs))} | ${results.map((r) => ms(r.broadFirstAcceptedMs)).join(', ')} | < 10 s |`,
  `| (b) segmented campaign, msgs/s | ${Math.round(med((r) => r.segmentRate)).toLocaleString('en')} | ${results.map((r) => r.segmentRate).join(', ')} | |`,
  `| (b) plain list of the same recipients, msgs/s | ${Math.round(med((r) => r.plainRate)).toLocaleString('en')} | ${results.map((r) => r.plainRate).join(', ')} | |`,
  `| (b) segmented / plain (within a run) | ${(med((r) => r.segmentRate / r.plainRate) * 100).toFixed(1)}% | ${results.map((r) => `${((r.segmentRate / r.plainRate) * 100).toFixed(1)}% (${r.order})`).join(', ')} | ≥ 95% |`,
  `| (c) segment count, every recipient | ${ms(med((r) => r.countAllMs))} | ${results.map((r) => ms(r.countAllMs)).join(', ')} | < 1 s |`,
  `| (c) segment count, two lists minus one | ${ms(med((r) => r.countListsMs))} | ${results.map((r) => ms(r.countListsMs)).join(', ')} | < 1 s |`,
].join('\n');
console.log(table);
if (!values['no-write']) {
  writeBenchmarkSection(
    `Audience: segment over two lists minus one, ${recipients.toLocaleString('en')} recipients, Node ${process.versions.node.split('.')[0]}`,
    `${machineLine()}; median of ${runs} runs (each count the median of ${countRepeats}).\n\nCommand: \`DATABASE_URL=postgres://… npm run bench:audience -- --recipients ${recipients} --runs ${runs}\`\n\nWorkload: real Postgres 15; ${recipients.toLocaleString('en')} recipients with plan, score, city and products attributes; lists \`customers\` (the first 60%) and \`trial\` (the last 60%), overlapping in a fifth; \`press\` (every 50th) excluded; segment \`${SEGMENT}\`, an audience of ${audienceSize.toLocaleString('en')} for (a) and (c); (a) again with the segment \`${BROAD_SEGMENT}\`, which every recipient matches (${broadSize.toLocaleString('en')}: both lists minus press). (b) sends two whole campaigns of ${sendSize.toLocaleString('en')}: one over the same lists with the segment \`${SEND_SEGMENT}\`, one to a plain list holding exactly the first one's audience (the same recipients). (a) is measured from the start call (which fixes the audience in its transaction) with \`herald worker --watch\` already running, to the mock's first accepted message. (b) runs each campaign as \`herald campaign start ID --wait\` after its audience is fixed, on the send benchmark's mock (50 ms ± 20 ms, 0.25% 429s and 503s), alternating which goes first. (c) is \`previewAudience\` (count after exclusions and suppressions, 10 samples, missing attributes) in-process. The database also holds an earlier campaign to 40% of the recipients with outcomes for 60% of those (1% hard bounces). The machine's 1-minute load average at the start of each run: ${results.map((r) => r.load.toFixed(1)).join(', ')} (other work on its 2 cores slows every number).\n\n${table}`,
  );
}
