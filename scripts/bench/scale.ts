/**
 * Reads at scale: 10M recipients and over 11M deliveries in 100 campaigns on real Postgres,
 * then every read an operator or the dashboard makes, on stale statistics (just after the
 * bulk load, never analysed) and on fresh ones (after ANALYZE), plus the import that loads
 * the recipients, the CSV report of the largest campaign and what polling dashboard tabs cost
 * Postgres.
 *   DATABASE_URL=postgres://… npm run bench:scale [-- --recipients 10000000] [--keep]
 *   DATABASE_URL=postgres://… npm run bench:scale -- --reuse postgres://…/herald_bench_scale_xxxx
 * --reuse measures the reads again on a database kept by --keep (no import, no generation;
 * its statistics are whatever they are, so only the "analysed" column is measured).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { request } from 'undici';
import { getCampaignOrThrow } from '../../src/campaigns/control.js';
import { campaignStatusReport } from '../../src/campaigns/status.js';
import { type Db, connect } from '../../src/db/connect.js';
import { listLists } from '../../src/sql/listLists.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { packageRoot } from '../../src/config/paths.js';
import { freshDatabase, machineLine, median, postgresCpuSeconds, writeBenchmarkSection } from '../lib/report.js';
import { TickCounter, clockTicksPerSecond, processTicks, watchPeakRss } from '../lib/procStats.js';
import { BIG_CAMPAIGN, BIG_LIST, SMALL_CAMPAIGN_PREFIX, TENTH_CAMPAIGN, type GeneratedData, generateHistory } from './scaleData.js';

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '10000000' },
    /** Keep the database at the end and print its URL (for --reuse). */
    keep: { type: 'boolean', default: false },
    /** Measure the reads on this kept database; nothing is generated, nothing dropped. */
    reuse: { type: 'string', default: '' },
    /** Samples per read (HTTP) and per CLI command. */
    samples: { type: 'string', default: '20' },
    'cli-samples': { type: 'string', default: '5' },
    /** A read stops sampling after this many seconds once it has 3 samples. */
    'read-budget': { type: 'string', default: '60' },
    'skip-report': { type: 'boolean', default: false },
    /** The CSV report is stopped after this many seconds; rows/s is what it did so far. */
    'report-timeout': { type: 'string', default: '60' },
    'skip-dashboard': { type: 'boolean', default: false },
    'tab-seconds': { type: 'string', default: '25' },
    'no-write': { type: 'boolean', default: false },
  },
});
const N = Number(values.recipients);
const SAMPLES = Number(values.samples);
const CLI_SAMPLES = Number(values['cli-samples']);
const READ_BUDGET_MS = Number(values['read-budget']) * 1000;
const REPORT_TIMEOUT_MS = Number(values['report-timeout']) * 1000;
const TAB_SECONDS = Number(values['tab-seconds']);
const cli = path.join(packageRoot, 'dist/src/cli/main.js');
const started = performance.now();
const log = (line: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number): string => n.toLocaleString('en');
const ms = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '—' : n >= 100 ? n.toFixed(0) : n.toFixed(1));

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)]!;
}

// ---------------------------------------------------------------------------------------------
// The database: a fresh one (generated here) or a kept one (--reuse)

let dbUrl: string;
let drop: (() => Promise<void>) | null = null;
if (values.reuse) dbUrl = values.reuse;
else {
  const fresh = await freshDatabase('herald_bench_scale');
  dbUrl = fresh.url;
  drop = fresh.drop;
}
const dbName = new URL(dbUrl).pathname.slice(1);
const childEnv: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: dbUrl, LOG_LEVEL: 'warn' };
delete childEnv.HERALD_API_TOKEN;

const children = new Set<ChildProcess>();
function startChild(args: string[], env: NodeJS.ProcessEnv = childEnv): ChildProcess {
  const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const monitor = new pg.Client({ connectionString: dbUrl, application_name: 'herald-bench-scale' });
await monitor.connect();
const q = async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> => (await monitor.query<R>(text, params)).rows;

/** Every table of the schema (so counter tables added by later migrations are covered too). */
async function tables(): Promise<string[]> {
  return (await q<{ t: string }>(`select tablename as t from pg_tables where schemaname = 'public' order by 1`)).map((r) => r.t);
}
async function setAutovacuum(enabled: boolean): Promise<void> {
  for (const t of await tables()) {
    await monitor.query(enabled ? `alter table "${t}" reset (autovacuum_enabled)` : `alter table "${t}" set (autovacuum_enabled = false)`);
  }
}

let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  log('interrupted: stopping');
  for (const c of children) c.kill('SIGTERM');
});

interface Import {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  firstSegment: number;
  lastSegment: number;
  segmentRows: number;
  perSegment: number[];
  peakRssMb: number | null;
}

