/**
 * Scale-out benchmark: throughput with 1, 2 and 3 `herald worker` processes on one campaign,
 * and with a campaign rate limit held locally vs in Redis (non-binding, to show its cost).
 *   DATABASE_URL=postgres://… REDIS_URL=redis://127.0.0.1:6379 npm run bench:scaling -- --recipients 40000 --runs 3
 * All processes share this machine's cores with the mock and Postgres: on 2 cores more
 * workers cannot add CPU, only concurrency.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { connect } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { packageRoot } from '../../src/config/paths.js';
import { insertCampaign } from '../../src/sql/insertCampaign.js';
import { freshDatabase, machineLine, median, writeBenchmarkSection } from '../lib/report.js';

const { values } = parseArgs({ options: { recipients: { type: 'string', default: '40000' }, runs: { type: 'string', default: '3' } } });
const recipients = Number(values.recipients);
const runs = Number(values.runs);
const cli = path.join(packageRoot, 'dist/src/cli/main.js');
const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('set REDIS_URL (the Redis limiter is one of the configurations)');

const fresh = await freshDatabase('herald_bench_scaling');
const db = await connect({ databaseUrl: fresh.url });
const mock = spawn(process.execPath, [cli, 'mock-mailgun', '--port', '0', '--latency', '50', '--jitter', '20', '--record', 'none', '--api-key', 'key-scale'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let mockUrl = '';
for await (const line of createInterface({ input: mock.stdout! })) {
  const m = /(http:\/\/\S+)/.exec(line);
  if (m) {
    mockUrl = m[1]!;
    break;
  }
}

async function runOnce(workers: number, rate: number | null, redis: boolean): Promise<number> {
  const id = await insertCampaign(db.kysely, {
    name: 'scaling',
    list_id: 1,
    template: 'spring-sale',
    subject: 'Hi {{ name }}',
    from_address: 'Shop <s@scale.test>',
    reply_to: null,
    rate_per_second: rate,
    max_concurrency: null,
    scheduled_at: null,
    started_at: null,
    finished_at: null,
    status: 'running',
  });
  const env = {
    ...process.env,
    DATABASE_URL: fresh.url,
    MAILGUN_API_KEY: 'key-scale',
    MAILGUN_DOMAIN: `scale-${id}.test`,
    MAILGUN_BASE_URL: mockUrl,
    LOG_LEVEL: 'warn',
    REDIS_URL: redis ? redisUrl : '',
  };
  const started = performance.now();
  const children = Array.from({ length: workers }, () => spawn(process.execPath, [cli, 'worker'], { env, stdio: 'inherit' }));
  await Promise.all(children.map((c) => once(c, 'exit')));
  const seconds = (performance.now() - started) / 1000;
  const sent = Number(
    (await sql<{ n: number }>`select count(*) as n from deliveries where campaign_id = ${id} and status = 'sent'`.execute(db.kysely)).rows[0]!.n,
  );
  if (sent !== recipients) throw new Error(`campaign ${id} sent ${sent} of ${recipients}`);
  return Math.round(sent / seconds);
}

const configs = [
  { name: '1 worker', workers: 1, rate: null, redis: false },
  { name: '2 workers', workers: 2, rate: null, redis: false },
  { name: '3 workers', workers: 3, rate: null, redis: false },
  { name: '1 worker, campaign limiter local (--rate 20000)', workers: 1, rate: 20_000, redis: false },
  { name: '1 worker, campaign limiter in Redis (--rate 20000)', workers: 1, rate: 20_000, redis: true },
  { name: '3 workers, campaign limiter in Redis (--rate 20000)', workers: 3, rate: 20_000, redis: true },
];
try {
  await migrateToLatest(db);
  await db.kysely.insertInto('lists').values({ name: 'scaling' }).execute();
  await sql`
    insert into recipients (email, name, attributes)
    select 'reader' || g || '@example.com', 'Reader ' || g, '{}'::jsonb from generate_series(1, ${recipients}) g
  `.execute(db.kysely);
  await sql`insert into list_members (list_id, recipient_id) select 1, id from recipients`.execute(db.kysely);
  const rates = new Map<string, number[]>(configs.map((c) => [c.name, []]));
  for (let r = 0; r < runs; r++) {
    for (const c of configs) {
      const rate = await runOnce(c.workers, c.rate, c.redis);
      rates.get(c.name)!.push(rate);
      console.log(`run ${r + 1}: ${c.name}: ${rate} msgs/s`);
    }
  }
  const base = median(rates.get('1 worker')!);
  const table = [
    '| configuration | msgs/s (median) | vs 1 worker |',
    '|---|---:|---:|',
    ...configs.map((c) => {
      const m = median(rates.get(c.name)!);
      return `| ${c.name} | ${m.toLocaleString('en')} | ${(m / base).toFixed(2)}× |`;
    }),
  ].join('\n');
  console.log(table);
  writeBenchmarkSection(
    'Scaling out',
    `${machineLine()}; ${recipients.toLocaleString('en')} recipients per campaign; median of ${runs} runs; each configuration sends a new campaign to the same list with default worker settings.\n\nCommand: \`DATABASE_URL=postgres://… REDIS_URL=redis://127.0.0.1:6379 npm run bench:scaling -- --recipients ${recipients} --runs ${runs}\`\n\nThe mock (50 ms ± 20 ms) runs in its own process. Every worker, the mock and Postgres share the same 2 cores, so extra workers add requests in flight but no CPU: on one machine a single worker with higher --concurrency does the same job. Workers pay off across machines. A non-binding campaign limit measures what the limiter itself costs, locally and in Redis.\n\n${table}`,
  );
} finally {
  mock.kill('SIGTERM');
  await db.close();
  await fresh.drop();
}
