import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { formatDeliveryId } from '../src/domain/deliveryId.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { transitionCampaign } from '../src/sql/transitionCampaign.js';
import { countWorkers } from '../src/sql/leases/countWorkers.js';
import { onRealPostgres, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_KEY, spawnHerald, startMockProcess, type HeraldProcess, type MockProcess } from './support/processes.js';
import { addSendingDomain } from '../src/sql/addSendingDomain.js';

async function redisReachable(url: string | undefined): Promise<boolean> {
  if (!url) return false;
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(u.port || 6379), u.hostname);
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const redisUrl = process.env.REDIS_URL;
const skip = !onRealPostgres
  ? 'several worker processes share one database: needs DATABASE_URL (real Postgres)'
  : !(await redisReachable(redisUrl))
    ? 'needs REDIS_URL pointing at a running Redis (the shared rate limit lives there)'
    : false;
if (skip) console.log(`# scale-out test skipped: ${skip}`);

describe('three workers, two campaigns, one shared rate limit (postgres + redis)', { skip }, () => {
  let db: TestDb;
  let mock: MockProcess;
  const domain = `scale-${process.pid}-${Date.now()}.test`;
  before(async () => {
    db = await openTestDb();
    // A domain of its own: the shared limiter in Redis is named after it.
    mock = await startMockProcess(['--latency', '5', '--record', 'counts', '--domain', domain]);
  });
  after(async () => {
    await mock?.stop();
    await db?.dispose();
  });

  it('holds 300 msgs/s across all workers, survives a SIGKILL, and sends everyone exactly once', async () => {
    const a = await seedList(db.kysely, 'scale-a', 2500);
    const b = await seedList(db.kysely, 'scale-b', 2500);
    const campaignA = await seedCampaign(db.kysely, a.listId);
    const campaignB = await seedCampaign(db.kysely, b.listId);
    const env = { DATABASE_URL: db.url!, REDIS_URL: redisUrl!, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: domain, MAILGUN_BASE_URL: mock.url };
    await addSendingDomain(db.kysely, domain, { ratePerSecond: 300 });
    // The mock's event log is complete at once: the killed worker's sends can be looked up now.
    const args = ['worker', '--concurrency', '50', '--lease-ms', '3000', '--reconcile-after', '0'];
    const workers: HeraldProcess[] = [spawnHerald(args, env), spawnHerald(args, env), spawnHerald(args, env)];

    const sent = async () => (await countDeliveries(db.kysely, campaignA)).sent + (await countDeliveries(db.kysely, campaignB)).sent;
    const deadline = Date.now() + 60_000;
    while ((await sent()) < 1500) {
      assert.ok(Date.now() < deadline, `no progress: ${workers.map((w) => w.output()).join('\n')}`);
      await sleep(100);
    }
    workers[0]!.process.kill('SIGKILL');
    await workers[0]!.exited;
    for (const w of workers.slice(1)) assert.equal(await w.exited, 0, w.output());

    for (const id of [campaignA, campaignB]) {
      const counts = await countDeliveries(db.kysely, id);
      assert.equal(counts.sent, 2500, `campaign ${id}: ${JSON.stringify(counts)}`);
    }
    const accepted = await mock.deliveries();
    for (const [id, list] of [
      [campaignA, a],
      [campaignB, b],
    ] as const) {
      for (const r of list.recipientIds) assert.equal(accepted[formatDeliveryId(id, r)], 1, `recipient ${r} of campaign ${id}`);
    }
    const perSecond = Object.values((await mock.stats()).perSecond as Record<string, number>);
    // The limiter adds 30 permits every 100 ms: an interval granted just before a second
    // boundary is counted by the mock in the next second. The bucket carries over at most one
    // chunk (6), and each worker may hold a chunk and a half it fetched ahead (3 × 9). So one
    // second may hold up to 300 + 30 + 6 + 27, and no two consecutive seconds more than twice
    // the limit and as much again.
    const peak = Math.max(...perSecond);
    assert.ok(peak <= 363, `peak ${peak}/s over a 300/s limit: ${perSecond.join(', ')}`);
    const pairs = perSecond.slice(1).map((n, i) => n + perSecond[i]!);
    assert.ok(Math.max(...pairs) <= 663, `two seconds held ${Math.max(...pairs)} over a 300/s limit: ${perSecond.join(', ')}`);
    assert.ok(perSecond.filter((n) => n >= 250).length >= 5, `the limit was actually used: ${perSecond.join(', ')}`);
  });

  it('holds a daily cap and a max concurrency across workers and campaigns', async () => {
    const capped = `capped-${domain}`;
    await mock.stop();
    mock = await startMockProcess(['--latency', '20', '--record', 'counts', '--domain', capped]);
    await addSendingDomain(db.kysely, capped, { dailyCap: 700, maxConcurrency: 30 });
    const a = await seedList(db.kysely, 'cap-a', 500);
    const b = await seedList(db.kysely, 'cap-b', 500);
    const ids = [
      await seedCampaign(db.kysely, a.listId, { domain: capped, status: 'draft' }),
      await seedCampaign(db.kysely, b.listId, { domain: capped, status: 'draft' }),
    ];
    const env = { DATABASE_URL: db.url!, REDIS_URL: redisUrl!, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: domain, MAILGUN_BASE_URL: mock.url };
    const workers = [0, 1, 2].map(() => spawnHerald(['worker', '--watch', '--concurrency', '100', '--batch-size', '50'], env));
    try {
      const deadline = Date.now() + 60_000;
      // The max concurrency is split among the workers that are live when a campaign starts
      // (and re-split within a second when one joins or leaves).
      while ((await countWorkers(db.kysely)) < 3) {
        assert.ok(Date.now() < deadline, `workers did not register: ${workers.map((w) => w.output()).join('\n')}`);
        await sleep(50);
      }
      for (const id of ids) await transitionCampaign(db.kysely, id, 'start');
      for (;;) {
        // A campaign that claimed its whole list before the cap was reached finishes instead
        // of waiting; the other one waits at the cap.
        const rows = await db.kysely.selectFrom('campaigns').select(['status', 'waiting_reason']).where('id', 'in', ids).execute();
        const open = await db.kysely
          .selectFrom('deliveries')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('campaign_id', 'in', ids)
          .where('status', '=', 'queued')
          .executeTakeFirstOrThrow();
        const settled = rows.every((r) => r.status === 'finished' || r.waiting_reason === 'daily_cap');
        if (settled && rows.some((r) => r.waiting_reason === 'daily_cap') && Number(open.n) === 0) break;
        assert.ok(Date.now() < deadline, `campaigns never hit the cap: ${workers.map((w) => w.output()).join('\n')}`);
        await sleep(100);
      }
      await sleep(500);
      const sent = (await countDeliveries(db.kysely, ids[0]!)).sent + (await countDeliveries(db.kysely, ids[1]!)).sent;
      assert.equal(sent, 700, 'exactly the cap, all workers and both campaigns together');
      assert.equal((await mock.stats()).accepted, 700);
      const stats = await mock.stats();
      assert.ok((stats.peakInFlight as number) <= 30, `peak ${String(stats.peakInFlight)} requests in flight over a max concurrency of 30`);
    } finally {
      for (const w of workers) w.process.kill('SIGTERM');
      for (const w of workers) assert.equal(await w.exited, 0, w.output());
    }
  });
});