// ---------------------------------------------------------------------------------------------
// Import: a generated CSV through `herald recipients import`, its progress read from the
// recipients id sequence (every new recipient takes the next value; reading it is free and
// sees rows of statements still running)

async function writeCsv(file: string, rows: number): Promise<void> {
  const out = fs.createWriteStream(file);
  out.write('email,name,city,plan\n');
  let chunk = '';
  for (let i = 1; i <= rows; i++) {
    chunk += `reader${i}@example${i % 97}.com,Reader ${i},City ${i % 500},${i % 3 === 0 ? 'pro' : 'free'}\n`;
    if (i % 10_000 === 0) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.write(chunk);
  out.end();
  await once(out, 'finish');
}

async function importRecipients(): Promise<Import> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-scale-'));
  try {
    const file = path.join(dir, 'recipients.csv');
    let t = performance.now();
    await writeCsv(file, N);
    log(`CSV of ${fmt(N)} rows written (${Math.round(fs.statSync(file).size / 2 ** 20)} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const seq = (await q<{ s: string }>(`select pg_get_serial_sequence('recipients', 'id') as s`))[0]!.s;
    const progress: Array<{ t: number; n: number }> = [];
    t = performance.now();
    const child = startChild(['recipients', 'import', file, '--list', BIG_LIST, '--create-list', '--rejects', path.join(dir, 'rejects.csv')]);
    const rss = watchPeakRss(child.pid!);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = once(child, 'exit');
    let done = false;
    void exited.then(() => (done = true));
    let lastLogged = 0;
    while (!done) {
      const row = (await q<{ last_value: string; is_called: boolean }>(`select last_value, is_called from ${seq}`))[0]!;
      const n = row.is_called ? Number(row.last_value) : 0;
      progress.push({ t: (performance.now() - t) / 1000, n });
      if (n - lastLogged >= N / 10) {
        log(`  import: ${fmt(n)} recipients`);
        lastLogged = n;
      }
      await Promise.race([sleep(250), exited]);
    }
    const [code] = (await exited) as [number | null];
    const peak = rss.stop();
    if (code !== 0) throw new Error(`import exited ${code}: ${out}`);
    // "read 10000000 rows in 201.3 s: 10000000 new, …": the CLI's own timing (no start-up).
    const m = /read (\d+) rows in ([\d.]+) s: (\d+) new/.exec(out);
    if (!m) throw new Error(`unexpected import output: ${out}`);
    const rows = Number(m[3]);
    const seconds = Number(m[2]);
    progress.push({ t: (performance.now() - t) / 1000, n: rows });
    // When the sequence passed n (linear between samples).
    const at = (n: number): number => {
      const i = progress.findIndex((p) => p.n >= n);
      if (i <= 0) return progress[Math.max(0, i)]!.t;
      const a = progress[i - 1]!;
      const b = progress[i]!;
      return a.t + ((b.t - a.t) * (n - a.n)) / Math.max(1, b.n - a.n);
    };
    // Rate per tenth of the file (a million rows at 10M). The first tenth is timed from the
    // first recipient written, so the CLI's start-up and the first batch's staging are not in it.
    const segmentRows = Math.round(rows / 10);
    const first = progress.find((p) => p.n > 0)!;
    const perSegment: number[] = [];
    for (let s = 0; s < 10; s++) {
      const from = s === 0 ? first.n : s * segmentRows;
      const to = s === 9 ? rows : (s + 1) * segmentRows;
      const span = (s === 0 ? at(to) - first.t : at(to) - at(from)) || Number.NaN;
      perSegment.push(Math.round((to - from) / span));
    }
    return {
      rows,
      seconds,
      rowsPerSecond: Math.round(rows / seconds),
      firstSegment: perSegment[0]!,
      lastSegment: perSegment[9]!,
      segmentRows,
      perSegment,
      peakRssMb: peak,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Reads

interface Measured {
  samples: number[];
  first: number;
}

/** Runs fn up to n times (after one unrecorded first call, kept apart: it pays for cold pages and hint bits). */
async function measure(name: string, fn: () => Promise<number>, n: number): Promise<Measured> {
  const first = await fn();
  const samples: number[] = [];
  const t0 = performance.now();
  while (samples.length < n && !interrupted) {
    samples.push(await fn());
    if (samples.length >= 3 && performance.now() - t0 > READ_BUDGET_MS) break;
  }
  log(`  ${name}: first ${ms(first)} ms, median ${ms(median(samples))} ms, p95 ${ms(p95(samples))} ms (${samples.length} samples)`);
  return { samples, first };
}

async function httpGet(base: string, url: string): Promise<number> {
  const t = performance.now();
  const res = await request(base + url);
  const body = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${body.slice(0, 200)}`);
  return performance.now() - t;
}

async function cliWall(args: string[]): Promise<number> {
  const t = performance.now();
  const child = startChild(args);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`herald ${args.join(' ')} exited ${code}: ${out.slice(0, 500)}`);
  return performance.now() - t;
}

