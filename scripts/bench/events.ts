/**
 * Provider events after acceptance (issue #28): how fast Herald takes them in and what that
 * costs, on real Postgres.
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:events -- --runs 3
 *
 * One database for the whole benchmark (freshDatabase): N recipients (--deliveries), and two
 * finished campaigns of N `sent` deliveries each, generated in SQL (generate_series), one for
 * the webhooks and one for the stream. Then, in each run:
 * 1. Webhooks: `herald serve` in a child process, and --webhooks signed Mailgun webhooks
 *    (delivered for each recipient of a fresh range, opens for ~40%, clicks for ~10%) built
 *    before the clock starts and posted from this process through an undici Pool with
 *    --concurrency requests in flight. Events/s, serve's RSS (start, peak, end), serve's CPU,
 *    Postgres CPU.
 * 2. Backfill: a campaign of --backfill-messages recipients is sent once (first run) through
 *    a mock (`herald mock-mailgun`, its own process) that plays deliveries, opens and clicks
 *    into its event log, no webhooks. Each run clears that campaign's recorded events and
 *    times `herald events sync --campaign ID` (a CLI run: events read over its wall time less
 *    the wall time of a sync that finds nothing to read, i.e. Node start-up, connecting and
 *    migrations checked), and again in this process through syncEventLog.
 * 3. Sending while ingesting: the send benchmark's Herald contender (`herald campaign start
 *    ID --wait` against a mock at 50 ms ± 20 ms, scripts/bench/run.ts) on a list of
 *    --send-recipients, twice: alone, and while webhooks for the first campaign are posted to
 *    serve at --background-rate per second; the order alternates between runs.
 * Once, after the runs: the stream campaign's whole event stream (scripts/bench/eventStream.ts,
 * ~3.3 events per delivery) recorded through the ingester in a child process, its RSS over
 * time; then `campaign status` with the funnel on that campaign, in process
 * (campaignStatusReport), through the API (serve, read cache off) and as a CLI run.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { Pool, request } from 'undici';
import { createCampaign } from '../../src/campaigns/create.js';
import { campaignStatusReport } from '../../src/campaigns/status.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/config/log.js';
import { packageRoot } from '../../src/config/paths.js';
import { connect } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { EventIngester } from '../../src/events/ingester.js';
import { syncEventLog } from '../../src/events/logSync.js';
import { MailgunClient } from '../../src/provider/mailgun/client.js';
import { findCampaign } from '../../src/sql/findCampaign.js';
import { insertCampaign } from '../../src/sql/insertCampaign.js';
import { transitionCampaign } from '../../src/sql/transitionCampaign.js';
import { processTicks, TickCounter, clockTicksPerSecond, watchPeakRss } from '../lib/procStats.js';
import { insertBenchRecipients } from '../lib/fixtures.js';
import { freshDatabase, machineLine, median, postgresCpuSeconds, writeBenchmarkSection } from '../lib/report.js';
import { eventData, streamSize, webhookBody, webhookMix, webhookMixSize } from './providerEvents.js';

const { values } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '1000000' },
    webhooks: { type: 'string', default: '200000' },
    concurrency: { type: 'string', default: '500' },
    runs: { type: 'string', default: '3' },
    'backfill-messages': { type: 'string', default: '100000' },
    'send-recipients': { type: 'string', default: '50000' },
    'background-rate': { type: 'string', default: '1500' },
    'status-samples': { type: 'string', default: '20' },
    'no-write': { type: 'boolean', default: false },
    'skip-send': { type: 'boolean', default: false },
    'skip-backfill': { type: 'boolean', default: false },
    'skip-stream': { type: 'boolean', default: false },
    /** Also sends while serve refuses the background webhooks (a wrong signature): their HTTP and JSON work without the database's. */
    'send-diagnose': { type: 'boolean', default: false },
    /**
     * Sends at this many messages a second (the campaign's rate) instead of as fast as the box
     * allows: a provider's rate limit leaves the CPU headroom a full-speed send does not.
     */
    'send-rate': { type: 'string', default: '' },
    /** Writes V8 CPU profiles of serve, the CLI's events sync and the stream's process into this folder. */
    profile: { type: 'string', default: '' },
  },
});
const deliveries = Number(values.deliveries);
const webhooksPerRun = Number(values.webhooks);
const concurrency = Number(values.concurrency);
const runs = Number(values.runs);
const backfillMessages = Math.min(deliveries, Number(values['backfill-messages']));
const sendRecipients = Math.min(deliveries, Number(values['send-recipients']));
const backgroundRate = Number(values['background-rate']);
const statusSamples = Number(values['status-samples']);
const cli = path.join(packageRoot, 'dist/src/cli/main.js');
const here = path.dirname(new URL(import.meta.url).pathname);
const SIGNING_KEY = 'bench-webhook-signing-key';
const API_KEY = 'key-bench-events';
const DOMAIN = 'bench.herald.test';
const profileArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : [];
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The environment of a Herald child process: the caller's, without Herald's or Mailgun's settings, plus `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HERALD_') && !k.startsWith('MAILGUN_')) out[k] = v;
  return { ...out, LOG_LEVEL: 'warn', HERALD_SECRET: 'bench-secret', ...env };
}

