import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { formatDeliveryId } from '../src/domain/deliveryId.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { onRealPostgres, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, runHerald, spawnHerald, startMockProcess, waitWhileRunning, type MockProcess } from './support/processes.js';

const skip = onRealPostgres ? false : 'several processes share one database: needs DATABASE_URL (real Postgres)';

describe('pause, resume, graceful stop and crashes (postgres)', { skip }, () => {
  let db: TestDb;
  let mock: MockProcess;
  let env: Record<string, string>;
  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '20', '--jitter', '15', '--fail-rate', '0.02', '--throttle-rate', '0.01', '--seed', '7', '--record', 'counts']);
    env = { DATABASE_URL: db.url!, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url };
  });
  after(async () => {
    await mock?.stop();
    await db?.dispose();
  });

  const sentSoFar = async (campaignId: number): Promise<number> => (await countDeliveries(db.kysely, campaignId)).sent;

  it('SIGTERM stops a worker with nothing left queued and every result recorded', async () => {
    const { listId } = await seedList(db.kysely, 'sigterm', 20_000);
    const campaignId = await seedCampaign(db.kysely, listId);
    const worker = spawnHerald(['worker', '--concurrency', '100'], env);
    await waitWhileRunning('some mail is sent', worker, async () => (await sentSoFar(campaignId)) > 1000);
    worker.process.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.output());

    const counts = await countDeliveries(db.kysely, campaignId);
    assert.equal(counts.queued, 0, 'no claim is left queued');
    assert.ok(counts.pending > 0, 'unsent claims were released');
    const accepted = await mock.deliveries();
    const mine = Object.keys(accepted).filter((k) => k.startsWith(`${campaignId}.`));
    assert.equal(mine.length, counts.sent, 'every accepted message has its result in the database');
  });

  it('survives three SIGKILLs and two pause/resume cycles with every recipient sent exactly once', async () => {
    const total = 20_000;
    const { listId, recipientIds } = await seedList(db.kysely, 'chaos', total);
    const campaignId = await seedCampaign(db.kysely, listId, { unknownPolicy: 'reconcile' });
    // Slow enough (about 1,000/s) that every phase below happens mid-campaign.
    // The mock's event log is complete at once: no need to wait for it before reconciling.
    const workerArgs = ['worker', '--concurrency', '40', '--lease-ms', '2000', '--reconcile-after', '0'];

    const logs: string[] = [];
    const chaosEnv = { ...env, LOG_LEVEL: 'info' };
    for (let kill = 0; kill < 3; kill++) {
      const worker = spawnHerald(workerArgs, chaosEnv);
      const before = await sentSoFar(campaignId);
      await waitWhileRunning('the worker makes progress', worker, async () => (await sentSoFar(campaignId)) > before + 500 + Math.random() * 2000);
      worker.process.kill('SIGKILL');
      await worker.exited;
      logs.push(worker.output());
    }

    for (let cycle = 0; cycle < 2; cycle++) {
      const worker = spawnHerald(workerArgs, chaosEnv);
      const before = await sentSoFar(campaignId);
      await waitWhileRunning('the worker makes progress', worker, async () => (await sentSoFar(campaignId)) > before + 1000);
      // Let the killed workers' leases (2 s) expire first, so no claim of theirs is still queued.
      await sleep(2500);
      await runHerald(['campaign', 'pause', String(campaignId)], env);
      // With the campaign paused, the worker has nothing to run and exits by itself.
      assert.equal(await worker.exited, 0, worker.output());
      logs.push(worker.output());
      const paused = await countDeliveries(db.kysely, campaignId);
      assert.equal(paused.queued, 0, 'pause released every unsent claim of the live worker');
      await runHerald(['campaign', 'resume', String(campaignId)], env);
    }

    const last = spawnHerald(workerArgs, chaosEnv);
    assert.equal(await last.exited, 0, last.output());
    logs.push(last.output());

    // The kills left sends of unknown outcome; reconciliation found some accepted by the provider.
    const resolved = logs
      .join('\n')
      .split('\n')
      .filter((l) => l.includes('resolved deliveries of unknown outcome'))
      .map((l) => JSON.parse(l) as { sent: number; resend: number });
    assert.ok(resolved.length > 0, 'unknown deliveries were resolved');
    assert.ok(
      resolved.some((r) => r.sent > 0),
      `reconciliation found accepted messages: ${JSON.stringify(resolved)}`,
    );

    const campaign = await db.kysely.selectFrom('campaigns').select('status').where('id', '=', campaignId).executeTakeFirstOrThrow();
    assert.equal(campaign.status, 'finished');
    const counts = await countDeliveries(db.kysely, campaignId);
    assert.equal(counts.sent, total, JSON.stringify(counts));

    const accepted = await mock.deliveries();
    for (const id of recipientIds) {
      assert.equal(accepted[formatDeliveryId(campaignId, id)], 1, `recipient ${id} accepted ${accepted[formatDeliveryId(campaignId, id)] ?? 0} times`);
    }
  });
});
