import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { request } from 'undici';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { signWebhook } from '../src/provider/mailgun/webhookSignature.js';
import { Metrics } from '../src/sender/metrics.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { runHerald } from './support/processes.js';
import { serverOptions } from './support/server.js';

const SIGNING_KEY = 'funnel-signing-key';
const TOKEN = 'funnel-token';

describe(`the funnel, time series and a person's history (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;
  let campaignId: number;
  let recipientIds: number[];
  const sentAt = new Date(Date.UTC(2026, 11, 5, 9, 30, 10));
  before(async () => {
    db = await openTestDb();
    const list = await seedList(db.kysely, 'funnel', 20);
    recipientIds = list.recipientIds;
    campaignId = await seedCampaign(db.kysely, list.listId, { status: 'running' });
    // 18 accepted (two minutes of sending), 2 failed before acceptance.
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts, sent_at, error_code)
      select ${campaignId}, recipient_id,
        case when row_number() over (order by recipient_id) > 18 then 'failed' else 'sent' end, 1,
        case when row_number() over (order by recipient_id) > 18 then null
             else ${sentAt.toISOString()}::timestamptz + (row_number() over (order by recipient_id) * interval '5 seconds') end,
        case when row_number() over (order by recipient_id) > 18 then 'http_400' end
      from list_members where list_id = ${list.listId}
    `.execute(db.kysely);
    server = await startServer(
      db,
      createLogger('silent'),
      serverOptions({
        webhookSigningKey: SIGNING_KEY,
        apiToken: TOKEN,
        metrics: new Metrics(),
        config: loadConfig({ ...process.env, HERALD_API_TOKEN: TOKEN }),
      }),
    );
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
  });

  const hook = async (i: number, event: string, extra: Record<string, unknown> = {}) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const token = randomBytes(25).toString('hex');
    const body = JSON.stringify({
      signature: { timestamp, token, signature: signWebhook(SIGNING_KEY, timestamp, token) },
      'event-data': {
        id: randomBytes(10).toString('hex'),
        event,
        timestamp: Date.UTC(2026, 11, 5, 10 + ((extra.hour as number | undefined) ?? 0), 15) / 1000,
        recipient: `funnel-user${i + 1}@example.test`,
        'user-variables': { 'herald-delivery': `${campaignId}.${recipientIds[i]}` },
        ...extra,
      },
    });
    const res = await request(`${server.url}/webhooks/mailgun`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(res.statusCode, 200, await res.body.text());
  };
  const api = async (path: string) => {
    const res = await request(`${server.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const text = await res.body.text();
    assert.equal(res.statusCode, 200, text);
    return (res.headers['content-type'] ?? '').toString().startsWith('application/json') ? (JSON.parse(text) as Record<string, unknown>) : text;
  };

  it('counts every stage after acceptance and shows it in the API, status, the time series and /metrics', async () => {
    for (let i = 0; i < 16; i++) await hook(i, 'delivered');
    await hook(16, 'failed', { severity: 'permanent', reason: 'bounce', 'delivery-status': { code: 550 } });
    await hook(17, 'failed', { severity: 'temporary', reason: 'generic', 'delivery-status': { code: 421 } });
    for (let i = 0; i < 8; i++) await hook(i, 'opened', { hour: i % 2 });
    await hook(0, 'opened', { hour: 3 });
    for (let i = 0; i < 4; i++) await hook(i, 'clicked', { url: i < 3 ? 'https://shop.example/sale' : 'https://shop.example/faq' });
    await hook(0, 'clicked', { url: 'https://shop.example/sale' });
    await hook(5, 'complained');
    await hook(6, 'unsubscribed');

    const view = (await api(`/api/v1/campaigns/${campaignId}`)) as { funnel: Record<string, unknown> };
    assert.deepEqual(view.funnel, {
      accepted: 18,
      delivered: 16,
      bouncedHard: 1,
      bouncedSoft: 1,
      opened: 8,
      openRate: 50,
      clicked: 4,
      clickRate: 25,
      complained: 1,
      unsubscribed: 1,
    });
    const timeline = (await api(`/api/v1/campaigns/${campaignId}/timeline`)) as Record<string, unknown>;
    assert.deepEqual(timeline.sentPerMinute, [
      { at: '2026-12-05T09:30Z', n: 9 },
      { at: '2026-12-05T09:31Z', n: 9 },
    ]);
    assert.deepEqual(timeline.opensPerHour, [
      { at: '2026-12-05T10:00Z', n: 4 },
      { at: '2026-12-05T11:00Z', n: 4 },
      { at: '2026-12-05T13:00Z', n: 1 },
    ]);
    assert.deepEqual(timeline.topLinks, [
      { url: 'https://shop.example/sale', uniqueClicks: 3, clicks: 4 },
      { url: 'https://shop.example/faq', uniqueClicks: 1, clicks: 1 },
    ]);
    const metrics = (await api('/metrics')) as string;
    assert.match(metrics, new RegExp(`herald_campaign_funnel\\{campaign="${campaignId}",stage="delivered"\\} 16`));
    assert.match(metrics, new RegExp(`herald_campaign_funnel\\{campaign="${campaignId}",stage="accepted"\\} 18`));
    assert.match(metrics, /herald_provider_events_total\{source="webhook",type="opened",result="recorded"\} 9/);
  });

  it("shows a person's history with outcome, engagement and suppression", async () => {
    const person = (await api('/api/v1/recipients/FUNNEL-USER1%40example.test')) as {
      email: string;
      suppressed: unknown;
      campaigns: Array<Record<string, unknown>>;
    };
    assert.equal(person.email, 'funnel-user1@example.test');
    assert.equal(person.suppressed, null);
    assert.equal(person.campaigns.length, 1);
    assert.equal(person.campaigns[0]!.outcome, 'delivered');
    assert.equal(person.campaigns[0]!.opens, 2);
    assert.equal(person.campaigns[0]!.clicks, 2);
    const bounced = (await api('/api/v1/recipients/funnel-user17%40example.test')) as {
      suppressed: { reason: string };
      campaigns: Array<Record<string, unknown>>;
    };
    assert.equal(bounced.suppressed.reason, 'bounced');
    assert.equal(bounced.campaigns[0]!.outcome, 'bounced_hard');
    const report = (await api(`/api/v1/campaigns/${campaignId}/report?format=jsonl`)) as string;
    const byEmail = new Map(
      report
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .map((r) => [r.email, r]),
    );
    assert.equal(byEmail.size, 20);
    assert.deepEqual(
      ['outcome', 'opens', 'clicks'].map((k) => byEmail.get('funnel-user1@example.test')![k]),
      ['delivered', 2, 2],
    );
    assert.deepEqual(
      ['outcome', 'failure_severity', 'failure_reason', 'failure_code'].map((k) => byEmail.get('funnel-user17@example.test')![k]),
      ['bounced_hard', 'permanent', 'bounce', 550],
    );
    assert.equal(byEmail.get('funnel-user19@example.test')!.outcome, null, 'not sent, so no outcome');
    const missing = await request(`${server.url}/api/v1/recipients/nobody%40example.test`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(missing.statusCode, 404);
    await missing.body.dump();
  });

  it('prints the funnel in `campaign status` and a person in `recipients show`', {
    skip: dbLabel === 'pglite' ? 'the CLI needs a shared database: real Postgres only' : false,
  }, async () => {
    const env = { DATABASE_URL: db.url! };
    const status = await runHerald(['campaign', 'status', String(campaignId)], env);
    assert.match(status, /delivered {4}16/);
    assert.match(status, /opened {7}8 {2}\(50% of delivered\)/);
    const show = await runHerald(['recipients', 'show', 'funnel-user17@example.test'], env);
    assert.match(show, /suppressed: bounced/);
    assert.match(show, /bounced_hard, permanent failure bounce 550/);
  });
});