interface Ids {
  big: number;
  tenth: number;
  small: number;
  bigSize: number;
  tenthSize: number;
  smallSize: number;
  campaigns: number;
  lists: number;
}

type ReadKey = 'getBig' | 'getTenth' | 'getSmall' | 'list' | 'cliStatus' | 'cliLists';
type Reads = Record<ReadKey, Measured> & { connectOnly: number; cliWall: { help: number; status: number; lists: number } };

/**
 * What a CLI command does after Node has started (withContext: connect, migration check, the
 * command, close), timed in this process: Node's start-up on a loaded 2-core machine varies by
 * hundreds of milliseconds, more than the targets.
 */
async function asCommand(fn: (db: Db) => Promise<string>): Promise<number> {
  const t = performance.now();
  const db = await connect({ databaseUrl: dbUrl });
  try {
    await migrateToLatest(db);
    const out = await fn(db);
    if (out.length === 0) throw new Error('empty output');
  } finally {
    await db.close();
  }
  return performance.now() - t;
}

async function measureReads(base: string, ids: Ids): Promise<Reads> {
  const getBig = await measure(`GET /api/v1/campaigns/${ids.big}`, () => httpGet(base, `/api/v1/campaigns/${ids.big}`), SAMPLES);
  const getTenth = await measure(`GET /api/v1/campaigns/${ids.tenth}`, () => httpGet(base, `/api/v1/campaigns/${ids.tenth}`), SAMPLES);
  const getSmall = await measure(`GET /api/v1/campaigns/${ids.small}`, () => httpGet(base, `/api/v1/campaigns/${ids.small}`), SAMPLES);
  const list = await measure('GET /api/v1/campaigns', () => httpGet(base, '/api/v1/campaigns'), SAMPLES);
  const connectOnly = await measure('connect, migration check, close (in-process)', () => asCommand(async () => 'ok'), SAMPLES);
  const cliStatus = await measure(
    `campaign status ${ids.big} --json (in-process)`,
    () => asCommand(async (db) => JSON.stringify(await campaignStatusReport(db, await getCampaignOrThrow(db, ids.big)), null, 2)),
    SAMPLES,
  );
  const cliLists = await measure(
    'lists ls (in-process)',
    () => asCommand(async (db) => (await listLists(db.kysely)).map((r) => `${String(r.id).padStart(5)}  ${r.name}  (${r.members} members)`).join('\n')),
    SAMPLES,
  );
  // The real commands too, for what an operator waits: start-up included.
  const help = await measure('herald --help (wall: Node start-up, modules)', () => cliWall(['--help']), CLI_SAMPLES);
  const status = await measure(
    `herald campaign status ${ids.big} --json (wall)`,
    () => cliWall(['campaign', 'status', String(ids.big), '--json']),
    CLI_SAMPLES,
  );
  const lists = await measure('herald lists ls (wall)', () => cliWall(['lists', 'ls']), CLI_SAMPLES);
  return {
    getBig,
    getTenth,
    getSmall,
    list,
    cliStatus,
    cliLists,
    connectOnly: median(connectOnly.samples),
    cliWall: { help: median(help.samples), status: median(status.samples), lists: median(lists.samples) },
  };
}

// ---------------------------------------------------------------------------------------------
// Dashboard tabs: each polls GET /api/v1/campaigns 2 s after each answer and
// GET /api/v1/campaigns/ID 1 s after each answer (plain polling: the worst case)

interface Tabs {
  tabs: number;
  seconds: number;
  postgresPercent: number;
  allPostgresPercent: number | null;
  idleAllPostgresPercent: number | null;
  servePercent: number;
  listAnswers: number;
  listMedianMs: number;
  campaignAnswers: number;
  campaignMedianMs: number;
  errors: number;
  /** The error answers by kind ("500 timeout exceeded when trying to connect": 3). */
  errorKinds: string;
}

