import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { connect, type Db } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { formatDeliveryId } from '../src/domain/deliveryId.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { PrivatePostgres } from './support/privatePostgres.js';
import { MOCK_DOMAIN, MOCK_KEY, spawnHerald, startMockProcess, type MockProcess } from './support/processes.js';

const unavailable = PrivatePostgres.unavailableReason();
if (unavailable) console.log(`# database outage test skipped: ${unavailable}`);

describe('a Postgres restart in the middle of a campaign', { skip: unavailable ?? false }, () => {
  let pg: PrivatePostgres;
  let db: Db;
  let mock: MockProcess;
  before(async () => {
    pg = await PrivatePostgres.create(55_432 + (process.pid % 1000));
    db = await connect({ databaseUrl: pg.url, onPoolError: () => undefined });
    await migrateToLatest(db);
    mock = await startMockProcess(['--latency', '20', '--jitter', '10', '--record', 'counts']);
  });
  after(async () => {
    await mock?.stop();
    await db?.close();
    await pg?.destroy();
  });

  it('completes with nothing lost or duplicated', async () => {
    const total = 15_000;
    const { listId, recipientIds } = await seedList(db.kysely, 'outage', total);
    const campaignId = await seedCampaign(db.kysely, listId);
    const worker = spawnHerald(['worker', '--concurrency', '100', '--lease-ms', '20000'], {
      DATABASE_URL: pg.url,
      MAILGUN_API_KEY: MOCK_KEY,
      MAILGUN_DOMAIN: MOCK_DOMAIN,
      MAILGUN_BASE_URL: mock.url,
    });
    for (;;) {
      const sent = await countDeliveries(db.kysely, campaignId).then(
        (c) => c.sent,
        () => 0,
      );
      if (sent > 3000) break;
      await sleep(50);
    }
    await pg.stop('fast');
    // Requests already in flight may still land; after that nothing is sent while results
    // cannot be recorded.
    await sleep(1500);
    const settled = (await mock.stats()).accepted;
    await sleep(2500);
    assert.equal((await mock.stats()).accepted, settled, 'nothing was sent during the outage');
    await pg.start();

    assert.equal(await worker.exited, 0, worker.output());
    const counts = await countDeliveries(db.kysely, campaignId);
    assert.equal(counts.sent, total, JSON.stringify(counts));
    const accepted = await mock.deliveries();
    for (const id of recipientIds) assert.equal(accepted[formatDeliveryId(campaignId, id)], 1, `recipient ${id}`);
  });
});
