import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { serverOptions } from './support/server.js';

const TOKEN = 'bad-input-token';

describe(`the HTTP API on malformed paths, queries and ids (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;
  before(async () => {
    db = await openTestDb();
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config: loadConfig({ ...process.env, HERALD_API_TOKEN: TOKEN }) }));
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await request(`${server.url}${path}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, error: (JSON.parse(text) as { error?: string }).error ?? '' };
  };

  it('answers 400 naming the problem, never 500', async () => {
    const huge = '99999999999999999999'; // beyond 2^63
    const cases: Array<[string, string, RegExp, unknown?]> = [
      ['DELETE', '/api/v1/suppressions/%E0%A4%A', /percent-encod/],
      ['DELETE', '/api/v1/suppressions/a%00b%40example.org', /NUL/],
      ['POST', '/api/v1/lists/a%00b/recipients', /NUL/],
      ['GET', '/api/v1/deliveries?email=a%00b', /NUL/],
      ['GET', '/api/v1/suppressions?reason=manual%00', /NUL/],
      ['POST', '/api/v1/lists', /NUL/, { name: 'a\u0000b' }],
      ['GET', `/api/v1/campaigns/${huge}`, /campaign id/],
      ['POST', `/api/v1/campaigns/${huge}/pause`, /campaign id/],
      ['GET', '/api/v1/campaigns/9223372036854775808', /campaign id/],
      ['GET', `/api/v1/deliveries?campaign=${huge}`, /campaign/],
      ['GET', `/api/v1/deliveries?after=${huge}.1`, /after/],
      ['GET', `/api/v1/deliveries?after=1.${huge}`, /after/],
    ];
    const wrong: string[] = [];
    for (const [method, path, message, body] of cases) {
      const r = await call(method, path, body);
      if (r.status !== 400 || !message.test(r.error)) wrong.push(`${method} ${path}: ${r.status} ${r.error}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('answers a missing campaign with 404 before looking at the body', async () => {
    const r = await call('POST', '/api/v1/campaigns/987654/test-send', { to: 'not an address' });
    assert.equal(r.status, 404, r.error);
    assert.match(r.error, /campaign 987654 does not exist/);
    const schedule = await call('POST', '/api/v1/campaigns/987654/schedule', { at: 'never' });
    assert.equal(schedule.status, 404, schedule.error);
  });

  it('ignores a large body sent to a route that reads none', async () => {
    const res = await request(`${server.url}/api/v1/campaigns/987654/pause`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: 'x'.repeat(3 * 1024 * 1024),
    });
    const body = (await res.body.json()) as { error: string };
    assert.equal(res.statusCode, 404, body.error);
    assert.match(body.error, /campaign 987654 does not exist/);
  });

  it('answers a method /metrics does not serve with 405', async () => {
    const r = await call('POST', '/metrics');
    assert.equal(r.status, 405, r.error);
    assert.match(r.error, /POST is not allowed on \/metrics/);
  });
});
