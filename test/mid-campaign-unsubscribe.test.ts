import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { openSendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { formatDeliveryId } from '../src/domain/deliveryId.js';
import { signUnsubscribeToken } from '../src/domain/unsubscribeToken.js';
import { createLogger } from '../src/config/log.js';
import { startServer } from '../src/http/app.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { serverOptions } from './support/server.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';

describe(`an unsubscribe while the campaign runs (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '5', '--record', 'counts']);
  });
  after(async () => {
    await mock?.stop();
    await db?.dispose();
  });

  it('is honoured by every batch claimed after it: a later recipient receives nothing', async () => {
    const { listId, recipientIds } = await seedList(db.kysely, 'mid', 3000);
    // 400/s: the campaign takes several seconds, so the unsubscribe lands mid-run.
    const campaignId = await seedCampaign(db.kysely, listId, { rate: 400 });
    const late = recipientIds[2500]!;
    const lateEmail = 'mid-user2501@example.test';
    const config = loadConfig({
      ...process.env,
      MAILGUN_API_KEY: MOCK_KEY,
      MAILGUN_DOMAIN: MOCK_DOMAIN,
      MAILGUN_BASE_URL: mock.url,
      HERALD_SECRET: 'mid-secret',
    });
    const server = await startServer(db, createLogger('silent'), serverOptions({ unsubscribeSecret: 'mid-secret' }));
    const stack = await openSendingStack(config, db, createLogger('warn'), { concurrency: 50, batchSize: 100 });
    try {
      const running = stack.worker.runCampaigns((c) => c.id === campaignId, false);
      while ((await countDeliveries(db.kysely, campaignId)).sent < 300) await sleep(50);
      const token = signUnsubscribeToken({ campaignId, recipientId: late, email: lateEmail }, 'mid-secret');
      const res = await request(`${server.url}/u/${token}`, {
        method: 'POST',
        body: 'List-Unsubscribe=One-Click',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(res.statusCode, 200);
      assert.ok((await countDeliveries(db.kysely, campaignId)).sent < 2000, 'the campaign was still running');
      await running;
    } finally {
      await stack.close();
      await server.close();
    }
    const row = await db.kysely
      .selectFrom('deliveries')
      .select('status')
      .where('campaign_id', '=', campaignId)
      .where('recipient_id', '=', late)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, 'suppressed');
    const accepted = await mock.deliveries();
    assert.equal(accepted[formatDeliveryId(campaignId, late)], undefined, 'the unsubscribed address got nothing');
    const counts = await countDeliveries(db.kysely, campaignId);
    assert.deepEqual([counts.sent, counts.suppressed], [2999, 1]);
  });
});
