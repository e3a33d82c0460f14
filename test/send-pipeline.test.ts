import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { openSendingStack } from '../src/app/sendingStack.js';
import { createLogger } from '../src/config/log.js';
import { request } from 'undici';
import { formatDeliveryId } from '../src/domain/deliveryId.js';
import { verifyUnsubscribeToken } from '../src/domain/unsubscribeToken.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';

describe(`a campaign end to end against the mock (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess([
      '--latency',
      '5',
      '--jitter',
      '5',
      '--fail-rate',
      '0.02',
      '--throttle-rate',
      '0.01',
      '--permanent-fail-rate',
      '0.005',
      '--seed',
      '42',
    ]);
  });
  after(async () => {
    await mock?.stop();
    await db?.dispose();
  });

  it('sends every recipient exactly once, records every outcome, and never mails suppressed addresses', async () => {
    const { listId, recipientIds } = await seedList(db.kysely, 'e2e', 5000, { city: 'Oslo' });
    const suppressedIds = recipientIds.filter((_, i) => i % 250 === 7);
    await db.kysely
      .insertInto('suppressions')
      .values(
        suppressedIds.map((id) => ({
          email: `e2e-user${recipientIds.indexOf(id) + 1}@example.test`,
          reason: 'unsubscribed' as const,
          source: 'test',
          campaign_id: null,
        })),
      )
      .execute();
    const campaignId = await seedCampaign(db.kysely, listId);

    const config = loadConfig({
      ...process.env,
      MAILGUN_API_KEY: MOCK_KEY,
      MAILGUN_DOMAIN: MOCK_DOMAIN,
      MAILGUN_BASE_URL: mock.url,
      HERALD_SECRET: 'test-secret',
      HERALD_PUBLIC_URL: 'https://herald.example.test',
    });
    const stack = await openSendingStack(config, db, createLogger('warn'), { concurrency: 100, leaseMs: 5000 });
    try {
      await stack.worker.runCampaigns((c) => c.id === campaignId, false);
    } finally {
      await stack.close();
    }

    const campaign = await db.kysely.selectFrom('campaigns').selectAll().where('id', '=', campaignId).executeTakeFirstOrThrow();
    assert.equal(campaign.status, 'finished');
    const rows = await db.kysely.selectFrom('deliveries').selectAll().where('campaign_id', '=', campaignId).execute();
    assert.equal(rows.length, 5000, 'one delivery row per recipient');

    const accepted = await mock.deliveries();
    const byStatus = (s: string) => rows.filter((r) => r.status === s);
    for (const [key, count] of Object.entries(accepted)) assert.equal(count, 1, `delivery ${key} accepted ${count} times`);

    // The database and the mock agree one to one.
    const sentKeys = byStatus('sent')
      .map((r) => formatDeliveryId(campaignId, r.recipient_id))
      .sort();
    assert.deepEqual(sentKeys, Object.keys(accepted).sort());
    for (const r of byStatus('sent')) assert.match(r.provider_id ?? '', /^<.+@.+>$/);

    // Suppressed recipients are recorded and never mailed.
    assert.deepEqual(
      byStatus('suppressed')
        .map((r) => r.recipient_id)
        .sort(),
      [...suppressedIds].sort(),
    );
    for (const id of suppressedIds) assert.equal(accepted[formatDeliveryId(campaignId, id)], undefined);

    // Permanent failures carry the API's reason; transient faults were retried away.
    const failed = byStatus('failed');
    assert.ok(failed.length > 0, 'the mock injected permanent failures');
    for (const r of failed) {
      assert.equal(r.error_code, 'http_400');
      assert.match(r.error_message ?? '', /not a valid address/);
    }
    assert.ok(
      rows.some((r) => r.status === 'sent' && r.attempts > 1),
      'some messages needed a retry',
    );
    assert.equal(byStatus('sent').length + failed.length + suppressedIds.length, 5000);

    // Every message carries RFC 8058 one-click unsubscribe headers with a genuine token.
    const messages = (await (await request(`${mock.url}/mock/messages`)).body.json()) as Array<{
      headers: Record<string, string>;
      userVariables: Record<string, string>;
      to: string[];
    }>;
    assert.equal(messages.length, byStatus('sent').length);
    for (const m of messages) {
      assert.equal(m.headers['List-Unsubscribe-Post'], 'List-Unsubscribe=One-Click');
      const match = /^<https:\/\/herald\.example\.test\/u\/([^>]+)>, <mailto:[^>]+>$/.exec(m.headers['List-Unsubscribe'] ?? '');
      assert.ok(match, `List-Unsubscribe of ${m.userVariables['herald-delivery']}: ${m.headers['List-Unsubscribe']}`);
      const claim = verifyUnsubscribeToken(match[1]!, 'test-secret');
      assert.equal(claim && formatDeliveryId(claim.campaignId, claim.recipientId), m.userVariables['herald-delivery']);
      assert.equal(claim?.email, m.to[0]);
    }
  });
});
