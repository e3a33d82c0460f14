/**
 * Import at scale: a generated CSV (the file shape of bench:scale: email, name, two attribute
 * columns) imported through `herald recipients import` into a fresh database, with autovacuum
 * off for the schema's tables as in bench:scale. Reports rows/s per tenth of the file (read
 * from the recipients id sequence) and the last tenth ÷ the first.
 *   DATABASE_URL=postgres://… npm run bench:import-scale [-- --rows 3000000] [--csv FILE] [--cli dist/src/cli/main.js]
 * --csv reuses (or writes, if missing, and keeps) a generated file; --cli runs another build of
 * Herald (an A/B in one session); --write puts the table into BENCHMARKS.md.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { packageRoot } from '../../src/config/paths.js';
import { connect } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { freshDatabase } from '../lib/report.js';
import { TickCounter, watchPeakRss } from '../lib/procStats.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    csv: { type: 'string', default: '' },
    cli: { type: 'string', default: path.join(packageRoot, 'dist/src/cli/main.js') },
    label: { type: 'string', default: '' },
    /**
     * sequential: bench:scale's addresses (reader1@…, reader2@…: consecutive lines are
     * neighbours in the lower(email) indexes, so each batch touches few index pages);
     * shuffled: the same count of distinct addresses in no order, as real lists come.
     */
    order: { type: 'string', default: 'sequential' },
  },
});
const N = Number(values.rows);
const started = performance.now();
const log = (line: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number): string => n.toLocaleString('en');

