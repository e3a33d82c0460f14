/**
 * What watching a campaign costs Postgres: 1 and 10 watchers of one campaign, polling
 * `GET /api/v1/campaigns/{id}` (a second after each answer, as the dashboard did) with the read
 * cache off (HERALD_API_CACHE_MS=0, every request its own queries) and on (the default), and
 * following `GET /api/v1/campaigns/{id}/events`, all in one run.
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:watchers -- --deliveries 1000000 --seconds 20 --runs 3
 *
 * The campaign's deliveries are generated in SQL; `herald serve` runs in this process
 * (startServer), the watchers too. Postgres CPU is read from /proc: utime + stime of every
 * backend of the benchmark's own database (found by its name in the process title), so other
 * databases on a shared server do not count. Parallel query is off for that database so that
 * every CPU second lands in one of those backends. Queries are counted as the server sends
 * them (a Kysely plugin on the server's connection).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { type KyselyPlugin, sql } from 'kysely';
import { request } from 'undici';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/config/log.js';
import { connect, type Db } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { startServer } from '../../src/http/app.js';
import { Metrics } from '../../src/sender/metrics.js';
import { insertCampaign } from '../../src/sql/insertCampaign.js';
import { freshDatabase, machineLine, median, writeBenchmarkSection } from '../lib/report.js';

const { values } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '20' },
    runs: { type: 'string', default: '3' },
    'no-write': { type: 'boolean', default: false },
  },
});
const deliveries = Number(values.deliveries);
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const TOKEN = 'bench-watchers-token';

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds used so far by the backends of database `name`, sampled every 100 ms while
 * running: a backend that exits between two samples keeps its last reading.
 */
function backendCpu(name: string): { read: () => number; stop: () => void } {
  const ticks = new Map<string, number>();
  const titled = ` ${name} `;
  const sample = () => {
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
        if (!stat.includes(' (postgres) ')) continue;
        if (!ticks.has(pid) && !fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(titled)) continue;
        // After the command name: utime and stime are fields 14 and 15.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks.set(pid, Number(fields[11]) + Number(fields[12]));
      } catch {
        // the process ended while we looked
      }
    }
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    read: () => {
      sample();
      let sum = 0;
      for (const t of ticks.values()) sum += t;
      return sum / CLOCK_TICKS;
    },
    stop: () => clearInterval(timer),
  };
}

function countingDb(db: Db): { db: Db; queries: () => number } {
  let n = 0;
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      n++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { db: { ...db, kysely: db.kysely.withPlugin(plugin) }, queries: () => n };
}

const fresh = await freshDatabase('herald_bench_watchers');
const dbName = new URL(fresh.url).pathname.slice(1);
const admin = await connect({ databaseUrl: fresh.url, poolSize: 2 });

