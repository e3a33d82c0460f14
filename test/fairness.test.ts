import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { openSendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { transitionCampaign } from '../src/sql/transitionCampaign.js';
import { addSendingDomain } from '../src/sql/addSendingDomain.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';

/** The stated bound: a 1,000-recipient campaign finishes this fast beside a big one. */
const SMALL_CAMPAIGN_BOUND_MS = 15_000;

describe(`a small campaign beside a big one (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '30', '--record', 'counts']);
  });
  after(async () => {
    await mock?.stop();
    await db?.dispose();
  });

  it(`finishes within ${SMALL_CAMPAIGN_BOUND_MS / 1000} s instead of waiting for the big one`, async () => {
    const big = await seedList(db.kysely, 'big', 40_000);
    const small = await seedList(db.kysely, 'small', 1000);
    const bigId = await seedCampaign(db.kysely, big.listId);
    const smallId = await seedCampaign(db.kysely, small.listId, { status: 'draft' });
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url });
    // A rate limit on the domain keeps the big campaign busy for a long time.
    await addSendingDomain(db.kysely, MOCK_DOMAIN, { ratePerSecond: 1000 });
    const stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 100 });
    const running = stack.worker.runCampaigns(() => true, true);
    try {
      while ((await countDeliveries(db.kysely, bigId)).sent < 2000) await sleep(50);
      const started = Date.now();
      await transitionCampaign(db.kysely, smallId, 'start');
      let status = 'running';
      while (status !== 'finished') {
        assert.ok(Date.now() - started < SMALL_CAMPAIGN_BOUND_MS, 'small campaign finished within the bound');
        await sleep(50);
        status = (await db.kysely.selectFrom('campaigns').select('status').where('id', '=', smallId).executeTakeFirstOrThrow()).status;
      }
      const took = Date.now() - started;
      const bigSent = (await countDeliveries(db.kysely, bigId)).sent;
      assert.ok(bigSent < 35_000, `the big campaign was still running (${bigSent} sent)`);
      console.log(`small campaign finished in ${took} ms beside the big one (${bigSent} of 40000 sent)`);
    } finally {
      await stack.close();
      await running;
    }
  });
});
