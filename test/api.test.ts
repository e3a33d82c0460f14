import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { openSendingStack, type SendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { Metrics } from '../src/sender/metrics.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';
import { serverOptions } from './support/server.js';

const TOKEN = 'api-test-token';

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

describe(`the HTTP API (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  let server: RunningServer;
  let metrics: Metrics;
  let config: ReturnType<typeof loadConfig>;

  const call = async <T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    init: { token?: string | null; contentType?: string } = {},
  ): Promise<Answer<T>> => {
    const token = init.token === undefined ? TOKEN : init.token;
    const res = await request(`${server.url}${path}`, {
      method: method as 'GET',
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': init.contentType ?? 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (res.headers['content-type']?.toString().startsWith('application/json') ? JSON.parse(text) : text) as T };
  };

  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '10', '--permanent-fail-rate', '0.03', '--seed', '7', '--record', 'counts']);
    config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url, HERALD_API_TOKEN: TOKEN });
    metrics = new Metrics();
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config, metrics }));
  });
  after(async () => {
    await server?.close();
    await mock?.stop();
    await db?.dispose();
  });

  it('refuses requests without the right bearer token, and serves the OpenAPI description and the dashboard page', async () => {
    for (const path of ['/api/v1/campaigns', '/api/v1/lists', '/metrics']) {
      const missing = await call('GET', path, undefined, { token: null });
      assert.equal(missing.status, 401, path);
      assert.match(String((missing.body as { error?: string }).error ?? missing.body), /bearer token/);
      assert.equal((await call('GET', path, undefined, { token: 'wrong-token' })).status, 401, path);
      assert.equal((await call('GET', path, undefined, { token: `${TOKEN}x` })).status, 401, path);
    }
    assert.equal((await call('GET', '/api/v1/campaigns')).status, 200);

    const spec = await call<{ openapi: string; paths: Record<string, unknown> }>('GET', '/openapi.json', undefined, { token: null });
    assert.equal(spec.status, 200);
    assert.equal(spec.body.openapi, '3.1.0');
    for (const path of ['/api/v1/campaigns', '/api/v1/campaigns/{id}/pause', '/api/v1/deliveries', '/api/v1/suppressions', '/api/v1/lists/{name}/recipients']) {
      assert.ok(spec.body.paths[path], `openapi describes ${path}`);
    }
    const page = await call('GET', '/', undefined, { token: null });
    assert.equal(page.status, 200);
    assert.match(String(page.body), /<title>Herald<\/title>/);
  });

  it('will not serve an open API beyond loopback', async () => {
    await assert.rejects(
      startServer(db, createLogger('silent'), serverOptions({ host: '0.0.0.0' })),
      /HERALD_API_TOKEN is not set: refusing to serve the API on 0\.0\.0\.0/,
    );
  });

  it('answers a bad request with 400 naming each wrong field', async () => {
    await call('POST', '/api/v1/lists', { name: 'fields' });
    const bad = await call<{ error: string; fields: Array<{ field: string }> }>('POST', '/api/v1/campaigns', {
      name: 'x',
      list: 'fields',
      template: 'spring-sale',
      subject: 'Hi',
      from: 'not an address',
      tags: ['a', 'b', 'c', 'd'],
      ratePerSecond: -5,
      colour: 'red',
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.fields.map((f) => f.field).sort(), ['colour', 'from', 'ratePerSecond', 'tags']);
    assert.match(bad.body.error, /^invalid request body: /);
    assert.match(bad.body.error, /from: expected addr@domain/);

    const missing = await call<{ fields: Array<{ field: string }> }>('POST', '/api/v1/campaigns', { list: 'fields' });
    assert.deepEqual(missing.body.fields.map((f) => f.field).sort(), ['from', 'name', 'subject', 'template']);

    const notJson = await call<{ error: string }>('POST', '/api/v1/lists', '{"name":', { contentType: 'application/json' });
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.error, /not valid JSON/);
    assert.equal((await call('POST', '/api/v1/lists', 'name=x', { contentType: 'application/x-www-form-urlencoded' })).status, 415);

    const query = await call<{ fields: Array<{ field: string }> }>('GET', '/api/v1/deliveries?limit=100000&status=lost');
    assert.equal(query.status, 400);
    assert.deepEqual(query.body.fields.map((f) => f.field).sort(), ['limit', 'status']);

    const noList = await call<{ error: string }>('POST', '/api/v1/campaigns', {
      name: 'x',
      list: 'ghost',
      template: 'spring-sale',
      subject: 's',
      from: 'a@example.org',
    });
    assert.equal(noList.status, 400);
    assert.match(noList.body.error, /list 'ghost' does not exist/);
    assert.equal((await call('GET', '/api/v1/campaigns/999999')).status, 404);
    assert.equal((await call('GET', '/api/v1/campaigns/abc')).status, 400);
    assert.equal((await call('DELETE', '/api/v1/campaigns/1')).status, 405);
  });

  it('runs a campaign through its lifecycle: import, create, test-send, start, pause, resume, finish, look up, and /metrics agrees with the database', async () => {
    assert.equal((await call('POST', '/api/v1/lists', { name: 'customers' })).status, 201);
    assert.equal((await call('POST', '/api/v1/lists', { name: 'customers' })).status, 409);
    const csv = [
      'email,name,city',
      ...Array.from({ length: 1500 }, (_, i) => `c${i}@example.org,Customer ${i},Oslo`),
      'not-an-email,Broken,Oslo',
      'C7@Example.org,Dup,Oslo',
    ].join('\n');
    const imported = await call<{ rowsRead: number; imported: number; rejected: number; rejects: Array<{ line: number; reason: string }> }>(
      'POST',
      '/api/v1/lists/customers/recipients',
      csv,
      { contentType: 'text/csv' },
    );
    assert.equal(imported.status, 200, JSON.stringify(imported.body));
    assert.equal(imported.body.imported, 1500);
    assert.ok(
      imported.body.rejects.some((r) => r.line === 1502),
      JSON.stringify(imported.body.rejects),
    );

    const suppressed = await call<{ added: number }>('POST', '/api/v1/suppressions', { emails: ['c3@example.org', 'C5@example.org'] });
    assert.equal(suppressed.body.added, 2);

    const created = await call<{ id: number; status: string; listSize: number }>('POST', '/api/v1/campaigns', {
      name: 'API sale',
      list: 'customers',
      template: 'spring-sale',
      subject: 'Hi {{ name }}',
      from: 'Shop <shop@example.org>',
      tags: ['api'],
      ratePerSecond: 400,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.status, 'draft');
    assert.equal(created.body.listSize, 1500);
    const id = created.body.id;

    const test = await call<{ renderedAs: string; providerId: string }>('POST', `/api/v1/campaigns/${id}/test-send`, { to: 'qa@example.org' });
    assert.equal(test.status, 200, JSON.stringify(test.body));
    assert.match(test.body.providerId, /^<.+>$/);
    assert.equal((await countDeliveries(db.kysely, id)).sent, 0, 'a test send records no delivery');

    assert.equal((await call('POST', `/api/v1/campaigns/${id}/pause`)).status, 409, 'a draft cannot be paused');
    assert.equal((await call<{ status: string }>('POST', `/api/v1/campaigns/${id}/start`)).body.status, 'running');

    let stack: SendingStack | null = await openSendingStack(config, db, createLogger('silent'), { concurrency: 50, metrics });
    const running = stack.worker.runCampaigns((c) => c.id === id, true);
    try {
      while ((await countDeliveries(db.kysely, id)).sent < 300) await sleep(50);
      const paused = await call<{ status: string }>('POST', `/api/v1/campaigns/${id}/pause`);
      assert.equal(paused.body.status, 'paused');
      await sleep(1500);
      const held = await countDeliveries(db.kysely, id);
      assert.equal(held.queued, 0, 'pausing released every claim');
      await sleep(500);
      assert.equal((await countDeliveries(db.kysely, id)).sent, held.sent, 'nothing is sent while paused');

      assert.equal((await call<{ status: string }>('POST', `/api/v1/campaigns/${id}/resume`)).body.status, 'running');
      for (;;) {
        const c = await call<{ status: string }>('GET', `/api/v1/campaigns/${id}`);
        if (c.body.status === 'finished') break;
        await sleep(100);
      }
    } finally {
      await stack.close();
      await running;
      stack = null;
    }

    const done = await call<{ status: string; counts: Record<string, number>; notSent: Array<{ status: string; reason: string | null; count: number }> }>(
      'GET',
      `/api/v1/campaigns/${id}`,
    );
    const counts = await countDeliveries(db.kysely, id);
    assert.deepEqual(done.body.counts, counts);
    assert.equal(counts.sent + counts.failed + counts.suppressed, 1500);
    assert.equal(counts.suppressed, 2);
    assert.ok(counts.failed > 0, 'the mock refused some addresses');
    assert.deepEqual(
      done.body.notSent.find((n) => n.status === 'failed'),
      { status: 'failed', reason: 'http_400', count: counts.failed },
    );
    assert.equal((await call('POST', `/api/v1/campaigns/${id}/pause`)).status, 409, 'a finished campaign cannot be paused');

    // Every delivery, page by page, exactly once.
    const seen = new Set<number>();
    let after: string | null = null;
    let pages = 0;
    do {
      const page: Answer<{ items: Array<{ recipientId: number; status: string }>; next: string | null }> = await call(
        'GET',
        `/api/v1/deliveries?campaign=${id}&limit=200${after ? `&after=${after}` : ''}`,
      );
      for (const item of page.body.items) {
        assert.ok(!seen.has(item.recipientId), `recipient ${item.recipientId} on two pages`);
        seen.add(item.recipientId);
      }
      after = page.body.next;
      pages++;
    } while (after);
    assert.equal(seen.size, 1500);
    assert.equal(pages, 8);

    const failed = await call<{ items: Array<{ status: string; errorCode: string }> }>('GET', `/api/v1/deliveries?campaign=${id}&status=failed&limit=500`);
    assert.equal(failed.body.items.length, counts.failed);
    assert.ok(failed.body.items.every((d) => d.status === 'failed' && d.errorCode === 'http_400'));
    const one = await call<{ items: Array<{ email: string; status: string; campaignName: string }> }>('GET', '/api/v1/deliveries?email=C5@EXAMPLE.ORG');
    assert.deepEqual(
      one.body.items.map((d) => [d.email, d.status, d.campaignName]),
      [['c5@example.org', 'suppressed', 'API sale']],
    );

    const listed = await call<{ items: Array<{ email: string }> }>('GET', '/api/v1/suppressions?limit=10');
    assert.deepEqual(listed.body.items.map((s) => s.email).sort(), ['c3@example.org', 'c5@example.org']);
    assert.equal((await call('DELETE', '/api/v1/suppressions/c3@example.org')).status, 200);
    assert.equal((await call('DELETE', '/api/v1/suppressions/c3@example.org')).status, 404);

    // The counters of the process that sent agree with the database, per status and reason.
    const scraped = await call<string>('GET', '/metrics');
    assert.equal(scraped.status, 200);
    const value = (labels: string) => {
      const line = String(scraped.body)
        .split('\n')
        .find((l) => l.startsWith(`herald_deliveries_recorded_total{${labels}}`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    assert.equal(value(`campaign="${id}",status="sent",reason=""`), counts.sent);
    assert.equal(value(`campaign="${id}",status="failed",reason="http_400"`), counts.failed);
    assert.match(String(scraped.body), /herald_provider_request_duration_seconds_count\{outcome="accepted"\} \d+/);
    assert.match(String(scraped.body), /herald_queue_depth\{stage="send"\} 0/);
    assert.match(String(scraped.body), /herald_requests_in_flight 0/);
    assert.match(String(scraped.body), /herald_render_batch_duration_seconds_count \d+/);
    assert.match(String(scraped.body), /herald_reporter_batch_rows_sum \d+/);
  });
});
