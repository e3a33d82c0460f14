/**
 * Imports generated CSVs of 100k and 1M recipients into real Postgres and prints rows/s and
 * peak RSS (median of 3 runs each), then records them in BENCHMARKS.md.
 *   DATABASE_URL=postgres://… npm run bench:import [-- --runs 3]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { connect } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { importRecipients } from '../src/import/importRecipients.js';
import { createList } from '../src/sql/createList.js';
import { freshDatabase, machineLine, median, sampleRss, writeBenchmarkSection } from './lib/report.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);

async function generate(file: string, rows: number): Promise<void> {
  const out = fs.createWriteStream(file);
  out.write('email,name,city,plan\n');
  for (let i = 0; i < rows; i++) {
    const line = `reader${i}@example${i % 97}.com,Reader ${i},City ${i % 500},${i % 3 === 0 ? 'pro' : 'free'}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function importOnce(file: string): Promise<{ rowsPerSecond: number; peakMb: number; firstQuarterMb: number; lastQuarterMb: number }> {
  const fresh = await freshDatabase('herald_bench_import');
  const db = await connect({ databaseUrl: fresh.url });
  try {
    await migrateToLatest(db);
    const listId = (await createList(db.kysely, 'bench'))!;
    global.gc?.();
    const rss = sampleRss();
    const started = performance.now();
    const summary = await importRecipients(db, file, { listId, rejectsPath: `${file}.rejects.csv` });
    const seconds = (performance.now() - started) / 1000;
    return { rowsPerSecond: Math.round(summary.imported / seconds), ...rss.stop() };
  } finally {
    await db.close();
    await fresh.drop();
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-import-'));
const results: Array<{ rows: number; rowsPerSecond: number; peakMb: number; firstQuarterMb: number; lastQuarterMb: number }> = [];
try {
  for (const rows of [100_000, 1_000_000]) {
    const file = path.join(dir, `${rows}.csv`);
    await generate(file, rows);
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const r = await importOnce(file);
      console.log(`${rows} rows: ${r.rowsPerSecond} rows/s, peak RSS ${r.peakMb} MB (first quarter ${r.firstQuarterMb}, last quarter ${r.lastQuarterMb})`);
      samples.push(r);
    }
    results.push({
      rows,
      rowsPerSecond: median(samples.map((s) => s.rowsPerSecond)),
      peakMb: median(samples.map((s) => s.peakMb)),
      firstQuarterMb: median(samples.map((s) => s.firstQuarterMb)),
      lastQuarterMb: median(samples.map((s) => s.lastQuarterMb)),
    });
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

const table = [
  '| rows | rows/s (median) | peak RSS MB | RSS MB, first quarter of the run | RSS MB, last quarter |',
  '|---:|---:|---:|---:|---:|',
  ...results.map(
    (r) => `| ${r.rows.toLocaleString('en')} | ${r.rowsPerSecond.toLocaleString('en')} | ${r.peakMb} | ${r.firstQuarterMb} | ${r.lastQuarterMb} |`,
  ),
].join('\n');
console.log(table);
writeBenchmarkSection(
  'Recipient import',
  `${machineLine()}; real Postgres 15 on the same machine; median of ${runs} runs.\n\nCommand: \`DATABASE_URL=postgres://… npm run bench:import\`\n\n${table}\n\nTarget: >= 50,000 rows/s with peak RSS flat from 100k to 1M rows. Batches of 10,000 rows go through three Postgres sessions at once, each taking batches in file order: COPY into a temporary table and marking first occurrences (the addresses seen so far live in a temporary table, not in memory), upserting recipients, adding list members. Foreign-key checks on list_members are the largest single cost.`,
);