/** The rows of bench:scale's import (scripts/bench/scale.ts). */
async function writeCsv(file: string, rows: number): Promise<void> {
  const out = fs.createWriteStream(file);
  out.write('email,name,city,plan\n');
  let chunk = '';
  for (let i = 1; i <= rows; i++) {
    // Multiplying by an odd constant mod 2^32 is a bijection: distinct, in no order.
    const local = values.order === 'shuffled' ? `r${Number((BigInt(i) * 2654435761n) % 4294967296n).toString(36)}` : `reader${i}`;
    chunk += `${local}@example${i % 97}.com,Reader ${i},City ${i % 500},${i % 3 === 0 ? 'pro' : 'free'}\n`;
    if (i % 10_000 === 0) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.write(chunk);
  out.end();
  await once(out, 'finish');
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-import-scale-'));
const file = values.csv || path.join(dir, 'recipients.csv');
const fresh = await freshDatabase('herald_bench_import_scale');
const monitor = new pg.Client({ connectionString: fresh.url, application_name: 'herald-bench-import-scale' });
try {
  if (!fs.existsSync(file)) {
    const t = performance.now();
    await writeCsv(file, N);
    log(`CSV of ${fmt(N)} rows written to ${file} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const db = await connect({ databaseUrl: fresh.url });
  try {
    await migrateToLatest(db);
  } finally {
    await db.close();
  }
  await monitor.connect();
  const q = async <R extends pg.QueryResultRow>(text: string): Promise<R[]> => (await monitor.query<R>(text)).rows;
  for (const { t } of await q<{ t: string }>(`select tablename as t from pg_tables where schemaname = 'public'`)) {
    await monitor.query(`alter table "${t}" set (autovacuum_enabled = false)`);
  }
  await monitor.query('checkpoint');
  const seq = (await q<{ s: string }>(`select pg_get_serial_sequence('recipients', 'id') as s`))[0]!.s;
  const checkpoints = async (): Promise<number> =>
    Number((await q<{ n: string }>('select checkpoints_timed + checkpoints_req as n from pg_stat_bgwriter'))[0]!.n);
  const checkpointsBefore = await checkpoints();

  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: fresh.url, LOG_LEVEL: 'warn' };
  const child = spawn(
    process.execPath,
    [values.cli, 'recipients', 'import', file, '--list', 'everyone', '--create-list', '--rejects', path.join(dir, 'rejects.csv')],
    {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  process.once('SIGINT', () => child.kill('SIGTERM'));
  const rss = watchPeakRss(child.pid!);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  let done = false;
  void exited.then(() => (done = true));
  const t0 = performance.now();
  const progress: Array<{ t: number; n: number; wal: number; fpi: number; ckpt: number; cpu: number }> = [];
  // CPU of the import itself (the CLI process and its backends): what a row costs, whatever
  // else runs on the machine.
  const cpu = new TickCounter();
  const cpuSeconds = async (): Promise<number> => {
    const pids = (await q<{ pid: number }>(`select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`)).map(
      (r) => r.pid,
    );
    cpu.sample([child.pid!, ...pids]);
    return cpu.seconds();
  };
  // Server-wide (other databases' writes are in them too): WAL bytes, full-page images, checkpoints.
  const server = async (): Promise<{ wal: number; fpi: number; ckpt: number }> => {
    const r = (
      await q<{ wal: string; fpi: string; ckpt: string }>(
        'select w.wal_bytes as wal, w.wal_fpi as fpi, b.checkpoints_timed + b.checkpoints_req as ckpt from pg_stat_wal w, pg_stat_bgwriter b',
      )
    )[0]!;
    return { wal: Number(r.wal), fpi: Number(r.fpi), ckpt: Number(r.ckpt) };
  };
  let lastLogged = 0;
  while (!done) {
    const row = (await q<{ last_value: string; is_called: boolean }>(`select last_value, is_called from ${seq}`))[0]!;
    const n = row.is_called ? Number(row.last_value) : 0;
    progress.push({ t: (performance.now() - t0) / 1000, n, ...(await server()), cpu: await cpuSeconds() });
    if (n - lastLogged >= N / 10) {
      log(`  ${fmt(n)} recipients`);
      lastLogged = n;
    }
    await Promise.race([sleep(250), exited]);
  }
  const [code] = (await exited) as [number | null];
  const peak = rss.stop();
  if (code !== 0) throw new Error(`import exited ${code}: ${out}`);
  const m = /read (\d+) rows in ([\d.]+) s: (\d+) new/.exec(out);
  if (!m) throw new Error(`unexpected import output: ${out}`);
  const rows = Number(m[3]);
  const seconds = Number(m[2]);
  progress.push({ t: (performance.now() - t0) / 1000, n: rows, ...(await server()), cpu: cpu.seconds() });
  const at = (n: number): number => {
    const i = progress.findIndex((p) => p.n >= n);
    if (i <= 0) return progress[Math.max(0, i)]!.t;
    const a = progress[i - 1]!;
    const b = progress[i]!;
    return a.t + ((b.t - a.t) * (n - a.n)) / Math.max(1, b.n - a.n);
  };
  // As bench:scale: the first tenth is timed from the first recipient written.
  const segment = Math.round(rows / 10);
  const first = progress.find((p) => p.n > 0)!;
  const perTenth: number[] = [];
  const walPerTenth: string[] = [];
  const cpuPerTenth: number[] = [];
  const sample = (n: number) => progress.find((p) => p.n >= n) ?? progress[progress.length - 1]!;
  for (let s = 0; s < 10; s++) {
    const from = s === 0 ? first.n : s * segment;
    const to = s === 9 ? rows : (s + 1) * segment;
    const span = s === 0 ? at(to) - first.t : at(to) - at(from);
    perTenth.push(Math.round((to - from) / span));
    const [a, b] = [sample(from), sample(to)];
    cpuPerTenth.push(Math.round(((b.cpu - a.cpu) * 1e6) / Math.max(1, b.n - a.n)));
    walPerTenth.push(`${Math.round((b.wal - a.wal) / 2 ** 20)} MB/${Math.round((b.fpi - a.fpi) / 1000)}k FPI/${b.ckpt - a.ckpt} ckpt`);
  }
  const sizes = (
    await q<{ name: string; mb: string }>(
      `select c.relname as name, round(pg_relation_size(c.oid) / 1048576.0) as mb from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and c.relkind in ('r', 'i') and pg_relation_size(c.oid) > 10485760 order by 2 desc`,
    )
  ).map((r) => `${r.name} ${r.mb} MB`);
  const lists = await q<{ n_tup_upd: string; n_tup_hot_upd: string; n_dead_tup: string }>(
    `select n_tup_upd, n_tup_hot_upd, n_dead_tup from pg_stat_user_tables where relname = 'lists'`,
  );
  const ratio = perTenth[9]! / perTenth[0]!;
  log(`${values.label ? `${values.label}: ` : ''}${fmt(rows)} rows in ${seconds.toFixed(1)} s, ${fmt(Math.round(rows / seconds))} rows/s overall`);
  log(`per tenth (rows/s): ${perTenth.map(fmt).join(', ')}`);
  log(`CPU per row per tenth (µs, the CLI and its backends): ${cpuPerTenth.join(', ')}`);
  log(`WAL per tenth (server-wide): ${walPerTenth.join(', ')}`);
  log(`last ÷ first: ${(ratio * 100).toFixed(0)}%; peak RSS ${peak} MB; checkpoints during the import ${(await checkpoints()) - checkpointsBefore}`);
  log(`sizes: ${sizes.join(', ')}; lists row: ${JSON.stringify(lists[0])}`);
  console.log(
    `RESULT ${JSON.stringify({ label: values.label, rows, seconds, rowsPerSecond: Math.round(rows / seconds), perTenth, cpuPerTenth, lastOverFirst: Number(ratio.toFixed(3)), peakRssMb: peak })}`,
  );
} finally {
  await monitor.end().catch(() => undefined);
  await fresh.drop();
  // A file named by --csv is kept (for the next run); the rejects and a generated file go.
  fs.rmSync(dir, { recursive: true, force: true });
}