async function startChild(args: string[], env: NodeJS.ProcessEnv, pattern: RegExp): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  for await (const line of createInterface({ input: child.stdout! })) {
    const m = pattern.exec(line);
    if (m) {
      child.stdout!.resume();
      return {
        url: m[1]!.replace(/\/$/, ''),
        pid: child.pid!,
        stop: async () => {
          if (child.exitCode !== null) return;
          child.kill('SIGTERM');
          await once(child, 'exit');
        },
      };
    }
  }
  throw new Error(`${args.join(' ')} did not start`);
}

const startMock = (flags: string[]) => startChild([cli, 'mock-mailgun', '--port', '0', '--api-key', API_KEY, ...flags], childEnv({}), /(http:\/\/\S+)/);

/** Runs a CLI command to its end: its stdout, wall time (s) and peak RSS (MB). */
async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ out: string; seconds: number; peakRssMb: number | null }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...(args[0] === 'events' ? profileArgs : []), cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
  const peak = watchPeakRss(child.pid!);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  const seconds = (performance.now() - t0) / 1000;
  const peakRssMb = peak.stop();
  if (code !== 0) throw new Error(`herald ${args.join(' ')} exited ${code}: ${out}`);
  return { out, seconds, peakRssMb };
}

/** VmRSS of a process every 200 ms until stop(): start, peak, end and the medians of the first and last quarter (MB). */
function sampleRssOf(pid: number): { stop: () => RssSummary } {
  const read = (): number | null => {
    try {
      const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
      return m ? Number(m[1]) / 1024 : null;
    } catch {
      return null;
    }
  };
  const samples: number[] = [];
  const take = (): void => {
    const v = read();
    if (v !== null) samples.push(v);
  };
  take();
  const timer = setInterval(take, 200);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      const quarter = Math.max(1, Math.floor(samples.length / 4));
      return {
        startMb: Math.round(samples[0] ?? 0),
        peakMb: Math.round(Math.max(...samples)),
        endMb: Math.round(samples.at(-1) ?? 0),
        firstQuarterMb: Math.round(median(samples.slice(0, quarter))),
        lastQuarterMb: Math.round(median(samples.slice(-quarter))),
      };
    },
  };
}
interface RssSummary {
  startMb: number;
  peakMb: number;
  endMb: number;
  firstQuarterMb: number;
  lastQuarterMb: number;
}

/**
 * CPU seconds of the Postgres backends of one database (found by its name in their process
 * title, sampled every 200 ms; other databases on a shared server do not count), and of the
 * whole server (postgresCpuSeconds: also WAL writer, checkpointer, autovacuum, and every other
 * database's backends).
 */
function postgresCpu(dbName: string): { stop: () => { database: number; server: number | null } } {
  const counter = new TickCounter();
  const titled = ` ${dbName} `;
  const known = new Set<number>();
  const sample = (): void => {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      if (!known.has(pid)) {
        try {
          if (!fs.readFileSync(`/proc/${pid}/stat`, 'latin1').includes(' (postgres) ')) continue;
          if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(titled)) continue;
        } catch {
          continue;
        }
        known.add(pid);
      }
    }
    counter.sample(known);
  };
  const server0 = postgresCpuSeconds();
  sample();
  const timer = setInterval(sample, 200);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      const server1 = postgresCpuSeconds();
      return { database: counter.seconds(), server: server0 === null || server1 === null ? null : server1 - server0 };
    },
  };
}

// ---------------------------------------------------------------- setup

const fresh = await freshDatabase('herald_bench_events');
const dbName = new URL(fresh.url).pathname.slice(1);
const db = await connect({ databaseUrl: fresh.url });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-events-'));
const stops: Array<() => Promise<void>> = [];

interface WebhookResult {
  /** The machine's 1-minute load average at the end of the phase (other work on a shared box shows here). */
  load: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  non200: Record<string, number>;
  rss: RssSummary;
  serveCpuSeconds: number;
  postgresCpuSeconds: number;
  serverCpuSeconds: number | null;
  posterCpuSeconds: number;
}
interface BackfillResult {
  load: number;
  read: number;
  /** Postgres CPU of the CLI's sync (this database's backends), µs per event. */
  postgresMicrosPerEvent: number;
  cliSeconds: number;
  startupSeconds: number;
  cliEventsPerSecond: number;
  cliPeakRssMb: number | null;
  inProcessSeconds: number;
  /** CPU µs per event of the in-process sync: this process (reading, parsing, recording), the mock (serving the log), Postgres. */
  inProcessMicrosPerEvent: { sync: number; mock: number; postgres: number };
  inProcessEventsPerSecond: number;
  pages: number;
}
interface SendResult {
  load: number;
  alone: number;
  /** With --send-diagnose: msgs/s while serve refuses the background webhooks (bad signature). */
  refused?: number;
  ingesting: number;
  ratio: number;
  backgroundEventsPerSecond: number;
  backgroundNon200: number;
}

