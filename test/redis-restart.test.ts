import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { onRealPostgres, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { PrivateRedis } from './support/privateRedis.js';
import { MOCK_DOMAIN, MOCK_KEY, spawnHerald, startMockProcess, type HeraldProcess, type MockProcess } from './support/processes.js';

const skip = !onRealPostgres ? 'worker processes share one database: needs DATABASE_URL (real Postgres)' : (PrivateRedis.unavailableReason() ?? false);
if (skip) console.log(`# redis restart test skipped: ${skip}`);

describe('Redis restarting or going away under a running campaign (postgres + a private redis)', { skip }, () => {
  let db: TestDb;
  let mock: MockProcess;
  let redis: PrivateRedis;
  let env: Record<string, string>;
  before(async () => {
    db = await openTestDb();
    redis = await PrivateRedis.start();
    mock = await startMockProcess(['--latency', '5', '--record', 'counts']);
    env = { DATABASE_URL: db.url!, REDIS_URL: redis.url, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url };
  });
  after(async () => {
    await mock?.stop();
    await redis?.down();
    await db?.dispose();
  });

  const waitFor = async (what: string, workers: HeraldProcess[], check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) {
        for (const w of workers) w.process.kill('SIGKILL');
        throw new Error(`timed out waiting until ${what}; output:\n${workers.map((w) => w.output()).join('\n---\n')}`);
      }
      await sleep(50);
    }
  };

  it('a Redis restart mid-campaign: no worker crashes, the shared rate holds again, everyone is sent once', async () => {
    const { listId } = await seedList(db.kysely, 'redis-restart', 6000);
    const id = await seedCampaign(db.kysely, listId, { rate: 1000 });
    const workers = [0, 1].map(() => spawnHerald(['worker', '--watch', '--concurrency', '50'], env));
    await waitFor('some mail is sent', workers, async () => (await countDeliveries(db.kysely, id)).sent > 1000);
    await redis.down();
    await sleep(1500);
    await redis.up();
    const restartedAt = Date.now();
    const sentAtRestart = (await countDeliveries(db.kysely, id)).sent;
    await waitFor('the campaign finishes', workers, async () => {
      const row = await db.kysely.selectFrom('campaigns').select('status').where('id', '=', id).executeTakeFirstOrThrow();
      return row.status === 'finished';
    });
    const seconds = (Date.now() - restartedAt) / 1000;
    const rate = (6000 - sentAtRestart) / seconds;
    // The limiters rebuilt their state in the new Redis with the campaign's rate: the two
    // workers together stay near 1,000/s, not 1,000/s each.
    assert.ok(rate < 1400, `rate after the restart ${rate.toFixed(0)}/s`);
    for (const w of workers) {
      assert.equal(w.process.exitCode, null, `a worker died:\n${w.output()}`);
      w.process.kill('SIGTERM');
      assert.equal(await w.exited, 0, w.output());
    }
    const counts = await countDeliveries(db.kysely, id);
    assert.equal(counts.sent, 6000);
    const stats = await mock.stats();
    assert.equal(stats.duplicates, 0);
  });

  it('Redis gone for good: the worker holds, says so in its log and status, and a graceful stop still ends and releases its claims', async () => {
    const { listId } = await seedList(db.kysely, 'redis-gone', 20_000);
    const id = await seedCampaign(db.kysely, listId, { rate: 500 });
    const worker = spawnHerald(['worker', '--concurrency', '50', '--limiter-stall', '2000'], { ...env, LOG_LEVEL: 'info' });
    await waitFor('some mail is sent', [worker], async () => (await countDeliveries(db.kysely, id)).sent > 500);
    await redis.down();
    await waitFor(
      'the campaign says it holds for the limiter',
      [worker],
      async () => {
        const row = await db.kysely.selectFrom('campaigns').select(['waiting_reason']).where('id', '=', id).executeTakeFirstOrThrow();
        return row.waiting_reason === 'rate_limiter_unavailable';
      },
      30_000,
    );
    assert.match(worker.output(), /cannot get rate-limit permits/);
    const stopAsked = Date.now();
    worker.process.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.output());
    assert.ok(Date.now() - stopAsked < 20_000, 'the stop did not wait for Redis');
    const counts = await countDeliveries(db.kysely, id);
    assert.equal(counts.queued, 0, 'claims released');
    await redis.up();
  });

  it('an unreachable REDIS_URL at start fails at once, naming the variable', async () => {
    const { listId } = await seedList(db.kysely, 'redis-none', 10);
    const id = await seedCampaign(db.kysely, listId, { rate: 10, status: 'draft' });
    const started = Date.now();
    const p = spawnHerald(['campaign', 'start', String(id), '--wait'], { ...env, REDIS_URL: 'redis://:secret-pw@127.0.0.1:1' });
    const code = await p.exited;
    assert.notEqual(code, 0);
    assert.match(p.output(), /REDIS_URL: cannot reach Redis at 127\.0\.0\.1:1/);
    assert.doesNotMatch(p.output(), /secret-pw/);
    assert.ok(Date.now() - started < 15_000, 'failed fast');
  });
});
