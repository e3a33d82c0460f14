import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { loadConfig } from '../src/config/config.js';
import { openSendingStack } from '../src/app/sendingStack.js';
import { formatDeliveryId } from '../src/domain/deliveryId.js';
import { createLogger } from '../src/config/log.js';
import { retryFailed, DEFAULT_RETRY_REASONS } from '../src/sql/retryFailed.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');

describe(`one recipient whose template never finishes rendering (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  const savedTemplatesDir = process.env.HERALD_TEMPLATES_DIR;
  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '1']);
    process.env.HERALD_TEMPLATES_DIR = path.join(fixtures, 'templates');
  });
  after(async () => {
    if (savedTemplatesDir === undefined) delete process.env.HERALD_TEMPLATES_DIR;
    else process.env.HERALD_TEMPLATES_DIR = savedTemplatesDir;
    await mock?.stop();
    await db?.dispose();
  });

  it('fails only that recipient with render_timeout; the other 119 are sent, also after retry-failed', async () => {
    const { listId, recipientIds } = await seedList(db.kysely, 'loop', 120);
    // Recipient 37 drives a nested loop of 10^10 iterations: it never finishes on its own.
    const slowId = recipientIds[36]!;
    await sql`update recipients set attributes = '{"loops": 100000}'::jsonb where id = ${slowId}`.execute(db.kysely);
    const campaignId = await seedCampaign(db.kysely, listId, { template: 'slow-for-one', subject: 'Hi {{ name }}' });
    const config = loadConfig({
      ...process.env,
      MAILGUN_API_KEY: MOCK_KEY,
      MAILGUN_DOMAIN: MOCK_DOMAIN,
      MAILGUN_BASE_URL: mock.url,
      HERALD_SECRET: 'test-secret',
    });

    const send = async (): Promise<void> => {
      // One render thread: the tasks queued behind the slow one must not time out for waiting.
      const stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 20, leaseMs: 5000, renderThreads: 1, renderTimeout: 400 });
      try {
        await stack.worker.runCampaigns((c) => c.id === campaignId, false);
      } finally {
        await stack.close();
      }
    };
    const outcome = async () => {
      const rows = await db.kysely
        .selectFrom('deliveries')
        .select(['recipient_id', 'status', 'error_code', 'error_message'])
        .where('campaign_id', '=', campaignId)
        .execute();
      return {
        sent: rows.filter((r) => r.status === 'sent').length,
        failed: rows.filter((r) => r.status === 'failed').map((r) => [r.recipient_id, r.error_code]),
        rows,
      };
    };

    await send();
    let result = await outcome();
    assert.deepEqual(result.failed, [[slowId, 'render_timeout']]);
    assert.equal(result.sent, 119);
    assert.match(result.rows.find((r) => r.recipient_id === slowId)!.error_message ?? '', /longer than 400 ms/);

    // retry-failed re-queues the slow one; it fails again alone and nobody is sent twice.
    assert.equal(await retryFailed(db.kysely, campaignId, DEFAULT_RETRY_REASONS, null), 1);
    await db.kysely.updateTable('campaigns').set({ status: 'running', finished_at: null }).where('id', '=', campaignId).execute();
    await send();
    result = await outcome();
    assert.deepEqual(result.failed, [[slowId, 'render_timeout']]);
    assert.equal(result.sent, 119);

    const accepted = await mock.deliveries();
    assert.equal(Object.keys(accepted).length, 119);
    for (const [key, count] of Object.entries(accepted)) assert.equal(count, 1, `delivery ${key} accepted ${count} times`);
    assert.equal(accepted[formatDeliveryId(campaignId, slowId)], undefined);
    const campaign = await db.kysely.selectFrom('campaigns').select('status').where('id', '=', campaignId).executeTakeFirstOrThrow();
    assert.equal(campaign.status, 'finished');
  });
});
