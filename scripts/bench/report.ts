/**
 * Campaign report benchmark: `herald campaign report ID` and `GET /api/v1/campaigns/:id/report`
 * over one campaign of N deliveries, with the tables' statistics stale (never analysed since the
 * rows went in) and analysed.
 *   DATABASE_URL=postgres://… npm run bench:report -- --recipients 1000000,2000000 --runs 3
 * The fixture is generated in SQL (generate_series), not by sending: N recipients and one
 * campaign with a delivery row for each (1% failed with an error message that needs CSV
 * quoting). Autovacuum is off on the two tables so "stale" stays stale until the benchmark runs
 * ANALYZE. Each size gets its own database, dropped at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { connect } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { packageRoot } from '../../src/config/paths.js';
import { freshDatabase, machineLine, median, writeBenchmarkSection } from '../lib/report.js';

const { values } = parseArgs({
  options: {
    /** One size or several, comma-separated: each gets its own database. */
    recipients: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    format: { type: 'string', default: 'csv' },
    /** Only the stale-statistics runs (no ANALYZE). */
    stale: { type: 'boolean', default: false },
    /** Only the runs after ANALYZE. */
    analysed: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const sizes = values.recipients.split(',').map((s) => Number(s.replaceAll('_', '')));
const runs = Number(values.runs);
const format = values.format;
if (format !== 'csv' && format !== 'jsonl') throw new Error('--format is csv or jsonl');
const modes: Array<'stale' | 'analysed'> =
  values.stale && !values.analysed ? ['stale'] : values.analysed && !values.stale ? ['analysed'] : ['stale', 'analysed'];
const cli = path.join(packageRoot, 'dist/src/cli/main.js');
const gnuTime = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

interface Measure {
  rowsPerSecond: number;
  peakRssMb: number;
}

/** Peak RSS (VmHWM) of a live process, in MB; 0 where there is no /proc. */
function peakRssOf(pid: number): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : 0;
  } catch {
    return 0;
  }
}

/** Polls a child's VmHWM until it exits (for machines without GNU time). */
function pollPeakRss(child: ChildProcess): () => number {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, peakRssOf(child.pid!))), 50);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

async function exitCode(child: ChildProcess): Promise<number> {
  const [code] = (await once(child, 'exit')) as [number | null];
  return code ?? 1;
}

/** `herald campaign report ID > /dev/null`, timed from spawn to exit (start-up included). */
async function viaCli(url: string, id: number, rows: number): Promise<Measure> {
  const env = { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' };
  const args = [cli, 'campaign', 'report', String(id), '--format', format];
  const devNull = fs.openSync('/dev/null', 'w');
  const timeFile = path.join(os.tmpdir(), `herald-bench-report-${process.pid}.time`);
  const started = performance.now();
  const child = gnuTime
    ? spawn(gnuTime, ['-f', '%M', '-o', timeFile, process.execPath, ...args], { env, stdio: ['ignore', devNull, 'inherit'] })
    : spawn(process.execPath, args, { env, stdio: ['ignore', devNull, 'inherit'] });
  const stopPolling = gnuTime ? null : pollPeakRss(child);
  const code = await exitCode(child);
  const seconds = (performance.now() - started) / 1000;
  fs.closeSync(devNull);
  if (code !== 0) throw new Error(`campaign report exited with ${code}`);
  let peakRssMb: number;
  if (stopPolling) peakRssMb = stopPolling();
  else {
    peakRssMb = Math.round(Number(fs.readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)) / 1024);
    fs.rmSync(timeFile);
  }
  return { rowsPerSecond: Math.round(rows / seconds), peakRssMb };
}

