import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openSendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { foldOutcome, NO_OUTCOME, standingOf, type OutcomeEvent, type OutcomeEventType } from '../src/domain/outcome.js';
import { EventIngester } from '../src/events/ingester.js';
import { SYNCED_EVENTS, syncEventLog } from '../src/events/logSync.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { MailgunClient } from '../src/provider/mailgun/client.js';
import type { ProviderEvent } from '../src/provider/provider.js';
import { campaignFunnel } from '../src/sql/campaignFunnel.js';
import { recountKeptCounts } from '../src/sql/recountKeptCounts.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';
import { serverOptions } from './support/server.js';

const SIGNING_KEY = 'backfill-signing-key';
const RECIPIENTS = 300;

describe(`missed webhooks are filled in from the provider's log (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  let server: RunningServer | null = null;
  let port = 0;
  const log = createLogger('silent');
  const serve = async () => {
    server = await startServer(db, log, serverOptions({ port, webhookSigningKey: SIGNING_KEY }));
    port = Number(new URL(server.url).port);
  };
  before(async () => {
    db = await openTestDb();
    await serve();
    mock = await startMockProcess([
      '--latency',
      '2',
      '--seed',
      '42',
      '--record',
      'full',
      '--bounce-rate',
      '0.06',
      '--temp-fail-rate',
      '0.1',
      '--open-rate',
      '0.5',
      '--click-rate',
      '0.4',
      '--complaint-rate',
      '0.03',
      '--unsubscribe-rate',
      '0.03',
      '--event-delay-ms',
      '300',
      '--webhook-url',
      `${server!.url}/webhooks/mailgun`,
      '--webhook-signing-key',
      SIGNING_KEY,
      '--webhook-drop-rate',
      '0.3',
    ]);
  });
  after(async () => {
    await server?.close();
    await mock?.stop();
    await db?.dispose();
  });

  it('after the sync, every delivery outcome and the funnel equal the fold of every event the provider has', async () => {
    const { listId } = await seedList(db.kysely, 'backfill', RECIPIENTS);
    const campaignId = await seedCampaign(db.kysely, listId, { status: 'running' });
    await sql`update campaigns set started_at = now() where id = ${campaignId}`.execute(db.kysely);
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url });
    const stack = await openSendingStack(config, db, log, { concurrency: 20 });
    try {
      await stack.worker.runCampaigns((c) => c.id === campaignId, false);
    } finally {
      await stack.close();
    }
    // serve goes away for a while: webhooks posted meanwhile are lost.
    await sleep(300);
    await server!.close();
    server = null;
    await sleep(1500);
    await serve();
    for (let i = 0; i < 200 && (await mock.stats()).eventsPending !== 0; i++) await sleep(100);
    await sleep(500);
    const stats = await mock.stats();
    assert.equal(stats.eventsPending, 0, 'the mock produced every event');
    assert.ok(Number(stats.webhooksDropped) > 0, 'some webhooks were dropped');

    // What every event of the provider's log says, folded independently of Herald's storage.
    const provider = new MailgunClient({ apiKey: MOCK_KEY, domain: MOCK_DOMAIN, baseUrl: mock.url, connections: 2, timeoutMs: 10_000 });
    const all: ProviderEvent[] = [];
    try {
      let token: string | undefined;
      // One query for all its pages: a paging token belongs to the query it came from.
      const window = { start: new Date(Date.now() - 3_600_000), end: new Date(Date.now() + 60_000) };
      do {
        const page = await provider.eventLog({ ...window, events: SYNCED_EVENTS, ...(token ? { token } : {}) });
        all.push(...page.items);
        token = page.next;
      } while (token);
      const byDelivery = new Map<string, OutcomeEvent[]>();
      for (const e of all) {
        const list = byDelivery.get(e.deliveryId!) ?? [];
        list.push({ id: e.id, type: e.type as OutcomeEventType, at: e.at, severity: e.severity, reason: e.reason, code: e.code, url: e.url });
        byDelivery.set(e.deliveryId!, list);
      }
      const expected = new Map([...byDelivery].map(([k, events]) => [k, foldOutcome(NO_OUTCOME, events)]));
      assert.ok(expected.size > RECIPIENTS * 0.9, `events for ${expected.size} deliveries`);

      const outcomes = async () =>
        new Map(
          (await db.kysely.selectFrom('delivery_outcomes').selectAll().where('campaign_id', '=', campaignId).execute()).map((o) => [
            `${o.campaign_id}.${o.recipient_id}`,
            [o.standing, o.opens, o.clicks, o.delivered_at?.getTime() ?? null, o.complained_at !== null, o.unsubscribed_at !== null].join('|'),
          ]),
        );
      const want = new Map(
        [...expected].map(([k, o]) => [
          k,
          [standingOf(o), o.opens, o.clicks, o.deliveredAt?.getTime() ?? null, o.complainedAt !== null, o.unsubscribedAt !== null].join('|'),
        ]),
      );
      const before = await outcomes();
      const differing = [...want].filter(([k, v]) => before.get(k) !== v).length;
      assert.ok(differing > 10, `webhooks alone left ${differing} deliveries incomplete`);

      const ingester = new EventIngester(db.kysely, log);
      const summary = await syncEventLog({ db: db.kysely, provider, ingester, log }, { days: 7 });
      await ingester.close();
      assert.ok(summary.recorded > 0, JSON.stringify(summary));
      assert.equal(summary.unmatched, 0);
      assert.deepEqual(await outcomes(), want, 'every delivery outcome equals the fold of all its events');

      const funnel = await campaignFunnel(db.kysely, campaignId);
      const count = (f: (o: typeof expected extends Map<string, infer V> ? V : never) => boolean) => [...expected.values()].filter(f).length;
      assert.deepEqual(funnel, {
        delivered: count((o) => standingOf(o) === 'delivered'),
        bounced_hard: count((o) => standingOf(o) === 'bounced_hard'),
        bounced_soft: count((o) => standingOf(o) === 'bounced_soft'),
        opened: count((o) => o.firstOpenAt !== null),
        clicked: count((o) => o.firstClickAt !== null),
        complained: count((o) => o.complainedAt !== null),
        unsubscribed: count((o) => o.unsubscribedAt !== null),
      });
      assert.deepEqual(await recountKeptCounts(db.kysely, { fix: false }), []);

      // A second pass finds nothing new: every event is stored once.
      const again = await syncEventLog({ db: db.kysely, provider, ingester: new EventIngester(db.kysely, log), log }, { days: 7 });
      assert.equal(again.recorded, 0);
    } finally {
      await provider.close();
    }
  });
});
