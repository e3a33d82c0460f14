import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { request } from 'undici';
import { openSendingStack } from '../src/app/sendingStack.js';
import { sendingRate } from '../src/campaigns/status.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { addSuppressions } from '../src/sql/addSuppressions.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { countListMembers } from '../src/sql/countListMembers.js';
import { foldDeliveryCounts } from '../src/sql/foldDeliveryCounts.js';
import { notSentBreakdown } from '../src/sql/notSentBreakdown.js';
import { recountKeptCounts } from '../src/sql/recountKeptCounts.js';
import { retryFailed } from '../src/sql/retryFailed.js';
import { transitionCampaign } from '../src/sql/transitionCampaign.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { serverOptions } from './support/server.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';

describe(`kept counts (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '2', '--fail-rate', '0.2', '--permanent-fail-rate', '0.05', '--record', 'counts']);
  });
  after(async () => {
    await mock?.stop();
    await db?.dispose();
  });

  /** The rows counted the slow way, per status and per not-sent reason. */
  async function countedFromRows(campaignId: number) {
    const rows = await sql<{ status: string; reason: string | null; n: number }>`
      select status, error_code as reason, count(*)::int as n from deliveries where campaign_id = ${campaignId} group by 1, 2
    `.execute(db.kysely);
    const byStatus: Record<string, number> = { pending: 0, queued: 0, sent: 0, failed: 0, suppressed: 0, unknown: 0, skipped: 0 };
    for (const r of rows.rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + r.n;
    const notSent = rows.rows
      .filter((r) => ['failed', 'suppressed', 'skipped', 'unknown'].includes(r.status))
      .map((r) => `${r.status}/${r.reason ?? ''}=${r.n}`)
      .sort();
    return { byStatus, notSent };
  }

  async function assertKeptEqualsRows(campaignId: number, when: string) {
    const rows = await countedFromRows(campaignId);
    assert.deepEqual({ ...(await countDeliveries(db.kysely, campaignId)) }, rows.byStatus, `status counts ${when}`);
    const kept = (await notSentBreakdown(db.kysely, campaignId)).map((r) => `${r.status}/${r.reason ?? ''}=${r.count}`).sort();
    assert.deepEqual(kept, rows.notSent, `not-sent breakdown ${when}`);
    assert.deepEqual(await recountKeptCounts(db.kysely, { fix: false }), [], `doctor finds no difference ${when}`);
  }

  it('equal the rows through claims, results, a pause, retry-failed and folds', async () => {
    const { listId, recipientIds } = await seedList(db.kysely, 'kept', 600);
    assert.equal(await countListMembers(db.kysely, listId), 600);
    await addSuppressions(
      db.kysely,
      recipientIds.slice(0, 25).map((_, i) => `kept-user${i + 1}@example.test`),
      'manual',
      'test',
    );
    const id = await seedCampaign(db.kysely, listId, { status: 'running' });
    await assertKeptEqualsRows(id, 'before sending');
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url });
    const stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 20, batchSize: 50, maxAttempts: 2 });
    try {
      const running = stack.worker.runCampaigns((c) => c.id === id, false);
      while ((await countDeliveries(db.kysely, id)).sent < 150) await sleep(20);
      await transitionCampaign(db.kysely, id, 'pause');
      await running;
      const paused = await countDeliveries(db.kysely, id);
      assert.ok(paused.pending > 0 || paused.sent + paused.failed + paused.suppressed === 600, `claims were released on pause: ${JSON.stringify(paused)}`);
      await assertKeptEqualsRows(id, 'after the pause');
      assert.equal(await foldDeliveryCounts(db.kysely), true);
      await assertKeptEqualsRows(id, 'after a fold');
      await transitionCampaign(db.kysely, id, 'resume');
      await stack.worker.runCampaigns((c) => c.id === id, false);
    } finally {
      await stack.close();
    }
    const done = await countDeliveries(db.kysely, id);
    assert.equal(done.suppressed, 25);
    assert.equal(done.sent + done.failed + done.suppressed, 600, JSON.stringify(done));
    assert.ok(done.failed > 0, 'the mock refused some for good');
    await assertKeptEqualsRows(id, 'after the campaign');

    const requeued = await retryFailed(db.kysely, id, ['transient_exhausted', 'http_400', 'permanent'], null);
    assert.ok(requeued > 0, 'retry-failed re-queued some');
    await assertKeptEqualsRows(id, `after retry-failed re-queued ${requeued}`);
    await foldDeliveryCounts(db.kysely);
    await assertKeptEqualsRows(id, 'after retry-failed and a fold');
  });

  it('doctor finds and corrects a count that was changed by hand', async () => {
    const { listId } = await seedList(db.kysely, 'tampered', 40);
    const id = await seedCampaign(db.kysely, listId, { status: 'running' });
    await sql`insert into deliveries (campaign_id, recipient_id, status) select ${id}, recipient_id, 'pending' from list_members where list_id = ${listId}`.execute(
      db.kysely,
    );
    await foldDeliveryCounts(db.kysely);
    await sql`update delivery_counts set n = n + 7 where campaign_id = ${id} and status = 'pending'`.execute(db.kysely);
    await sql`update lists set member_count = 3 where id = ${listId}`.execute(db.kysely);
    const found = await recountKeptCounts(db.kysely, { fix: false });
    assert.deepEqual(found, [
      { kind: 'campaign', id, status: 'pending', reason: '', kept: 47, actual: 40 },
      { kind: 'list', id: listId, kept: 3, actual: 40 },
    ]);
    assert.deepEqual(await recountKeptCounts(db.kysely, { fix: true }), found);
    assert.deepEqual(await recountKeptCounts(db.kysely, { fix: false }), []);
    assert.equal((await countDeliveries(db.kysely, id)).pending, 40);
    assert.equal(await countListMembers(db.kysely, listId), 40);
  });

  it('takes the rate from sampled sent counts', async () => {
    assert.equal(sendingRate(1000, null), 0);
    assert.equal(sendingRate(1000, { sent: 400, secondsAgo: 60 }), 10);
    assert.equal(sendingRate(1000, { sent: 1000, secondsAgo: 0.2 }), 0);
    const { listId } = await seedList(db.kysely, 'sampled', 10);
    const id = await seedCampaign(db.kysely, listId, { status: 'running' });
    await sql`insert into deliveries (campaign_id, recipient_id, status) select ${id}, recipient_id, 'sent' from list_members where list_id = ${listId}`.execute(
      db.kysely,
    );
    await foldDeliveryCounts(db.kysely);
    const samples = await sql<{ sent: number }>`select sent from campaign_samples where campaign_id = ${id}`.execute(db.kysely);
    assert.deepEqual(
      samples.rows.map((r) => Number(r.sent)),
      [10],
    );
  });
});

describe(`campaign purge-details (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;
  const TOKEN = 'purge-token';
  before(async () => {
    db = await openTestDb();
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config: loadConfig({ ...process.env, HERALD_API_TOKEN: TOKEN }) }));
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
  });
  const call = async (method: 'GET' | 'POST', path: string) => {
    const res = await request(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };

  it("drops a finished campaign's rows and keeps its counts; report and retry-failed refuse it", async () => {
    const { listId } = await seedList(db.kysely, 'purged', 2500);
    const id = await seedCampaign(db.kysely, listId, { status: 'running' });
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, error_code, attempts)
      select ${id}, recipient_id, case when recipient_id % 10 = 0 then 'failed' else 'sent' end,
             case when recipient_id % 10 = 0 then 'http_400' end, 1
      from list_members where list_id = ${listId}
    `.execute(db.kysely);
    const refused = await call('POST', `/api/v1/campaigns/${id}/purge-details`);
    assert.equal(refused.status, 409);
    assert.match(String(refused.body.error), /is running: only a finished or cancelled campaign/);
    await sql`update campaigns set status = 'finished', list_exhausted = true where id = ${id}`.execute(db.kysely);
    const before = (await call('GET', `/api/v1/campaigns/${id}`)).body;

    const purged = await call('POST', `/api/v1/campaigns/${id}/purge-details`);
    assert.equal(purged.status, 200, JSON.stringify(purged.body));
    assert.equal(purged.body.deleted, 2500);
    const left = await sql<{ n: number }>`select count(*)::int as n from deliveries where campaign_id = ${id}`.execute(db.kysely);
    assert.equal(left.rows[0]!.n, 0);

    const afterView = (await call('GET', `/api/v1/campaigns/${id}`)).body;
    assert.deepEqual(afterView.counts, before.counts);
    assert.deepEqual(afterView.notSent, before.notSent);
    assert.equal(afterView.detailsPurgedAt, purged.body.purgedAt);
    const list = (await call('GET', '/api/v1/campaigns')).body.items as Array<{ id: number; sent: number; failed: number }>;
    assert.deepEqual(
      list.filter((c) => c.id === id).map((c) => [c.sent, c.failed]),
      [[2250, 250]],
    );

    const report = await call('GET', `/api/v1/campaigns/${id}/report?format=csv`);
    assert.equal(report.status, 409);
    assert.match(String(report.body.error), /details were purged at .*counts remain/);
    const retry = await call('POST', `/api/v1/campaigns/${id}/retry-failed`);
    assert.equal(retry.status, 409);
    // The purged campaign's counts are not "corrected" back to its missing rows.
    assert.deepEqual(await recountKeptCounts(db.kysely, { fix: false }), []);
    const again = await call('POST', `/api/v1/campaigns/${id}/purge-details`);
    assert.equal(again.status, 200);
    assert.equal(again.body.deleted, 0);
    assert.equal(again.body.purgedAt, purged.body.purgedAt);
  });
});
