import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openSendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { packageRoot } from '../src/config/paths.js';
import { createLogger } from '../src/config/log.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { transitionCampaign } from '../src/sql/transitionCampaign.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { serverOptions } from './support/server.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';

const SIGNING_KEY = 'loop-signing-key';

describe(`scheduling, and the webhook loop through the mock (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;
  let mock: MockProcess;
  before(async () => {
    db = await openTestDb();
    server = await startServer(db, createLogger('silent'), serverOptions({ unsubscribeSecret: 's', webhookSigningKey: SIGNING_KEY }));
    mock = await startMockProcess([
      '--latency',
      '2',
      '--webhook-url',
      `${server.url}/webhooks/mailgun`,
      '--webhook-signing-key',
      SIGNING_KEY,
      '--bounce-rate',
      '0.1',
      '--complaint-rate',
      '0.05',
    ]);
  });
  after(async () => {
    await mock?.stop();
    await server?.close();
    await db?.dispose();
  });

  it('starts a due schedule, leaves one missed beyond the grace period alone, and records every webhook', async () => {
    const { listId } = await seedList(db.kysely, 'sched', 400);
    const due = await seedCampaign(db.kysely, listId, { status: 'draft' });
    const missed = await seedCampaign(db.kysely, listId, { status: 'draft' });
    await transitionCampaign(db.kysely, due, 'schedule', { scheduledAt: new Date(Date.now() + 1500) });
    await transitionCampaign(db.kysely, missed, 'schedule', { scheduledAt: new Date(Date.now() - 2 * 3600_000) });

    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url });
    const stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 20, scheduleGrace: 3600_000 });
    const watching = stack.worker.runCampaigns(() => true, true);
    try {
      const statusOf = async (id: number) => (await db.kysely.selectFrom('campaigns').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
      assert.equal(await statusOf(due), 'scheduled', 'not before its time');
      const deadline = Date.now() + 30_000;
      while ((await statusOf(due)) !== 'finished') {
        assert.ok(Date.now() < deadline, 'the scheduled campaign finished in time');
        await sleep(100);
      }
      assert.equal(await statusOf(missed), 'scheduled', 'a schedule missed by hours waits for an explicit start');
    } finally {
      await stack.close();
      await watching;
    }
    assert.equal((await countDeliveries(db.kysely, due)).sent, 400);

    // Every accepted message comes back as one signed webhook saying delivered or failed (and
    // some deliveries later as a complaint), stored against its delivery.
    let outcomes = 0;
    for (let i = 0; i < 100 && (outcomes < 400 || (await mock.stats()).webhooksQueued !== 0); i++) {
      outcomes = Number(
        (await sql<{ n: number }>`select count(*) as n from delivery_events where campaign_id = ${due} and event in ('delivered', 'failed')`.execute(db.kysely))
          .rows[0]!.n,
      );
      await sleep(100);
    }
    assert.equal(outcomes, 400);
    const kinds = await sql<{ event: string; n: number }>`select event, count(*) as n from delivery_events where campaign_id = ${due} group by event`.execute(
      db.kysely,
    );
    const byKind = Object.fromEntries(kinds.rows.map((r) => [r.event, Number(r.n)]));
    assert.ok((byKind.failed ?? 0) > 0 && (byKind.complained ?? 0) > 0 && (byKind.delivered ?? 0) > 0, JSON.stringify(byKind));
    const suppressions = await sql<{ n: number }>`select count(*) as n from suppressions where campaign_id = ${due}`.execute(db.kysely);
    assert.equal(Number(suppressions.rows[0]!.n), (byKind.failed ?? 0) + (byKind.complained ?? 0));
  });

  it('keeps a due campaign scheduled when a template of it stopped compiling, as a start by hand refuses it, and starts the others', async () => {
    const templates = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-sched-templates-'));
    fs.cpSync(path.join(packageRoot, 'templates'), templates, { recursive: true });
    fs.mkdirSync(path.join(templates, 'broken'));
    fs.writeFileSync(path.join(templates, 'broken', 'html.njk'), '<p>Hi {{ name }}</p>\n');
    fs.writeFileSync(path.join(templates, 'broken', 'text.njk'), 'Hi {{ name }}\n');
    const saved = process.env.HERALD_TEMPLATES_DIR;
    process.env.HERALD_TEMPLATES_DIR = templates;
    const { listId } = await seedList(db.kysely, 'sched-broken', 20);
    const broken = await seedCampaign(db.kysely, listId, { status: 'draft', template: 'broken' });
    const fine = await seedCampaign(db.kysely, listId, { status: 'draft' });
    const at = new Date(Date.now() + 1000);
    await transitionCampaign(db.kysely, broken, 'schedule', { scheduledAt: at });
    await transitionCampaign(db.kysely, fine, 'schedule', { scheduledAt: at });
    // Edited after it was scheduled: an {% if %} never closed.
    fs.writeFileSync(path.join(templates, 'broken', 'html.njk'), '<p>Hi {% if name %}{{ name }}</p>\n');
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url });
    const stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 20, scheduleGrace: 3600_000 });
    const watching = stack.worker.runCampaigns(() => true, true);
    const statusOf = async (id: number) => (await db.kysely.selectFrom('campaigns').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
    try {
      const deadline = Date.now() + 30_000;
      while ((await statusOf(fine)) !== 'finished') {
        assert.ok(Date.now() < deadline, 'the campaign due at the same time finished in time');
        await sleep(100);
      }
      assert.equal(await statusOf(broken), 'scheduled');
      const rows = await sql<{ n: number }>`select count(*) as n from deliveries where campaign_id = ${broken}`.execute(db.kysely);
      assert.equal(Number(rows.rows[0]!.n), 0, 'nobody was claimed, so nobody failed to render');
    } finally {
      await stack.close();
      await watching;
      if (saved === undefined) delete process.env.HERALD_TEMPLATES_DIR;
      else process.env.HERALD_TEMPLATES_DIR = saved;
      fs.rmSync(templates, { recursive: true, force: true });
    }
  });
});