async function generate(): Promise<{ webhookCampaign: number; streamCampaign: number }> {
  const t0 = performance.now();
  await migrateToLatest(db);
  await insertBenchRecipients(db, deliveries);
  for (const [name, size] of [
    ['everyone', deliveries],
    ['backfill', backfillMessages],
    ['send', sendRecipients],
  ] as const) {
    const list = await db.kysely.insertInto('lists').values({ name }).returning('id').executeTakeFirstOrThrow();
    await sql`insert into list_members (list_id, recipient_id) select ${list.id}, id from recipients where id <= ${size}`.execute(db.kysely);
  }
  const everyone = await db.kysely.selectFrom('lists').select('id').where('name', '=', 'everyone').executeTakeFirstOrThrow();
  const finished = async (name: string): Promise<number> => {
    const id = await insertCampaign(db.kysely, {
      name,
      list_id: everyone.id,
      template: 'spring-sale',
      subject: 'Spring sale',
      from_address: `Shop <news@${DOMAIN}>`,
      reply_to: null,
      rate_per_second: null,
      max_concurrency: null,
      scheduled_at: null,
      started_at: new Date(Date.now() - 3 * 3_600_000),
      finished_at: new Date(Date.now() - 3_600_000),
      status: 'finished',
      list_exhausted: true,
    });
    // Sent over two hours, in recipient order, as a campaign's claims are.
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts, provider_id, sent_at, updated_at)
      select ${id}, r.id, 'sent', 1, '<20261205.' || ${id} || '.' || r.id || '@${sql.raw(DOMAIN)}>',
             now() - interval '3 hours' + (r.id * interval '7200 seconds') / ${deliveries}, now() - interval '1 hour'
      from recipients r
    `.execute(db.kysely);
    return id;
  };
  const webhookCampaign = await finished('webhooks');
  const streamCampaign = await finished('stream');
  await sql`vacuum analyze`.execute(db.kysely);
  await sql`checkpoint`.execute(db.kysely);
  console.log(`generated ${fmt(deliveries)} recipients and 2 × ${fmt(deliveries)} sent deliveries in SQL in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return { webhookCampaign, streamCampaign };
}

async function startServe(): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  return startChild(
    [...profileArgs, cli, 'serve', '--port', '0'],
    childEnv({ DATABASE_URL: fresh.url, MAILGUN_WEBHOOK_SIGNING_KEY: SIGNING_KEY, HERALD_EVENT_SYNC_MS: '0', HERALD_API_CACHE_MS: '0' }),
    /listening on (http:\/\/\S+)/,
  );
}

