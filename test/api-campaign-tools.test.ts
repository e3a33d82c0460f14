import assert from 'node:assert/strict';
import { REPORT_COLUMNS } from '../src/campaigns/report.js';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { request } from 'undici';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { serverOptions } from './support/server.js';

const TOKEN = 'campaign-tools-token';

/** The API's parity with `herald campaign schedule | dry-run | retry-failed | report`. */
describe(`the HTTP API's campaign tools: schedule, dry run, retry-failed, report (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;

  const call = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => {
    const res = await request(`${server.url}${path}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    const type = String(res.headers['content-type'] ?? '');
    return { status: res.statusCode, type, text, body: (type.startsWith('application/json') ? JSON.parse(text) : {}) as T };
  };

  /** A campaign that has run: `sent` sent, then failures with the given codes, the rest pending. */
  async function ranCampaign(
    size: number,
    failures: string[],
    status: 'finished' | 'paused' | 'running' = 'finished',
  ): Promise<{ id: number; emails: string[] }> {
    const list = await seedList(db.kysely, `ran-${Math.random().toString(36).slice(2)}`, size);
    const id = await seedCampaign(db.kysely, list.listId, { status: 'running' });
    const rows = list.recipientIds.map((recipientId, i) => {
      const code = failures[i];
      return code === undefined
        ? { campaign_id: id, recipient_id: recipientId, status: 'sent' as const, attempts: 1, provider_id: `<m${i}@mock>`, sent_at: new Date() }
        : { campaign_id: id, recipient_id: recipientId, status: 'failed' as const, attempts: 2, error_code: code, error_message: `failed with ${code}` };
    });
    for (let i = 0; i < rows.length; i += 1000)
      await db.kysely
        .insertInto('deliveries')
        .values(rows.slice(i, i + 1000))
        .execute();
    await db.kysely.updateTable('campaigns').set({ status }).where('id', '=', id).execute();
    const emails = await db.kysely.selectFrom('recipients').select('email').where('id', 'in', list.recipientIds).execute();
    return { id, emails: emails.map((e) => e.email) };
  }

  before(async () => {
    db = await openTestDb();
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: '', MAILGUN_DOMAIN: '', HERALD_API_TOKEN: TOKEN });
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config }));
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
  });

  it('schedules a draft, re-schedules it, and refuses bad times and campaigns that are not drafts', async () => {
    const list = await seedList(db.kysely, 'scheduled', 3);
    const id = await seedCampaign(db.kysely, list.listId, { status: 'draft' });
    const at = '2031-01-02T09:00:00+01:00';
    const scheduled = await call<{ status: string; scheduledAt: string }>('POST', `/api/v1/campaigns/${id}/schedule`, { at });
    assert.equal(scheduled.status, 200, scheduled.text);
    assert.equal(scheduled.body.status, 'scheduled');
    assert.equal(scheduled.body.scheduledAt, new Date(at).toISOString());
    const again = await call<{ scheduledAt: string }>('POST', `/api/v1/campaigns/${id}/schedule`, { at: '2031-01-03T08:00:00Z' });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.scheduledAt, '2031-01-03T08:00:00.000Z');

    const bad = await call<{ error: string; fields: Array<{ field: string }> }>('POST', `/api/v1/campaigns/${id}/schedule`, { at: 'tomorrow' });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.fields.map((f) => f.field),
      ['at'],
    );
    assert.equal((await call('POST', `/api/v1/campaigns/${id}/schedule`)).status, 415, 'a body is required');
    assert.equal((await call('POST', '/api/v1/campaigns/999999/schedule', { at })).status, 404);

    const running = await seedCampaign(db.kysely, list.listId, { status: 'running' });
    const refused = await call<{ error: string }>('POST', `/api/v1/campaigns/${running}/schedule`, { at });
    assert.equal(refused.status, 409);
    assert.match(refused.body.error, /cannot schedule campaign \d+: it is running/);
  });

  it('dry-runs a campaign: counts every render, sends and records nothing', async () => {
    const list = await seedList(db.kysely, 'dry', 250);
    const id = await seedCampaign(db.kysely, list.listId, { status: 'draft' });
    const dry = await call<{ campaignId: number; rendered: number; failed: number; bytes: number; failures: unknown[] }>(
      'POST',
      `/api/v1/campaigns/${id}/dry-run`,
    );
    assert.equal(dry.status, 200, dry.text);
    assert.equal(dry.body.rendered, 250);
    assert.equal(dry.body.failed, 0);
    assert.deepEqual(dry.body.failures, []);
    assert.ok(dry.body.bytes > 250 * 100, `rendered bytes: ${dry.body.bytes}`);
    const rows = await db.kysely.selectFrom('deliveries').select('recipient_id').where('campaign_id', '=', id).execute();
    assert.equal(rows.length, 0, 'no delivery rows');
    assert.equal((await call<{ status: string }>('GET', `/api/v1/campaigns/${id}`)).body.status, 'draft');

    const broken = await seedCampaign(db.kysely, list.listId, { status: 'draft', template: 'no-such-template' });
    const refused = await call<{ error: string }>('POST', `/api/v1/campaigns/${broken}/dry-run`);
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.body.error, /^template error: .*no-such-template/);
    // The preview of the same draft: the same error, not a server fault.
    const preview = await call<{ error: string }>('GET', `/api/v1/campaigns/${broken}/preview`);
    assert.equal(preview.status, 400, preview.text);
    assert.match(preview.body.error, /^template error: .*no-such-template/);
    assert.equal((await call('POST', '/api/v1/campaigns/abc/dry-run')).status, 400);
  });

  it('re-queues failed deliveries by the CLI rules: transient by default, chosen reasons, since', async () => {
    const failures = ['transient_exhausted', 'transient_exhausted', 'render_timeout', 'http_400', 'http_400'];
    const { id } = await ranCampaign(20, failures);

    const future = await call<{ requeued: number; status: string }>('POST', `/api/v1/campaigns/${id}/retry-failed`, { since: '2099-01-01T00:00:00Z' });
    assert.equal(future.status, 200, future.text);
    assert.deepEqual(future.body, { campaignId: id, requeued: 0, before: 'finished', status: 'finished' });

    const retried = await call<{ requeued: number; status: string }>('POST', `/api/v1/campaigns/${id}/retry-failed`);
    assert.equal(retried.status, 200, retried.text);
    assert.deepEqual(retried.body, { campaignId: id, requeued: 3, before: 'finished', status: 'running' });
    const pending = await db.kysely.selectFrom('deliveries').select('recipient_id').where('campaign_id', '=', id).where('status', '=', 'pending').execute();
    assert.equal(pending.length, 3);

    const runningNow = await call<{ error: string }>('POST', `/api/v1/campaigns/${id}/retry-failed`, {});
    assert.equal(runningNow.status, 400);
    assert.match(runningNow.body.error, /retry-failed works on finished or paused campaigns; campaign \d+ is running/);

    const paused = await ranCampaign(10, ['http_400', 'http_400', 'transient_exhausted'], 'paused');
    const chosen = await call('POST', `/api/v1/campaigns/${paused.id}/retry-failed`, { reasons: ['http_400'], since: '2000-01-01T00:00:00Z' });
    assert.equal(chosen.status, 200, chosen.text);
    assert.deepEqual(chosen.body, { campaignId: paused.id, requeued: 2, before: 'paused', status: 'paused' });

    const bad = await call<{ fields: Array<{ field: string }> }>('POST', `/api/v1/campaigns/${paused.id}/retry-failed`, { since: 'yesterday', reasons: [] });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.fields.map((f) => f.field).sort(), ['reasons', 'since']);
  });

  it('streams the report as CSV or JSON lines, one row per recipient', async () => {
    const { id, emails } = await ranCampaign(1200, ['http_400']);
    const csv = await call('GET', `/api/v1/campaigns/${id}/report`);
    assert.equal(csv.status, 200);
    assert.match(csv.type, /^text\/csv/);
    const rows = parse(csv.text, { columns: true }) as Array<Record<string, string>>;
    assert.equal(rows.length, 1200);
    assert.deepEqual(Object.keys(rows[0]!), REPORT_COLUMNS);
    assert.deepEqual(new Set(rows.map((r) => r.email)), new Set(emails));
    assert.equal(rows.filter((r) => r.status === 'failed' && r.error_code === 'http_400').length, 1);

    const jsonl = await call('GET', `/api/v1/campaigns/${id}/report?format=jsonl`);
    assert.equal(jsonl.status, 200);
    assert.match(jsonl.type, /^application\/x-ndjson/);
    const lines = jsonl.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { email: string; status: string; attempts: number });
    assert.equal(lines.length, 1200);
    assert.equal(lines.filter((l) => l.status === 'sent' && l.attempts === 1).length, 1199);

    assert.equal((await call('GET', `/api/v1/campaigns/${id}/report?format=xml`)).status, 400);
    assert.equal((await call('GET', '/api/v1/campaigns/999999/report')).status, 404);
  });

  it('stops streaming when the reader goes away, and keeps serving', async () => {
    const { id } = await ranCampaign(5000, []);
    const controller = new AbortController();
    const res = await request(`${server.url}/api/v1/campaigns/${id}/report?format=jsonl`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: controller.signal,
    });
    assert.equal(res.statusCode, 200);
    for await (const chunk of res.body) {
      assert.ok((chunk as Buffer).length > 0);
      break;
    }
    controller.abort();
    const next = await call('GET', `/api/v1/campaigns/${id}`);
    assert.equal(next.status, 200, 'the server still answers');
  });
});
