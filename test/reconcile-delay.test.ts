import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { openSendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { formatDeliveryId } from '../src/domain/deliveryId.js';
import { createLogger } from '../src/config/log.js';
import { claimBatch } from '../src/sql/claimBatch.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';

describe(`sends of unknown outcome wait for the provider's event log (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '2', '--record', 'counts']);
  });
  after(async () => {
    await mock?.stop();
    await db?.dispose();
  });

  it('sends everyone else at once, looks the unknown ones up only once the log is complete, then finishes', async () => {
    const { listId, recipientIds } = await seedList(db.kysely, 'late', 200);
    const id = await seedCampaign(db.kysely, listId, { unknownPolicy: 'reconcile' });
    // A worker that died 40 minutes ago holding 50 claims (it never registered a lease).
    const claimedAt = new Date(Date.now() - 40 * 60_000);
    const dead = await claimBatch(db.kysely, id, 'dead-worker', 50, { now: claimedAt });
    assert.equal(dead.state === 'claimed' && dead.recipients.length, 50);

    // One minute after the crash the event log cannot be trusted yet.
    let now = new Date(claimedAt.getTime() + 60_000);
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url });
    const stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 20, clock: () => now });
    const running = stack.worker.runCampaigns((c) => c.id === id, false);
    try {
      const deadline = Date.now() + 30_000;
      while ((await countDeliveries(db.kysely, id)).sent < 150) {
        assert.ok(Date.now() < deadline, 'the other recipients were sent');
        await sleep(50);
      }
      await sleep(1500);
      const waiting = await countDeliveries(db.kysely, id);
      assert.deepEqual([waiting.sent, waiting.unknown], [150, 50], 'the unknown ones wait');
      assert.equal((await mock.stats()).accepted, 150);
      const campaign = await db.kysely.selectFrom('campaigns').select('status').where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(campaign.status, 'running', 'not finished while sends are unknown');

      // Thirty minutes after their claim the log is complete: none was accepted, so all 50 go.
      now = new Date();
      await running;
    } finally {
      // On a failed assertion this also ends the still-running worker loop.
      await stack.close();
      await running;
    }
    const counts = await countDeliveries(db.kysely, id);
    assert.equal(counts.sent, 200);
    const accepted = await mock.deliveries();
    for (const r of recipientIds) assert.equal(accepted[formatDeliveryId(id, r)], 1, `recipient ${r}`);
    const campaign = await db.kysely.selectFrom('campaigns').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(campaign.status, 'finished');
  });
});