/** Posts prebuilt bodies with `inFlight` requests at a time; counts answers other than 200. */
async function postAll(pool: Pool, bodies: readonly string[], inFlight: number): Promise<Record<string, number>> {
  const non200: Record<string, number> = {};
  let next = 0;
  const poster = async (): Promise<void> => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const res = await pool.request({ path: '/webhooks/mailgun', method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await res.body.text();
      if (res.statusCode !== 200) {
        const key = `${res.statusCode} ${text.slice(0, 60)}`;
        non200[key] = (non200[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, poster));
  return non200;
}

async function webhookPhase(serve: { url: string; pid: number }, campaignId: number, from: number, recipients: number): Promise<WebhookResult> {
  const bodies: string[] = [];
  // Recipient ids past the campaign's (a small --deliveries) wrap around: new events all the same.
  for (const e of webhookMix(from, recipients)) {
    bodies.push(webhookBody(SIGNING_KEY, eventData(e.type, campaignId, ((e.recipientId - 1) % deliveries) + 1, e.atMs, e.link)));
  }
  const pool = new Pool(serve.url, { connections: concurrency, pipelining: 1 });
  // Connections opened and the server warm before the clock starts (a few hundred events of
  // the same campaign, outside the measured range).
  await postAll(
    pool,
    Array.from({ length: concurrency * 2 }, (_, i) => webhookBody(SIGNING_KEY, eventData('opened', campaignId, deliveries - i, Date.now()))),
    concurrency,
  );
  const rss = sampleRssOf(serve.pid);
  const pg = postgresCpu(dbName);
  const serveTicks0 = processTicks(serve.pid) ?? 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const non200 = await postAll(pool, bodies, concurrency);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const serveCpuSeconds = ((processTicks(serve.pid) ?? 0) - serveTicks0) / clockTicksPerSecond;
  const pgCpu = pg.stop();
  await pool.close();
  return {
    load: os.loadavg()[0]!,
    events: bodies.length,
    seconds,
    eventsPerSecond: bodies.length / seconds,
    non200,
    rss: rss.stop(),
    serveCpuSeconds,
    postgresCpuSeconds: pgCpu.database,
    serverCpuSeconds: pgCpu.server,
    posterCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

/**
 * Posts webhooks for `campaignId` at `rate` per second (signed as they go) until stopped,
 * cycling over its recipients from `from`; at most `inFlight` at a time.
 */
function backgroundWebhooks(
  signingKey: string,
  serveUrl: string,
  campaignId: number,
  from: number,
  rate: number,
  inFlight = 200,
): { stop: () => Promise<{ events: number; seconds: number; non200: number; next: number }> } {
  const pool = new Pool(serveUrl, { connections: inFlight, pipelining: 1 });
  let posted = 0;
  let open = 0;
  let non200 = 0;
  let recipient = from;
  let stopped = false;
  const t0 = performance.now();
  const pending = new Set<Promise<void>>();
  const post = async (): Promise<void> => {
    const kind = posted % 3 === 0 ? 'opened' : 'delivered';
    const r = ((recipient++ - 1) % deliveries) + 1;
    const res = await pool.request({
      path: '/webhooks/mailgun',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: webhookBody(signingKey, eventData(kind, campaignId, r, Date.now() - 60_000)),
    });
    await res.body.dump();
    if (res.statusCode !== 200) non200++;
  };
  const tick = (): void => {
    if (stopped) return;
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    while (posted < due && open < inFlight) {
      posted++;
      open++;
      const p = post().finally(() => {
        open--;
        pending.delete(p);
      });
      pending.add(p);
    }
    setTimeout(tick, 5);
  };
  tick();
  return {
    stop: async () => {
      stopped = true;
      const seconds = (performance.now() - t0) / 1000;
      await Promise.all(pending);
      await pool.close();
      return { events: posted, seconds, non200, next: recipient };
    },
  };
}

async function sendCampaign(mockUrl: string, name: string): Promise<number> {
  const config = loadConfig({ ...childEnv({ DATABASE_URL: fresh.url, MAILGUN_API_KEY: API_KEY, MAILGUN_DOMAIN: DOMAIN, MAILGUN_BASE_URL: mockUrl }) });
  const id = await createCampaign(db, config, {
    name,
    list: 'send',
    template: 'spring-sale',
    subject: 'Spring sale for {{ name }}',
    from: `Shop <news@${DOMAIN}>`,
    tags: ['bench'],
    ...(values['send-rate'] ? { ratePerSecond: Number(values['send-rate']) } : {}),
  });
  await transitionCampaign(db.kysely, id, 'start');
  const statsFile = path.join(work, `${name}.json`);
  await runCli(
    ['campaign', 'start', String(id), '--wait', '--stats-json', statsFile],
    childEnv({ DATABASE_URL: fresh.url, MAILGUN_API_KEY: API_KEY, MAILGUN_DOMAIN: DOMAIN, MAILGUN_BASE_URL: mockUrl }),
  );
  const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8')) as { messagesPerSecond: number; status: string; sent: number };
  if (stats.status !== 'finished') throw new Error(`campaign ${name} ended ${stats.status}`);
  await request(`${mockUrl}/mock/reset`, { method: 'POST' }).then((r) => r.body.dump());
  return stats.messagesPerSecond;
}

/** Removes a campaign's recorded events and outcomes (the kept counts follow by their triggers) so the next sync records them again. */
async function clearEvents(campaignId: number): Promise<void> {
  await sql`delete from delivery_outcomes where campaign_id = ${campaignId}`.execute(db.kysely);
  await sql`delete from delivery_events where campaign_id = ${campaignId}`.execute(db.kysely);
  await sql`vacuum analyze delivery_events, delivery_outcomes`.execute(db.kysely);
}

const eventsRead = (out: string): number => {
  const m = /read (\d+) events in (\d+) pages/.exec(out);
  if (!m) throw new Error(`unexpected events sync output: ${out}`);
  return Number(m[1]);
};

try {
  const { webhookCampaign, streamCampaign } = await generate();
  const recipientsPerRun = Math.max(1, Math.round(webhooksPerRun / 1.5));
  let backgroundFrom = runs * recipientsPerRun + 1;

  // The backfill's campaign, sent once through a mock that logs what followed each message.
  let backfill: { campaignId: number; mockUrl: string; mockPid: number; expected: number } | null = null;
  if (!values['skip-backfill']) {
    const mock = await startMock(['--record', 'counts', '--open-rate', '0.4', '--click-rate', '0.25', '--event-delay-ms', '0', '--seed', '28']);
    stops.push(mock.stop);
    const config = loadConfig(childEnv({ DATABASE_URL: fresh.url, MAILGUN_API_KEY: API_KEY, MAILGUN_DOMAIN: DOMAIN, MAILGUN_BASE_URL: mock.url }));
    const id = await createCampaign(db, config, {
      name: 'backfill',
      list: 'backfill',
      template: 'spring-sale',
      subject: 'Spring sale',
      from: `Shop <news@${DOMAIN}>`,
    });
    await transitionCampaign(db.kysely, id, 'start');
    await runCli(
      ['campaign', 'start', String(id), '--wait'],
      childEnv({ DATABASE_URL: fresh.url, MAILGUN_API_KEY: API_KEY, MAILGUN_DOMAIN: DOMAIN, MAILGUN_BASE_URL: mock.url }),
    );
    // Every event after acceptance in the mock's log (none is delayed, but they are appended by a timer).
    let expected = 0;
    for (let tries = 0; ; tries++) {
      const stats = (await (await request(`${mock.url}/mock/stats`)).body.json()) as { accepted: number; events: Record<string, number> };
      const after = Object.entries(stats.events).reduce((n, [k, v]) => (k === 'accepted' ? n : n + v), 0);
      if (stats.events.delivered === stats.accepted && after === expected) break;
      if (tries > 100) throw new Error(`the mock's log did not settle: ${JSON.stringify(stats)}`);
      expected = after;
      await new Promise((r) => setTimeout(r, 200));
    }
    console.log(`backfill campaign ${id}: ${fmt(backfillMessages)} messages sent; the mock logged ${fmt(expected)} events after acceptance`);
    backfill = { campaignId: id, mockUrl: mock.url, mockPid: mock.pid, expected };
  }
  const sendMock = values['skip-send']
    ? null
    : await startMock(['--latency', '50', '--jitter', '20', '--fail-rate', '0.0025', '--throttle-rate', '0.0025', '--record', 'deliveries']);
  if (sendMock) stops.push(sendMock.stop);

  const webhookResults: WebhookResult[] = [];
  const backfillResults: BackfillResult[] = [];
  const sendResults: SendResult[] = [];
  for (let run = 1; run <= runs; run++) {
    const serve = await startServe();
    try {
      // 1. Webhooks.
      const from = (run - 1) * recipientsPerRun + 1;
      const planned = webhookMixSize(from, recipientsPerRun);
      const w = await webhookPhase(serve, webhookCampaign, from, recipientsPerRun);
      webhookResults.push(w);
      console.log(
        `run ${run} · load ${w.load.toFixed(1)} · webhooks: ${fmt(w.events)} events (${fmt(planned)} planned) in ${w.seconds.toFixed(1)} s, ${fmt(w.eventsPerSecond)}/s; serve RSS ${w.rss.startMb} → peak ${w.rss.peakMb} → ${w.rss.endMb} MB (quarters ${w.rss.firstQuarterMb} / ${w.rss.lastQuarterMb}); serve CPU ${w.serveCpuSeconds.toFixed(1)} s, Postgres ${w.postgresCpuSeconds.toFixed(1)} s (server ${w.serverCpuSeconds?.toFixed(1) ?? 'n/a'} s), poster ${w.posterCpuSeconds.toFixed(1)} s; not 200: ${JSON.stringify(w.non200)}`,
      );

      // 2. Backfill.
      if (backfill) {
        const env = childEnv({ DATABASE_URL: fresh.url, MAILGUN_API_KEY: API_KEY, MAILGUN_DOMAIN: DOMAIN, MAILGUN_BASE_URL: backfill.mockUrl });
        const startup = await runCli(['events', 'sync', '--campaign', '999999999'], env);
        await clearEvents(backfill.campaignId);
        const pg = postgresCpu(dbName);
        const viaCli = await runCli(['events', 'sync', '--campaign', String(backfill.campaignId)], env);
        const pgCpu = pg.stop();
        const read = eventsRead(viaCli.out);
        if (read !== backfill.expected || !viaCli.out.includes(`${read} recorded`)) throw new Error(`the sync did not record every event: ${viaCli.out}`);
        await clearEvents(backfill.campaignId);
        const log = createLogger('warn');
        const provider = new MailgunClient({ apiKey: API_KEY, domain: DOMAIN, baseUrl: backfill.mockUrl, connections: 2, timeoutMs: 30_000, log });
        const ingester = new EventIngester(db.kysely, log);
        const pgInProcess = postgresCpu(dbName);
        const mockTicks0 = processTicks(backfill.mockPid) ?? 0;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const s = await syncEventLog({ db: db.kysely, provider, ingester, log }, { days: 7, campaignId: backfill.campaignId });
        const inProcessSeconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const mockSeconds = ((processTicks(backfill.mockPid) ?? 0) - mockTicks0) / clockTicksPerSecond;
        const pgInProcessCpu = pgInProcess.stop();
        await ingester.close();
        await provider.close();
        if (s.recorded !== backfill.expected) throw new Error(`in-process sync recorded ${s.recorded} of ${backfill.expected}`);
        const cliSeconds = viaCli.seconds - startup.seconds;
        const b: BackfillResult = {
          load: os.loadavg()[0]!,
          read,
          postgresMicrosPerEvent: (pgCpu.database / read) * 1e6,
          cliSeconds: viaCli.seconds,
          startupSeconds: startup.seconds,
          cliEventsPerSecond: read / cliSeconds,
          cliPeakRssMb: viaCli.peakRssMb,
          inProcessSeconds,
          inProcessEventsPerSecond: s.recorded / inProcessSeconds,
          inProcessMicrosPerEvent: {
            sync: (cpu.user + cpu.system) / s.recorded,
            mock: (mockSeconds / s.recorded) * 1e6,
            postgres: (pgInProcessCpu.database / s.recorded) * 1e6,
          },
          pages: s.pages,
        };
        backfillResults.push(b);
        console.log(
          `run ${run} · load ${b.load.toFixed(1)} · backfill: ${fmt(read)} events; CLI ${b.cliSeconds.toFixed(2)} s wall (start-up ${b.startupSeconds.toFixed(2)} s) → ${fmt(b.cliEventsPerSecond)}/s, peak RSS ${b.cliPeakRssMb} MB, Postgres ${fmt(b.postgresMicrosPerEvent)} µs/event; in process ${b.inProcessSeconds.toFixed(2)} s → ${fmt(b.inProcessEventsPerSecond)}/s (${b.pages} pages; CPU µs/event: sync ${fmt(b.inProcessMicrosPerEvent.sync)}, mock ${fmt(b.inProcessMicrosPerEvent.mock)}, Postgres ${fmt(b.inProcessMicrosPerEvent.postgres)})`,
        );
      }

      // 3. Sending, alone and while webhooks of the first campaign come in.
      if (sendMock) {
        const alone = async (): Promise<number> => sendCampaign(sendMock.url, `send-${run}-alone`);
        let bg = { events: 0, seconds: 1, non200: 0, next: backgroundFrom };
        const withBackground = async (key: string, name: string): Promise<{ rate: number; bg: typeof bg }> => {
          const background = backgroundWebhooks(key, serve.url, webhookCampaign, backgroundFrom, backgroundRate);
          await new Promise((r) => setTimeout(r, 2000));
          const rate = await sendCampaign(sendMock.url, `send-${run}-${name}`);
          const result = await background.stop();
          backgroundFrom = result.next;
          return { rate, bg: result };
        };
        const ingesting = async (): Promise<number> => {
          const out = await withBackground(SIGNING_KEY, 'ingesting');
          bg = out.bg;
          return out.rate;
        };
        let refusedRate: number | null = null;
        const refused = async (): Promise<number> => {
          refusedRate = (await withBackground('not-the-signing-key', 'refused')).rate;
          return refusedRate;
        };
        // The order turns between runs, so that neither measurement always goes first.
        const steps: Array<() => Promise<number>> = values['send-diagnose'] ? [alone, ingesting, refused] : [alone, ingesting];
        const order = steps.map((_, k) => steps[(k + run - 1) % steps.length]!);
        const rates = new Map<() => Promise<number>, number>();
        for (const step of order) rates.set(step, await step());
        const a = rates.get(alone)!;
        const i = rates.get(ingesting)!;
        const r: SendResult = {
          load: os.loadavg()[0]!,
          alone: a,
          ingesting: i,
          ratio: i / a,
          backgroundEventsPerSecond: bg.events / bg.seconds,
          backgroundNon200: bg.non200,
          ...(refusedRate === null ? {} : { refused: refusedRate }),
        };
        sendResults.push(r);
        console.log(
          `run ${run} · load ${r.load.toFixed(1)} · sending ${fmt(sendRecipients)}: alone ${fmt(a)} msgs/s, while ingesting ${fmt(i)} msgs/s (${(r.ratio * 100).toFixed(0)}%)${r.refused === undefined ? '' : `, while serve refuses them ${fmt(r.refused)} msgs/s (${((r.refused / a) * 100).toFixed(0)}%)`}; background ${fmt(r.backgroundEventsPerSecond)} webhooks/s, ${r.backgroundNon200} not 200`,
        );
      }
    } finally {
      await serve.stop();
    }
  }

  // 4. The stream campaign's whole stream, then campaign status on it.
  let stream: {
    events: number;
    eventsPerSecond: number;
    seconds: number;
    rss: RssSummary;
    timeline: Array<{ s: number; events: number; rssMb: number }>;
    postgresCpuSeconds: number;
  } | null = null;
  let status: { inProcess: number[]; api: number[]; cli: number[]; startup: number[]; funnel: unknown; tableMb: number } | null = null;
  if (!values['skip-stream']) {
    const serve = await startServe();
    try {
      const expected = streamSize(1, deliveries);
      const pg = postgresCpu(dbName);
      const child = spawn(process.execPath, [...profileArgs, path.join(here, 'eventStream.js'), fresh.url, String(streamCampaign), '1', String(deliveries)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => process.stdout.write(`  stream ${d.toString()}`));
      const [code] = (await once(child, 'exit')) as [number];
      if (code !== 0) throw new Error(`the stream exited ${code}`);
      const pgCpu = pg.stop();
      const result = JSON.parse(out) as {
        events: number;
        recorded: number;
        seconds: number;
        eventsPerSecond: number;
        rss: RssSummary;
        timeline: Array<{ s: number; events: number; rssMb: number }>;
      };
      if (result.events !== expected || result.recorded !== expected)
        throw new Error(`the stream recorded ${result.recorded} of ${result.events}, ${expected} planned`);
      stream = { ...result, postgresCpuSeconds: pgCpu.database };
      console.log(
        `stream: ${fmt(result.events)} events in ${result.seconds.toFixed(0)} s, ${fmt(result.eventsPerSecond)}/s; RSS ${result.rss.startMb} → peak ${result.rss.peakMb} → ${result.rss.endMb} MB (quarters ${result.rss.firstQuarterMb} / ${result.rss.lastQuarterMb}); Postgres ${pgCpu.database.toFixed(0)} s`,
      );
      // serve folds the kept counts every 2 s; the reads add what is not folded yet either way.
      await new Promise((r) => setTimeout(r, 3000));
      const inProcess: number[] = [];
      const api: number[] = [];
      const cliTimes: number[] = [];
      const startup: number[] = [];
      let funnel: unknown = null;
      for (let i = 0; i < statusSamples; i++) {
        const t0 = performance.now();
        const campaign = await findCampaign(db.kysely, streamCampaign);
        const report = await campaignStatusReport(db, campaign!);
        inProcess.push(performance.now() - t0);
        funnel = report.funnel;
      }
      for (let i = 0; i < statusSamples; i++) {
        const t0 = performance.now();
        const res = await request(`${serve.url}/api/v1/campaigns/${streamCampaign}`);
        await res.body.json();
        if (res.statusCode !== 200) throw new Error(`GET campaign answered ${res.statusCode}`);
        api.push(performance.now() - t0);
      }
      const env = childEnv({ DATABASE_URL: fresh.url });
      for (let i = 0; i < 5; i++) {
        cliTimes.push((await runCli(['campaign', 'status', String(streamCampaign), '--json'], env)).seconds * 1000);
        startup.push((await runCli(['--help'], env)).seconds * 1000);
      }
      const size = await sql<{ mb: number }>`select pg_total_relation_size('delivery_events') / 1048576.0 as mb`.execute(db.kysely);
      status = { inProcess, api, cli: cliTimes, startup, funnel, tableMb: Number(size.rows[0]!.mb) };
      const f = funnel as { delivered: number; opened: number; clicked: number };
      console.log(
        `status on the stream campaign: in process median ${median(inProcess).toFixed(1)} ms, p95 ${p95(inProcess).toFixed(1)}; API GET median ${median(api).toFixed(1)} ms; CLI --json wall median ${median(cliTimes).toFixed(0)} ms (herald --help: ${median(startup).toFixed(0)} ms); funnel ${JSON.stringify(funnel)}`,
      );
      if (f.delivered !== deliveries) throw new Error(`funnel delivered ${f.delivered}, expected ${deliveries}`);
    } finally {
      await serve.stop();
    }
  }

  // ---------------------------------------------------------------- report
  const lines: string[] = [];
  const w = (pick: (r: WebhookResult) => number): number => median(webhookResults.map(pick));
  lines.push('| what | median | runs | target |', '|---|---:|---:|---|');
  lines.push(
    `| webhooks into \`herald serve\`, events/s | ${fmt(w((r) => r.eventsPerSecond))} | ${webhookResults.map((r) => fmt(r.eventsPerSecond)).join(', ')} | ≥ 3,000 |`,
    `| serve RSS MB: start → peak → end | ${w((r) => r.rss.startMb)} → ${w((r) => r.rss.peakMb)} → ${w((r) => r.rss.endMb)} | ${webhookResults.map((r) => `${r.rss.startMb}→${r.rss.peakMb}→${r.rss.endMb}`).join(', ')} | flat |`,
    `| serve CPU µs / event | ${fmt(w((r) => r.serveCpuSeconds / r.events) * 1e6)} | ${webhookResults.map((r) => fmt((r.serveCpuSeconds / r.events) * 1e6)).join(', ')} | |`,
    `| Postgres CPU µs / event (this database's backends) | ${fmt(w((r) => r.postgresCpuSeconds / r.events) * 1e6)} | ${webhookResults.map((r) => fmt((r.postgresCpuSeconds / r.events) * 1e6)).join(', ')} | |`,
    `| the poster's CPU µs / event (this benchmark's process) | ${fmt(w((r) => r.posterCpuSeconds / r.events) * 1e6)} | ${webhookResults.map((r) => fmt((r.posterCpuSeconds / r.events) * 1e6)).join(', ')} | |`,
    `| the machine's load average (1 min) after the webhooks | ${w((r) => r.load).toFixed(1)} | ${webhookResults.map((r) => r.load.toFixed(1)).join(', ')} | |`,
  );
  if (backfillResults.length > 0) {
    const b = (pick: (r: BackfillResult) => number): number => median(backfillResults.map(pick));
    lines.push(
      `| backfill, \`events sync --campaign\` (CLI, less start-up), events/s | ${fmt(b((r) => r.cliEventsPerSecond))} | ${backfillResults.map((r) => fmt(r.cliEventsPerSecond)).join(', ')} | ≥ 20,000 |`,
      `| backfill, syncEventLog in process, events/s | ${fmt(b((r) => r.inProcessEventsPerSecond))} | ${backfillResults.map((r) => fmt(r.inProcessEventsPerSecond)).join(', ')} | ≥ 20,000 |`,
      `| backfill CLI peak RSS MB | ${b((r) => r.cliPeakRssMb ?? 0)} | ${backfillResults.map((r) => r.cliPeakRssMb).join(', ')} | |`,
      `| backfill in process, CPU µs / event: the syncing process / the mock serving its log / Postgres | ${fmt(b((r) => r.inProcessMicrosPerEvent.sync))} / ${fmt(b((r) => r.inProcessMicrosPerEvent.mock))} / ${fmt(b((r) => r.inProcessMicrosPerEvent.postgres))} | ${backfillResults.map((r) => `${fmt(r.inProcessMicrosPerEvent.sync)} / ${fmt(r.inProcessMicrosPerEvent.mock)} / ${fmt(r.inProcessMicrosPerEvent.postgres)}`).join(', ')} | |`,
      `| backfill, Postgres CPU µs / event (CLI sync) | ${fmt(b((r) => r.postgresMicrosPerEvent))} | ${backfillResults.map((r) => fmt(r.postgresMicrosPerEvent)).join(', ')} | |`,
    );
  }
  if (sendResults.length > 0) {
    const s = (pick: (r: SendResult) => number): number => median(sendResults.map(pick));
    lines.push(
      `| sending ${fmt(sendRecipients)}, msgs/s: alone | ${fmt(s((r) => r.alone))} | ${sendResults.map((r) => fmt(r.alone)).join(', ')} | |`,
      `| sending, msgs/s: while serve ingests ${fmt(backgroundRate)} webhooks/s | ${fmt(s((r) => r.ingesting))} | ${sendResults.map((r) => fmt(r.ingesting)).join(', ')} | |`,
      `| background webhooks achieved while sending, events/s | ${fmt(s((r) => r.backgroundEventsPerSecond))} | ${sendResults.map((r) => fmt(r.backgroundEventsPerSecond)).join(', ')} | |`,
      ...(sendResults.every((r) => r.refused !== undefined)
        ? [
            `| sending, msgs/s: while serve refuses as many webhooks (bad signature: HTTP and JSON, no database) | ${fmt(s((r) => r.refused!))} | ${sendResults.map((r) => fmt(r.refused!)).join(', ')} | |`,
            `| sending while refusing ÷ alone (per run) | ${(s((r) => r.refused! / r.alone) * 100).toFixed(0)}% | ${sendResults.map((r) => `${((r.refused! / r.alone) * 100).toFixed(0)}%`).join(', ')} | |`,
          ]
        : []),
      `| sending while ingesting ÷ alone (per run) | ${(s((r) => r.ratio) * 100).toFixed(0)}% | ${sendResults.map((r) => `${(r.ratio * 100).toFixed(0)}%`).join(', ')} | no drop |`,
    );
  }
  if (stream && status) {
    lines.push(
      `| a ${fmt(deliveries)}-delivery campaign's stream: ${fmt(stream.events)} events through the ingester, events/s | ${fmt(stream.eventsPerSecond)} | 1 run | |`,
      `| its Postgres CPU µs / event | ${fmt((stream.postgresCpuSeconds / stream.events) * 1e6)} | 1 run | |`,
      `| its ingesting process's RSS MB: start → peak → end (first / last quarter) | ${stream.rss.startMb} → ${stream.rss.peakMb} → ${stream.rss.endMb} (${stream.rss.firstQuarterMb} / ${stream.rss.lastQuarterMb}) | 1 run | flat |`,
      `| \`campaign status\` with the funnel on it, in process, ms (median / p95 of ${statusSamples}) | ${median(status.inProcess).toFixed(1)} / ${p95(status.inProcess).toFixed(1)} | | < 200 |`,
      `| \`GET /api/v1/campaigns/{id}\` on it, read cache off, ms (median / p95 of ${statusSamples}) | ${median(status.api).toFixed(1)} / ${p95(status.api).toFixed(1)} | | < 200 |`,
      `| \`herald campaign status ID --json\`, CLI wall ms (median of 5; \`herald --help\`, Node start-up and the CLI loaded: ${median(status.startup).toFixed(0)}) | ${median(status.cli).toFixed(0)} | ${status.cli.map((t) => t.toFixed(0)).join(', ')} | |`,
    );
  }
  const table = lines.join('\n');
  console.log(`\n${table}`);
  if (stream) console.log(`stream RSS over time (s: events, MB): ${stream.timeline.map((t) => `${t.s}: ${fmt(t.events)}, ${t.rssMb}`).join('; ')}`);

  if (!values['no-write']) {
    const timeline = stream
      ? `\nThe stream's ingesting process over time (every ~${Math.max(1, Math.round(stream.timeline.length / 12))}th sample of 2 s: seconds, events recorded, RSS MB): ${stream.timeline
          .filter((_, i, all) => i % Math.max(1, Math.round(all.length / 12)) === 0)
          .map((t) => `${t.s} s: ${fmt(t.events)}, ${t.rssMb}`)
          .join('; ')}. \`delivery_events\` holds ${fmt(status?.tableMb ?? 0)} MB after it.`
      : '';
    writeBenchmarkSection(
      "Provider events: webhooks, backfill, a 1M campaign's stream",
      [
        `${machineLine()}; median of ${runs} runs (the stream once).`,
        '',
        `Command: \`DATABASE_URL=postgres://… npm run bench:events -- --deliveries ${deliveries} --webhooks ${webhooksPerRun} --concurrency ${concurrency} --runs ${runs}\``,
        '',
        `Workload: real Postgres 15, one database: ${fmt(deliveries)} recipients and two finished campaigns of ${fmt(deliveries)} \`sent\` deliveries each, generated in SQL. Webhooks: ${fmt(webhooksPerRun)} signed Mailgun webhooks a run (a delivery for each recipient of a fresh range, an open for ~40%, a click for ~10%; ~1 KB bodies built before the clock starts) posted to \`herald serve\` (a child process) through an undici pool at ${concurrency} in flight, from the benchmark's own process on the same 2 cores. Backfill: ${fmt(backfillMessages)} messages sent once through the mock, which logs a delivery for each, an open for 40% and a click for 10%; each run clears the recorded events and reads them back from the mock's Logs API. Sending: the send benchmark's Herald contender (${fmt(sendRecipients)} recipients, mock at 50 ms ± 20 ms${values['send-rate'] ? `, the campaign's rate set to ${fmt(Number(values['send-rate']))} messages/s` : ', as fast as it goes'}) alone and while serve ingests ${fmt(backgroundRate)} webhooks/s for the first campaign, order alternating by run. Stream: the second campaign's ${fmt(stream?.events ?? 0)} events (a delivery each, half open 1–6 times, a fifth click 1–4 times) recorded through the ingester in a child process. Postgres CPU is the benchmark database's backends (process titles, /proc).`,
        '',
        table,
        timeline,
      ].join('\n'),
    );
  }
} finally {
  for (const stop of stops.reverse()) await stop();
  await db.close();
  await fresh.drop();
  fs.rmSync(work, { recursive: true, force: true });
}

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
}