/** A fresh `herald serve` per run; the GET is timed from request to the last byte. */
async function viaApi(url: string, id: number, rows: number): Promise<Measure> {
  const server = spawn(process.execPath, [cli, 'serve', '--port', '0'], {
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'error', HERALD_API_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    let base = '';
    for await (const line of createInterface({ input: server.stdout! })) {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        base = m[1]!;
        break;
      }
    }
    if (!base) throw new Error('herald serve did not start');
    const started = performance.now();
    const lines = await new Promise<number>((resolve, reject) => {
      http
        .get(`${base}/api/v1/campaigns/${id}/report?format=${format}`, (res) => {
          if (res.statusCode !== 200) reject(new Error(`report answered ${res.statusCode}`));
          let n = 0;
          res.on('data', (chunk: Buffer) => {
            for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) n++;
          });
          res.on('end', () => resolve(n));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    const seconds = (performance.now() - started) / 1000;
    // Every row is one line (the fixture's messages have no line breaks), plus the CSV header.
    const expected = rows + (format === 'csv' ? 1 : 0);
    if (lines !== expected) throw new Error(`the API report had ${lines} lines, expected ${expected}`);
    return { rowsPerSecond: Math.round(rows / seconds), peakRssMb: peakRssOf(server.pid!) };
  } finally {
    server.kill('SIGTERM');
    if (server.exitCode === null) await once(server, 'exit');
  }
}

/** The machine's 1-minute load average before each run: other work on the box shows here. */
const loads: number[] = [];

interface Row {
  rows: number;
  mode: 'stale' | 'analysed';
  interface: 'CLI' | 'API';
  measures: Measure[];
}

async function benchSize(rows: number): Promise<Row[]> {
  const fresh = await freshDatabase('herald_bench_report');
  const db = await connect({ databaseUrl: fresh.url });
  const results: Row[] = [];
  try {
    await migrateToLatest(db);
    const t0 = performance.now();
    await sql`alter table recipients set (autovacuum_enabled = off)`.execute(db.kysely);
    await sql`alter table deliveries set (autovacuum_enabled = off)`.execute(db.kysely);
    await sql`insert into lists (name) values ('report')`.execute(db.kysely);
    await sql`
      insert into recipients (email, name)
      select 'reader' || g || '@example.com', 'Reader ' || g from generate_series(1, ${rows}) g
    `.execute(db.kysely);
    const id = (
      await sql<{ id: number }>`
        insert into campaigns (name, list_id, template, subject, from_address, status)
        values ('report', 1, 'spring-sale', 'Hi', 'Shop <s@report.test>', 'finished') returning id
      `.execute(db.kysely)
    ).rows[0]!.id;
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts, provider_id, error_code, error_message, sent_at, updated_at)
      select ${id}, g, case when g % 100 = 0 then 'failed' else 'sent' end, 1,
        case when g % 100 = 0 then null else '<' || g || '.report@mg.example.com>' end,
        case when g % 100 = 0 then 'bounced' end,
        case when g % 100 = 0 then '550 mailbox "full", try later' end,
        case when g % 100 = 0 then null else now() end,
        now()
      from generate_series(1, ${rows}) g
    `.execute(db.kysely);
    await sql`checkpoint`.execute(db.kysely);
    console.log(`${rows.toLocaleString('en')} recipients and deliveries generated in SQL in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const mode of modes) {
      if (mode === 'analysed') await sql`vacuum analyze recipients, deliveries`.execute(db.kysely);
      const cliRow: Row = { rows, mode, interface: 'CLI', measures: [] };
      const apiRow: Row = { rows, mode, interface: 'API', measures: [] };
      for (let r = 0; r < runs; r++) {
        // Alternated so both see the same state of the machine.
        loads.push(os.loadavg()[0]!);
        const c = await viaCli(fresh.url, id, rows);
        cliRow.measures.push(c);
        console.log(`${rows} ${mode} run ${r + 1}: CLI ${c.rowsPerSecond} rows/s, peak RSS ${c.peakRssMb} MB`);
        const a = await viaApi(fresh.url, id, rows);
        apiRow.measures.push(a);
        console.log(`${rows} ${mode} run ${r + 1}: API ${a.rowsPerSecond} rows/s, server peak RSS ${a.peakRssMb} MB`);
      }
      results.push(cliRow, apiRow);
    }
  } finally {
    await db.close();
    await fresh.drop();
  }
  return results;
}

const all: Row[] = [];
for (const rows of sizes) all.push(...(await benchSize(rows)));
const table = [
  '| deliveries | statistics | via | rows/s (median) | peak RSS MB (median) | rows/s, each run |',
  '|---:|---|---|---:|---:|---|',
  ...all.map(
    (r) =>
      `| ${r.rows.toLocaleString('en')} | ${r.mode} | ${r.interface} | ${median(r.measures.map((m) => m.rowsPerSecond)).toLocaleString('en')} | ${median(r.measures.map((m) => m.peakRssMb))} | ${r.measures.map((m) => m.rowsPerSecond.toLocaleString('en')).join(', ')} |`,
  ),
].join('\n');
console.log(table);
if (!values['no-write']) {
  writeBenchmarkSection(
    'Campaign report',
    `${machineLine()}; real Postgres on the same machine; median of ${runs} runs; format ${format}; 1-minute load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} at the start of the runs (other work on the machine counts).

Linear means rows/s stays the same from one size to the next, and peak RSS too.

Command: \`DATABASE_URL=postgres://… npm run bench:report -- --recipients ${values.recipients} --runs ${runs}\`

The fixture is generated in SQL (generate_series): N recipients and one campaign with a delivery for each, 1% of them failed with an error message that needs quoting. "stale": the tables were never analysed after the insert (autovacuum off on them); "analysed": after VACUUM ANALYZE. CLI: \`herald campaign report ID --format ${format} > /dev/null\`, timed from spawn to exit, start-up included (about a second: a larger share of a smaller report); peak RSS from GNU time. API: a fresh \`herald serve\` per run, \`GET /api/v1/campaigns/ID/report?format=${format}\` timed from request to the last byte (the benchmark counts the lines); peak RSS is the server's VmHWM.

${table}`,
  );
}