async function generate(): Promise<number> {
  await migrateToLatest(admin);
  const started = performance.now();
  const list = await admin.kysely.insertInto('lists').values({ name: 'watched' }).returning('id').executeTakeFirstOrThrow();
  await sql`
    insert into recipients (email, name) select 'r' || g || '@watch.test', 'R ' || g from generate_series(1, ${deliveries}::int) g
  `.execute(admin.kysely);
  await sql`insert into list_members (list_id, recipient_id) select ${list.id}, id from recipients`.execute(admin.kysely);
  const id = await insertCampaign(admin.kysely, {
    name: 'watched',
    list_id: list.id,
    template: 'spring-sale',
    subject: 'Hi',
    from_address: 'Shop <shop@watch.test>',
    reply_to: null,
    rate_per_second: null,
    max_concurrency: null,
    scheduled_at: null,
    started_at: new Date(),
    finished_at: null,
    status: 'running',
  });
  // A campaign part-way: 90% sent (over the last two hours), 4% failed, 1% suppressed, the rest
  // released to pending.
  await sql`
    insert into deliveries (campaign_id, recipient_id, status, attempts, error_code, sent_at)
    select ${id}, r.id,
      case when r.id % 100 < 90 then 'sent' when r.id % 100 < 94 then 'failed' when r.id % 100 < 95 then 'suppressed' else 'pending' end,
      case when r.id % 100 < 94 then 1 else 0 end,
      case when r.id % 100 between 90 and 93 then (array['http_400', 'transient_exhausted', 'render_error'])[1 + r.id % 3] end,
      case when r.id % 100 < 90 then now() - (r.id % 7200) * interval '1 second' end
    from recipients r
  `.execute(admin.kysely);
  await sql`vacuum analyze`.execute(admin.kysely);
  await sql`checkpoint`.execute(admin.kysely);
  await sql.raw(`alter database ${dbName} set max_parallel_workers_per_gather = 0`).execute(admin.kysely);
  console.log(`generated ${deliveries.toLocaleString('en')} deliveries in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return id;
}

interface Phase {
  name: string;
  cacheMs: number;
  watchers: number;
  how: 'poll' | 'stream';
}
interface Measured {
  cpuPercent: number;
  queriesPerSecond: number;
  /** Campaign answers the watchers got per second (polls answered, events received). */
  answersPerSecond: number;
}

/** One phase: a server of its own, `watchers` watchers for `seconds`, Postgres CPU over that window. */
async function measure(campaignId: number, phase: Phase): Promise<Measured> {
  const db = await connect({ databaseUrl: fresh.url });
  const counted = countingDb(db);
  const config = loadConfig({ ...process.env, DATABASE_URL: fresh.url, HERALD_API_TOKEN: TOKEN, HERALD_API_CACHE_MS: String(phase.cacheMs) });
  const server = await startServer(counted.db, createLogger('warn'), {
    host: '127.0.0.1',
    port: 0,
    unsubscribeSecret: 'bench',
    webhookSigningKey: undefined,
    apiToken: TOKEN,
    config,
    metrics: new Metrics(),
  });
  const headers = { authorization: `Bearer ${TOKEN}` };
  let answers = 0;
  let stopAt = Number.POSITIVE_INFINITY;
  const controller = new AbortController();
  const poller = async () => {
    while (Date.now() < stopAt) {
      const res = await request(`${server.url}/api/v1/campaigns/${campaignId}`, { headers });
      if (res.statusCode !== 200) throw new Error(`GET answered ${res.statusCode}: ${await res.body.text()}`);
      await res.body.json();
      answers++;
      await sleep(1000);
    }
  };
  const listener = async () => {
    const res = await request(`${server.url}/api/v1/campaigns/${campaignId}/events`, { headers, signal: controller.signal });
    if (res.statusCode !== 200) throw new Error(`events answered ${res.statusCode}`);
    try {
      for await (const chunk of res.body) answers += (String(chunk).match(/^data: /gm) ?? []).length;
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  };
  // Warm up (connections open, first answers in), then measure.
  const clients = Array.from({ length: phase.watchers }, () => (phase.how === 'poll' ? poller() : listener()));
  await sleep(3000);
  const cpu = backendCpu(dbName);
  const cpu0 = cpu.read();
  const queries0 = counted.queries();
  const answers0 = answers;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const wall = (performance.now() - t0) / 1000;
  const result: Measured = {
    cpuPercent: (100 * (cpu.read() - cpu0)) / wall,
    queriesPerSecond: (counted.queries() - queries0) / wall,
    answersPerSecond: (answers - answers0) / wall,
  };
  cpu.stop();
  stopAt = 0;
  controller.abort();
  await Promise.all(clients);
  await server.close();
  await db.close();
  return result;
}

const phases: Phase[] = [
  { name: '1 polling watcher, cache off', cacheMs: 0, watchers: 1, how: 'poll' },
  { name: '10 polling watchers, cache off', cacheMs: 0, watchers: 10, how: 'poll' },
  { name: '1 polling watcher, cache on (1 s)', cacheMs: 1000, watchers: 1, how: 'poll' },
  { name: '10 polling watchers, cache on (1 s)', cacheMs: 1000, watchers: 10, how: 'poll' },
  { name: '1 event-stream watcher', cacheMs: 1000, watchers: 1, how: 'stream' },
  { name: '10 event-stream watchers', cacheMs: 1000, watchers: 10, how: 'stream' },
];

try {
  const campaignId = await generate();
  const results = new Map<string, Measured[]>(phases.map((p) => [p.name, []]));
  // The ratio 10 watchers / 1 watcher, per run, for each way of watching.
  const ratios = new Map<string, number[]>();
  for (let run = 1; run <= runs; run++) {
    const byName = new Map<string, Measured>();
    for (const phase of phases) {
      const m = await measure(campaignId, phase);
      byName.set(phase.name, m);
      results.get(phase.name)!.push(m);
      console.log(
        `run ${run} · ${phase.name}: Postgres ${m.cpuPercent.toFixed(1)}% of a core, ${m.queriesPerSecond.toFixed(1)} queries/s, ${m.answersPerSecond.toFixed(1)} answers/s`,
      );
    }
    for (const [one, ten, label] of [
      ['1 polling watcher, cache off', '10 polling watchers, cache off', 'polling, cache off'],
      ['1 polling watcher, cache on (1 s)', '10 polling watchers, cache on (1 s)', 'polling, cache on'],
      ['1 event-stream watcher', '10 event-stream watchers', 'event stream'],
    ] as const) {
      const list = ratios.get(label) ?? [];
      list.push(byName.get(ten)!.cpuPercent / Math.max(0.01, byName.get(one)!.cpuPercent));
      ratios.set(label, list);
    }
  }

  const rows = phases.map((p) => {
    const ms = results.get(p.name)!;
    const med = (f: (m: Measured) => number) => median(ms.map(f));
    return `| ${p.name} | ${med((m) => m.cpuPercent).toFixed(1)}% | ${med((m) => m.queriesPerSecond).toFixed(1)} | ${med((m) => m.answersPerSecond).toFixed(1)} |`;
  });
  const ratioLine = [...ratios.entries()].map(([label, r]) => `${label} ${median(r).toFixed(1)}×`).join(', ');
  const body = [
    `${machineLine()}; median of ${runs} run${runs === 1 ? '' : 's'} of ${seconds} s per row.`,
    '',
    `Command: \`DATABASE_URL=postgres://… npm run bench:watchers -- --deliveries ${deliveries} --seconds ${seconds} --runs ${runs}\``,
    '',
    `Workload: one running campaign of ${deliveries.toLocaleString('en')} delivery rows (90% sent over the last two hours, 4% failed, 1% suppressed, 5% pending) on real Postgres, watched through \`herald serve\` (in the benchmark's process): polling watchers ask \`GET /api/v1/campaigns/{id}\` a second after each answer (as the dashboard did before it backed off), event-stream watchers hold \`GET /api/v1/campaigns/{id}/events\` open. Postgres CPU is utime + stime of the backends of the benchmark's database (from /proc; parallel query off so none of it runs elsewhere), as a share of one core; queries are those the server sent; answers are campaign views the watchers received (polls answered, events pushed: a stream sends only when the view changed, and this campaign does not change).`,
    '',
    '| watchers | Postgres CPU (% of a core) | queries/s | answers/s to the watchers |',
    '|---|---:|---:|---:|',
    ...rows,
    '',
    `Postgres CPU of 10 watchers over 1 (median of the per-run ratios): ${ratioLine}.`,
  ].join('\n');
  console.log(`\n${body}`);
  if (!values['no-write']) writeBenchmarkSection('Watching a campaign: Postgres cost per dashboard', body);
} finally {
  await admin.close();
  await fresh.drop();
}
