/**
 * How long a short `herald` command takes from spawn to exit, on real Postgres and on PGlite:
 * most of it is loading modules and opening the database, which every invocation pays (and
 * the test suite pays hundreds of times).
 *   DATABASE_URL=postgres://… npm run bench:cli -- --runs 7 [--against /other/checkout/dist/src/cli/main.js]
 * --against runs another build's CLI on the same databases, alternating with this one, so the
 * ratio is from the same run. Each database is its own and dropped at the end.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freshDatabase, machineLine, median, writeBenchmarkSection } from '../lib/report.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    /** Another build's dist/src/cli/main.js, timed alternately with this one's. */
    against: { type: 'string' },
    /** Records the table in BENCHMARKS.md ("CLI start-up"). */
    write: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const builds: Array<[name: string, cli: string]> = [['this build', here]];
if (values.against) builds.push(['--against', path.resolve(values.against)]);

/** The commands timed; ID stands for a draft's id. */
const COMMANDS = [['lists', 'ls'], ['campaign', 'status', 'ID'], ['segments', 'count', '--where', 'plan = "pro"'], ['--help']];

function run(cli: string, args: string[], env: NodeJS.ProcessEnv): { ms: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`herald ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return { ms, stdout: r.stdout.toString() };
}

const fresh = process.env.DATABASE_URL ? await freshDatabase('herald_bench_cli') : null;
const pgliteDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-cli-'));
const databases: Array<[name: string, env: NodeJS.ProcessEnv]> = [
  ...(fresh ? [['Postgres', { ...process.env, DATABASE_URL: fresh.url, LOG_LEVEL: 'warn' }] as [string, NodeJS.ProcessEnv]] : []),
  ['PGlite', { ...process.env, DATABASE_URL: '', HERALD_DATA_DIR: path.join(pgliteDir, 'db'), LOG_LEVEL: 'warn' }],
];
const rows: string[] = [];
try {
  for (const [dbName, env] of databases) {
    // Set-up, not measured: the schema, a list and a draft campaign over it.
    for (const [, cli] of builds) run(cli, ['migrate'], env);
    run(here, ['lists', 'create', 'cli-bench'], env);
    const created = run(
      here,
      [
        'campaign',
        'create',
        '--name',
        'cli-bench',
        '--list',
        'cli-bench',
        '--template',
        'spring-sale',
        '--subject',
        'Hello',
        '--from',
        'Shop <news@example.com>',
      ],
      env,
    );
    const campaignId = created.stdout.trim();
    for (const command of COMMANDS) {
      const args = command.map((a) => (a === 'ID' ? campaignId : a));
      const times = builds.map((): number[] => []);
      for (let r = 0; r < runs; r++) {
        // Alternating which build goes first, so neither always gets the warmer cache.
        const order = r % 2 === 0 ? builds.map((_, i) => i) : builds.map((_, i) => i).reverse();
        for (const i of order) times[i]!.push(run(builds[i]![1], args, env).ms);
      }
      const medians = times.map(median);
      const cells = medians.map((m) => `${Math.round(m)} ms`);
      const ratio = medians.length === 2 ? ` | ${(medians[0]! / medians[1]!).toFixed(2)}` : '';
      const row = `| ${dbName} | \`herald ${command.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}\` | ${cells.join(' | ')}${ratio} |`;
      console.log(row);
      rows.push(row);
    }
  }
} finally {
  await fresh?.drop();
  fs.rmSync(pgliteDir, { recursive: true, force: true });
}

const header =
  builds.length === 2
    ? '| database | command | this build | --against | ratio |\n|---|---|---:|---:|---:|'
    : '| database | command | this build |\n|---|---|---:|';
const table = `${header}\n${rows.join('\n')}`;
console.log(`\n${table}`);
if (values.write) {
  writeBenchmarkSection(
    'CLI start-up',
    `${machineLine()}; median of ${runs} runs each.\n\nCommand: \`DATABASE_URL=postgres://… npm run bench:cli -- --runs ${runs}${values.against ? ' --against OTHER/dist/src/cli/main.js' : ''}\`\n\nFrom spawn to exit of a short command on a database with the schema in place and no other rows than a list and a draft campaign; \`segments count\` runs one count. The two builds alternate.\n\n${table}`,
  );
}