async function backendPids(): Promise<number[]> {
  return (await q<{ pid: number }>(`select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [dbName])).map((r) => r.pid);
}

async function dashboardTabs(base: string, campaignId: number, tabs: number, servePid: number): Promise<Tabs> {
  // What the whole server burns with no tab open: other databases' load (other benchmarks on
  // the machine) shows here.
  const idleBefore = postgresCpuSeconds();
  await sleep(5000);
  const idleAfter = postgresCpuSeconds();
  const idle = idleBefore === null || idleAfter === null ? null : ((idleAfter - idleBefore) / 5) * 100;

  const listMs: number[] = [];
  const campaignMs: number[] = [];
  let errors = 0;
  const kinds = new Map<string, number>();
  const seconds = TAB_SECONDS;
  const stopAt = performance.now() + seconds * 1000;
  const loop = async (url: string, every: number, into: number[], delay: number): Promise<void> => {
    await sleep(delay);
    while (performance.now() < stopAt && !interrupted) {
      try {
        const took = await httpGet(base, url);
        if (performance.now() <= stopAt) into.push(took);
      } catch (err) {
        if (performance.now() <= stopAt) {
          errors++;
          const kind = (err as Error).message
            .replace(/^GET \S+: /, '')
            .replace(/\/api\/v1\/campaigns\/\d+/g, '…')
            .slice(0, 120);
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        }
      }
      if (performance.now() >= stopAt) break;
      await sleep(every);
    }
  };
  const backends = new TickCounter();
  backends.sample(await backendPids());
  const all0 = postgresCpuSeconds();
  const serve0 = processTicks(servePid)!;
  const t0 = performance.now();
  let sampling = false;
  const sampler = setInterval(() => {
    if (sampling) return;
    sampling = true;
    backendPids()
      .then((pids) => backends.sample(pids))
      .finally(() => (sampling = false));
  }, 500);
  const loops: Array<Promise<void>> = [];
  for (let t = 0; t < tabs; t++) {
    // Tabs opened at different moments, not in lock-step.
    loops.push(loop('/api/v1/campaigns', 2000, listMs, (t * 2000) / tabs));
    loops.push(loop(`/api/v1/campaigns/${campaignId}`, 1000, campaignMs, (t * 1000) / tabs + 50));
  }
  await sleep(seconds * 1000);
  clearInterval(sampler);
  backends.sample(await backendPids());
  const wall = (performance.now() - t0) / 1000;
  const all1 = postgresCpuSeconds();
  const serve1 = processTicks(servePid)!;
  // Requests still running would spill into the next measurement: cancel their queries (the
  // answers are errors, after the window, and not counted).
  await monitor.query(`select pg_cancel_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and state = 'active'`, [dbName]);
  await Promise.all(loops);
  const result: Tabs = {
    tabs,
    seconds: wall,
    postgresPercent: (backends.seconds() / wall) * 100,
    allPostgresPercent: all0 === null || all1 === null ? null : ((all1 - all0) / wall) * 100,
    idleAllPostgresPercent: idle,
    servePercent: ((serve1 - serve0) / clockTicksPerSecond / wall) * 100,
    listAnswers: listMs.length,
    listMedianMs: listMs.length ? median(listMs) : Number.NaN,
    campaignAnswers: campaignMs.length,
    campaignMedianMs: campaignMs.length ? median(campaignMs) : Number.NaN,
    errors,
    errorKinds: [...kinds].map(([k, n]) => `${k}: ${n}`).join('; '),
  };
  log(
    `  ${tabs} tab(s), ${wall.toFixed(1)} s: Postgres (this database's backends) ${result.postgresPercent.toFixed(1)}% of a core, all Postgres processes ${result.allPostgresPercent?.toFixed(1) ?? 'n/a'}% (idle before: ${idle?.toFixed(1) ?? 'n/a'}%), herald serve ${result.servePercent.toFixed(1)}%; ` +
      `${result.listAnswers} list answers (median ${ms(result.listMedianMs)} ms), ${result.campaignAnswers} campaign answers (median ${ms(result.campaignMedianMs)} ms), ${errors} errors${errors ? ` (${result.errorKinds})` : ''}`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------
// The CSV report of the largest campaign

interface Report {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  peakRssMb: number | null;
  complete: boolean;
}

async function measureReport(campaignId: number, expected: number): Promise<Report> {
  const t = performance.now();
  const child = startChild(['campaign', 'report', String(campaignId), '--format', 'csv']);
  const rss = watchPeakRss(child.pid!);
  let lines = 0;
  child.stdout!.on('data', (d: Buffer) => {
    for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
  });
  const exited = once(child, 'exit');
  const timer = setTimeout(() => child.kill('SIGTERM'), REPORT_TIMEOUT_MS);
  let last = 0;
  const progress = setInterval(() => {
    if (lines - last > 0) log(`  report: ${fmt(Math.max(0, lines - 1))} rows so far`);
    last = lines;
  }, 15_000);
  const [code] = (await exited) as [number | null];
  clearTimeout(timer);
  clearInterval(progress);
  const seconds = (performance.now() - t) / 1000;
  const peak = rss.stop();
  const rows = Math.max(0, lines - 1);
  const complete = code === 0 && rows === expected;
  if (code !== 0 && code !== null && rows === 0) throw new Error(`report exited ${code}`);
  const result = { rows, seconds, rowsPerSecond: Math.round(rows / seconds), peakRssMb: peak, complete };
  log(
    `  report: ${fmt(rows)} of ${fmt(expected)} rows in ${seconds.toFixed(1)} s${complete ? '' : ` (stopped after ${REPORT_TIMEOUT_MS / 1000} s)`}: ${fmt(result.rowsPerSecond)} rows/s, peak RSS ${peak ?? 'n/a'} MB`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------
// Sizes

interface Sizes {
  rows: { deliveries: number; recipients: number; listMembers: number };
  relations: Array<{ name: string; bytes: number; kind: 'table' | 'index' | 'total' }>;
}

async function tableSizes(deliveries: number, recipients: number, listMembers: number): Promise<Sizes> {
  const relations: Sizes['relations'] = [];
  for (const t of ['deliveries', 'recipients', 'list_members']) {
    const r = (await q<{ heap: string; total: string }>(`select pg_table_size($1::regclass) as heap, pg_total_relation_size($1::regclass) as total`, [t]))[0]!;
    relations.push({ name: t, bytes: Number(r.total), kind: 'total' });
    relations.push({ name: `${t} (table, with TOAST)`, bytes: Number(r.heap), kind: 'table' });
    for (const i of await q<{ name: string; bytes: string }>(
      `select c.relname as name, pg_relation_size(c.oid) as bytes from pg_index x join pg_class c on c.oid = x.indexrelid where x.indrelid = $1::regclass order by 2 desc`,
      [t],
    )) {
      relations.push({ name: `${t}: ${i.name}`, bytes: Number(i.bytes), kind: 'index' });
    }
  }
  return { rows: { deliveries, recipients, listMembers }, relations };
}

// ---------------------------------------------------------------------------------------------
// The run

async function findIds(): Promise<Ids> {
  const one = async (sql: string, params: unknown[]): Promise<{ id: number; n: number }> => {
    const r = (await q<{ id: string; n: string }>(sql, params))[0];
    if (!r) throw new Error(`not a database of this benchmark (no result for ${sql})`);
    return { id: Number(r.id), n: Number(r.n) };
  };
  const count = `(select count(*) from deliveries d where d.campaign_id = c.id)`;
  const big = await one(`select id, ${count} as n from campaigns c where name = $1`, [BIG_CAMPAIGN]);
  const tenth = await one(`select id, ${count} as n from campaigns c where name = $1`, [TENTH_CAMPAIGN]);
  const small = await one(`select id, ${count} as n from campaigns c where name like $1 order by ${count} desc, id desc limit 1`, [
    `${SMALL_CAMPAIGN_PREFIX}%`,
  ]);
  const campaigns = Number((await q<{ n: string }>('select count(*) as n from campaigns'))[0]!.n);
  const lists = Number((await q<{ n: string }>('select count(*) as n from lists'))[0]!.n);
  return { big: big.id, tenth: tenth.id, small: small.id, bigSize: big.n, tenthSize: tenth.n, smallSize: small.n, campaigns, lists };
}

async function startServe(): Promise<{ url: string; pid: number; child: ChildProcess }> {
  // Quiet: its start-up warnings (no API token, no webhook key) and the queries cancelled at
  // the end of each dashboard window are expected.
  const child = startChild(['serve', '--port', '0'], { ...childEnv, LOG_LEVEL: 'fatal' });
  for await (const line of createInterface({ input: child.stdout! })) {
    const m = /listening on (http:\/\/\S+)/.exec(line);
    if (m) return { url: m[1]!, pid: child.pid!, child };
  }
  throw new Error('herald serve did not start');
}

interface StateResult {
  reads: Reads;
  tabs: Tabs[];
  report: Report | null;
}

async function measureState(label: string, ids: Ids): Promise<StateResult> {
  log(`reads, ${label}`);
  const serve = await startServe();
  try {
    const reads = await measureReads(serve.url, ids);
    const tabs: Tabs[] = [];
    if (!values['skip-dashboard']) {
      log(`dashboard tabs, ${label} (each tab watches campaign ${ids.big})`);
      for (const n of [1, 10]) if (!interrupted) tabs.push(await dashboardTabs(serve.url, ids.big, n, serve.pid));
    }
    let report: Report | null = null;
    if (!values['skip-report'] && !interrupted) {
      log(`herald campaign report ${ids.big} --format csv, ${label}`);
      report = await measureReport(ids.big, ids.bigSize);
    }
    return { reads, tabs, report };
  } finally {
    serve.child.kill('SIGTERM');
    await once(serve.child, 'exit');
  }
}

let ids!: Ids;
let imported: Import | null = null;
let generated: GeneratedData | null = null;
let stale: StateResult | null = null;
let analysed!: StateResult;
let sizes!: Sizes;
let autovacuumGlobal = '';
try {
  const db = await connect({ databaseUrl: dbUrl });
  try {
    await migrateToLatest(db);
  } finally {
    await db.close();
  }
  autovacuumGlobal = (await q<{ autovacuum: string }>('show autovacuum'))[0]!.autovacuum;
  log(`database ${dbName}; server autovacuum = ${autovacuumGlobal}; CLK_TCK ${clockTicksPerSecond}`);
  // Stale statistics: no table is analysed by autovacuum between the load and the first
  // measurements (the setting is per table; it is reset at the end).
  await setAutovacuum(false);
  try {
    if (!values.reuse) {
      log(`import of ${fmt(N)} recipients through herald recipients import`);
      imported = await importRecipients();
      log(
        `import: ${fmt(imported.rows)} rows in ${imported.seconds.toFixed(1)} s, ${fmt(imported.rowsPerSecond)} rows/s overall; first tenth ${fmt(imported.firstSegment)}/s, last tenth ${fmt(imported.lastSegment)}/s; per tenth ${imported.perSegment.map(fmt).join(', ')}; peak RSS ${imported.peakRssMb} MB`,
      );
      log('history, generated in SQL');
      const client = new pg.Client({ connectionString: dbUrl });
      await client.connect();
      try {
        generated = await generateHistory(client, log);
      } finally {
        await client.end();
      }
      log(`generated ${fmt(generated.deliveries)} deliveries; checkpoint (so the load's checkpoint does not fall in a measurement)`);
      await monitor.query('checkpoint');
      ids = await findIds();
      stale = await measureState('stale statistics (never analysed since the load)', ids);
      log('analyze');
      const t = performance.now();
      await monitor.query('analyze');
      log(`  analyze: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    } else {
      ids = await findIds();
    }
    analysed = await measureState(values.reuse ? 'statistics as found (reused database)' : 'fresh statistics (after ANALYZE)', ids);
  } finally {
    await setAutovacuum(true);
  }
  const recipients = Number((await q<{ n: string }>('select count(*) as n from recipients'))[0]!.n);
  const deliveries = generated?.deliveries ?? Number((await q<{ n: string }>('select count(*) as n from deliveries'))[0]!.n);
  const members = generated?.listMembers ?? Number((await q<{ n: string }>('select count(*) as n from list_members'))[0]!.n);
  sizes = await tableSizes(deliveries, recipients, members);
} catch (err) {
  for (const c of children) c.kill('SIGTERM');
  await monitor.end().catch(() => undefined);
  if (drop && !values.keep) await drop();
  throw err;
}
await monitor.end();

// ---------------------------------------------------------------------------------------------
// Output

const targets: Record<ReadKey, number> = { getBig: 50, getTenth: 50, getSmall: 50, list: 100, cliStatus: 50, cliLists: 50 };
const readRows: Array<{ key: ReadKey; read: string; size: string }> = [
  { key: 'getBig', read: `\`GET /api/v1/campaigns/ID\``, size: `${fmt(ids.bigSize)} deliveries (running)` },
  { key: 'getTenth', read: `\`GET /api/v1/campaigns/ID\``, size: `${fmt(ids.tenthSize)} deliveries (finished)` },
  { key: 'getSmall', read: `\`GET /api/v1/campaigns/ID\``, size: `${fmt(ids.smallSize)} deliveries (finished)` },
  { key: 'list', read: '`GET /api/v1/campaigns`', size: `${ids.campaigns} campaigns` },
  { key: 'cliStatus', read: '`herald campaign status ID --json` (in-process, no start-up)', size: `${fmt(ids.bigSize)} deliveries` },
  { key: 'cliLists', read: '`herald lists ls` (in-process, no start-up)', size: `${ids.lists} lists, ${fmt(sizes.rows.listMembers)} members` },
];
const cell = (m: Measured | undefined): string => (m ? `${ms(median(m.samples))} / ${ms(p95(m.samples))}` : '—');
const verdict = (m: Measured | undefined, target: number): string => (m ? (median(m.samples) < target ? 'pass' : 'fail') : '—');
const readsTable = [
  '| read | size | stale: median / p95 ms | analysed: median / p95 ms | target (median) | stale | analysed |',
  '|---|---|---:|---:|---:|---|---|',
  ...readRows.map((r) => {
    const s = stale?.reads[r.key];
    const a = analysed.reads[r.key];
    return `| ${r.read} | ${r.size} | ${cell(s)} | ${cell(a)} | < ${targets[r.key]} ms | ${verdict(s, targets[r.key])} | ${verdict(a, targets[r.key])} |`;
  }),
].join('\n');
const firstCalls = readRows.map((r) => `${r.read.replace(/`/g, '')} ${ms(stale?.reads[r.key].first)} / ${ms(analysed.reads[r.key].first)}`).join('; ');

const tabRows: string[] = [];
for (const [label, state] of [
  ['stale', stale],
  ['analysed', analysed],
] as const) {
  for (const t of state?.tabs ?? []) {
    const target = t.tabs === 1 ? 2 : 5;
    tabRows.push(
      `| ${t.tabs} | ${label} | ${t.postgresPercent.toFixed(1)}% | ${t.allPostgresPercent?.toFixed(1) ?? 'n/a'}% (idle ${t.idleAllPostgresPercent?.toFixed(1) ?? 'n/a'}%) | ${t.servePercent.toFixed(1)}% | ${t.listAnswers} / ${ms(t.listMedianMs)} ms | ${t.campaignAnswers} / ${ms(t.campaignMedianMs)} ms | ${t.errors ? `${t.errors} (${t.errorKinds})` : 0} | < ${target}% | ${t.postgresPercent < target ? 'pass' : 'fail'} |`,
    );
  }
}
const tabsTable = tabRows.length
  ? [
      `| tabs | statistics | Postgres CPU (this database's backends), % of a core | all Postgres processes | herald serve CPU | campaign list: answers / median | campaign: answers / median | error answers | target | |`,
      '|---:|---|---:|---:|---:|---:|---:|---|---:|---|',
      ...tabRows,
    ].join('\n')
  : '';

const reportRows: string[] = [];
for (const [label, state] of [
  ['stale', stale],
  ['analysed', analysed],
] as const) {
  const r = state?.report;
  if (r)
    reportRows.push(
      `| ${label} | ${fmt(r.rows)} of ${fmt(ids.bigSize)}${r.complete ? '' : ` (stopped at ${REPORT_TIMEOUT_MS / 1000} s)`} | ${r.seconds.toFixed(1)} | ${fmt(r.rowsPerSecond)} | ${r.peakRssMb ?? 'n/a'} |`,
    );
}
const reportTable = reportRows.length
  ? ['| statistics | rows written | seconds | rows/s | peak RSS MB (VmHWM) |', '|---|---:|---:|---:|---:|', ...reportRows].join('\n')
  : '';

const importTable = imported
  ? [
      "| rows | seconds (the CLI's own) | rows/s overall | first tenth rows/s | last tenth rows/s | last ÷ first | target | peak RSS MB |",
      '|---:|---:|---:|---:|---:|---:|---:|---:|',
      `| ${fmt(imported.rows)} | ${imported.seconds.toFixed(1)} | ${fmt(imported.rowsPerSecond)} | ${fmt(imported.firstSegment)} | ${fmt(imported.lastSegment)} | ${((imported.lastSegment / imported.firstSegment) * 100).toFixed(0)}% | ≥ 80% | ${imported.peakRssMb ?? 'n/a'} |`,
    ].join('\n') + `\n\nRows/s per tenth of the file (${fmt(imported.segmentRows)} rows each): ${imported.perSegment.map(fmt).join(', ')}.`
  : '';

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
const perMillion = (rows: number, bytes: number): string => (rows > 0 ? mb((bytes / rows) * 1e6) : '—');
const sizeRows = sizes.relations.map((r) => {
  const base = r.name.startsWith('deliveries') ? sizes.rows.deliveries : r.name.startsWith('recipients') ? sizes.rows.recipients : sizes.rows.listMembers;
  const name = r.kind === 'total' ? `**${r.name}** (all)` : r.name;
  return `| ${name} | ${mb(r.bytes)} | ${perMillion(base, r.bytes)} |`;
});
const sizesTable = [`| relation | MB | MB per million rows of its table |`, '|---|---:|---:|', ...sizeRows].join('\n');
const totalAll = sizes.relations.filter((r) => r.kind === 'total').reduce((a, r) => a + r.bytes, 0);
const deliveriesTotal = sizes.relations.find((r) => r.name === 'deliveries' && r.kind === 'total')!.bytes;

const elapsed = (performance.now() - started) / 1000;
const shape = generated
  ? `${fmt(sizes.rows.recipients)} recipients imported from a generated CSV (email, name, two attribute columns) through \`herald recipients import\` into the list \`${BIG_LIST}\`; the rest generated in SQL (INSERT … SELECT, at most ~1M rows a statement, triggers and constraints on): ${ids.lists} lists (${BIG_LIST}, ${fmt(ids.tenthSize)} in every-tenth, five segments of 1,000–10,000), ${fmt(sizes.rows.listMembers)} list members, ${ids.campaigns} campaigns and ${fmt(sizes.rows.deliveries)} deliveries: one running campaign to everyone (${fmt(ids.bigSize)} deliveries: sent 93.9%, failed 3% over five error codes, suppressed 2%, skipped 0.5%, unknown 0.3%, pending 0.3%; sent_at spread over its run), one finished to every tenth (${fmt(ids.tenthSize)}), 98 finished newsletters to the segments (1,000–10,000 each, one every two days); sent rows carry a Mailgun-style provider id, worker id, claimed_at and sent_at.`
  : `a database kept by an earlier run (\`--reuse\`): ${fmt(sizes.rows.recipients)} recipients, ${ids.lists} lists (${fmt(sizes.rows.listMembers)} members), ${ids.campaigns} campaigns, ${fmt(sizes.rows.deliveries)} deliveries.`;
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: packageRoot, encoding: 'utf8' }).trim();
} catch {}
const body = `${machineLine()}; Herald at \`${commit}\`; real Postgres (same machine, shared_buffers as configured, server autovacuum ${autovacuumGlobal}); whole run ${(elapsed / 60).toFixed(1)} min.

Command: \`DATABASE_URL=postgres://… npm run bench:scale -- ${values.reuse ? '--reuse postgres://…/KEPT_DATABASE' : `--recipients ${N}`}\`

Data: ${shape}

Method: the HTTP reads go to a \`herald serve\` process, one request at a time, ${SAMPLES} samples (fewer when a read takes longer than ${READ_BUDGET_MS / 1000} s in all, at least 3) after one unrecorded first call; the CLI commands are timed in this process as the command runs them after Node's start-up (connect, migration check, the query and its output, close; connecting and the migration check alone: ${ms(analysed.reads.connectOnly)} ms), also ${SAMPLES} samples, because Node's start-up on this shared 2-core machine varies by more than the targets (the real commands' wall times, median of ${CLI_SAMPLES}, analysed: \`herald --help\` ${ms(analysed.reads.cliWall.help)} ms, \`herald campaign status ID --json\` ${ms(analysed.reads.cliWall.status)} ms, \`herald lists ls\` ${ms(analysed.reads.cliWall.lists)} ms${stale ? `; stale: ${ms(stale.reads.cliWall.help)}, ${ms(stale.reads.cliWall.status)}, ${ms(stale.reads.cliWall.lists)} ms` : ''}). "Stale" is right after the load: no table analysed (autovacuum off for every table of the schema from before the import until the end, then reset), no vacuum, after a CHECKPOINT; "analysed" is after ANALYZE of the whole database. Dashboard tabs: each tab polls \`GET /api/v1/campaigns\` 2 s after each answer and \`GET /api/v1/campaigns/ID\` (the running ${fmt(ids.bigSize)}-delivery campaign) 1 s after each answer, for ${TAB_SECONDS} s; Postgres CPU is utime+stime from /proc of this database's backends (the \`herald serve\` pool), divided by wall time; the all-processes column is every postgres process of the server, which includes other work on the machine (its idle rate just before is shown). The report is \`herald campaign report ID --format csv\` on the running campaign read to the end or stopped after ${REPORT_TIMEOUT_MS / 1000} s; peak RSS is its VmHWM. Targets are for the median.

${readsTable}

First (unrecorded) call, stale / analysed ms: ${firstCalls}.

${tabsTable ? `Dashboard tabs:\n\n${tabsTable}\n\n` : ''}${reportTable ? `CSV report of the ${fmt(ids.bigSize)}-delivery campaign:\n\n${reportTable}\n\n` : ''}${importTable ? `Import (\`herald recipients import FILE --list ${BIG_LIST}\`, one file of ${fmt(imported!.rows)} rows into an empty database; progress read every 250 ms from the recipients id sequence, the first tenth timed from the first recipient written):\n\n${importTable}\n\n` : ''}${
  generated ? `Generating the history in SQL: ${generated.phases.map((p) => `${p.name} ${p.seconds.toFixed(0)} s`).join('; ')}.\n\n` : ''
}Table sizes (freshly inserted rows, no update churn: rows written by real sends are updated once or twice and carry dead versions until vacuum): deliveries ${mb(deliveriesTotal)} MB for ${fmt(sizes.rows.deliveries)} rows = **${perMillion(sizes.rows.deliveries, deliveriesTotal)} MB per million deliveries**; all three tables ${(totalAll / 2 ** 30).toFixed(2)} GB.

${sizesTable}`;

console.log(`\n${body}\n`);
if (!values['no-write'] && !interrupted) writeBenchmarkSection(`Reads at scale, ${fmt(sizes.rows.recipients)} recipients`, body);

if (drop) {
  if (values.keep) console.log(`kept the database: rerun the reads with\n  DATABASE_URL=${process.env.DATABASE_URL} npm run bench:scale -- --reuse ${dbUrl}`);
  else await drop();
}
