import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { Metrics } from '../src/sender/metrics.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { startMetricsServer } from '../src/http/metricsServer.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { cliDatabaseEnv, spawnHerald } from './support/processes.js';
import { rawRequest, type RawAnswer } from './support/rawHttp.js';
import { serverOptions } from './support/server.js';

type Sent = RawAnswer;

/** A raw request, so Host, Origin and content-type are exactly what a browser would send. */
function send(url: string, method: string, reqPath: string, headers: Record<string, string>, body?: string): Promise<Sent> {
  return rawRequest(url, method, reqPath, { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, body);
}

describe(`a token-less loopback server refuses other sites' requests (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;
  let campaignId: number;
  let own: string;
  before(async () => {
    db = await openTestDb();
    const { listId } = await seedList(db.kysely, 'csrf', 3);
    campaignId = await seedCampaign(db.kysely, listId, { status: 'draft' });
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: '', MAILGUN_DOMAIN: '', HERALD_PUBLIC_URL: 'https://mail.example.org' });
    server = await startServer(db, createLogger('silent'), serverOptions({ config, webhookSigningKey: 'signing-key' }));
    own = new URL(server.url).host;
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
  });
  const status = async () => (await db.kysely.selectFrom('campaigns').select('status').where('id', '=', campaignId).executeTakeFirstOrThrow()).status;

  it('does not start a campaign for a text/plain body, a foreign Origin, a cross-site fetch or a rebinding Host', async () => {
    const start = `/api/v1/campaigns/${campaignId}/start`;
    const attempts: Array<[string, Record<string, string>, string | undefined, number]> = [
      // A page's <form enctype="text/plain"> or fetch(no-cors): no preflight, so the server must refuse.
      ['text/plain body, no Origin', { host: own, 'content-type': 'text/plain' }, '{}', 415],
      ['form body, no Origin', { host: own, 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', 415],
      ['foreign Origin, text/plain', { host: own, origin: 'https://evil.example', 'content-type': 'text/plain' }, 'x', 403],
      ['foreign Origin, no body', { host: own, origin: 'https://evil.example' }, undefined, 403],
      ['opaque Origin', { host: own, origin: 'null' }, undefined, 403],
      ['Sec-Fetch-Site: cross-site', { host: own, 'sec-fetch-site': 'cross-site' }, undefined, 403],
      // DNS rebinding: evil.example now resolves to 127.0.0.1, so the page is "same-origin".
      ['rebinding Host', { host: `evil.example:${new URL(server.url).port}`, origin: `http://evil.example:${new URL(server.url).port}` }, undefined, 403],
      ['rebinding Host, JSON', { host: 'evil.example', 'content-type': 'application/json' }, '{}', 403],
    ];
    for (const [what, headers, body, expected] of attempts) {
      const res = await send(server.url, 'POST', start, headers, body);
      assert.equal(res.status, expected, `${what}: ${res.text}`);
      assert.equal(await status(), 'draft', `${what} changed nothing`);
    }
    const read = await send(server.url, 'GET', '/api/v1/campaigns', { host: 'evil.example:80' });
    assert.equal(read.status, 403, 'a rebinding page cannot read the API either');
    assert.match(read.text, /Host 'evil\.example:80' is not this server/);
    assert.equal((await send(server.url, 'GET', '/metrics', { host: 'evil.example' })).status, 403);
    for (const stream of [`/api/v1/campaigns/${campaignId}/events`, '/api/v1/campaigns/events']) {
      assert.equal((await send(server.url, 'GET', stream, { host: 'evil.example' })).status, 403, `${stream}: nor follow its event streams`);
    }
  });

  it('still serves its own names, its own pages and command-line clients', async () => {
    const port = new URL(server.url).port;
    for (const host of [own, `localhost:${port}`, `[::1]:${port}`, 'mail.example.org']) {
      assert.equal((await send(server.url, 'GET', '/api/v1/lists', { host })).status, 200, host);
    }
    // The dashboard's own fetch: same origin, no body.
    const dashboard = await send(server.url, 'POST', `/api/v1/campaigns/${campaignId}/start`, {
      host: own,
      origin: `http://${own}`,
      'sec-fetch-site': 'same-origin',
    });
    assert.equal(dashboard.status, 200, dashboard.text);
    assert.equal(await status(), 'running');
    const pause = await send(server.url, 'POST', `/api/v1/campaigns/${campaignId}/pause`, { host: own, 'content-type': 'application/json' }, '{}');
    assert.equal(pause.status, 200, pause.text);
    const created = await send(server.url, 'POST', '/api/v1/lists', { host: own, 'content-type': 'application/json; charset=utf-8' }, '{"name":"more"}');
    assert.equal(created.status, 201, created.text);
    const csv = await send(server.url, 'POST', '/api/v1/lists/more/recipients', { host: own, 'content-type': 'text/csv' }, 'email\na@example.org\n');
    assert.equal(csv.status, 200, csv.text);
    assert.equal(
      (await send(server.url, 'POST', '/api/v1/lists/more/recipients', { host: own, 'content-type': 'text/plain' }, 'email\nb@example.org\n')).status,
      415,
    );
  });

  it('keeps unsubscribe links and webhooks working from any host and origin', async () => {
    // A mail client's RFC 8058 one-click POST through a proxy: the public name, form-encoded.
    const unsub = await send(
      server.url,
      'POST',
      '/u/not-a-token.x',
      { host: 'mail.example.org', 'content-type': 'application/x-www-form-urlencoded', origin: 'null' },
      'List-Unsubscribe=One-Click',
    );
    assert.equal(unsub.status, 400, 'reaches the token check (a forged token), not a Host/Origin refusal');
    const page = await send(server.url, 'GET', '/u/not-a-token.x', { host: 'proxy.internal:8080' });
    assert.equal(page.status, 400);
    const hook = await send(server.url, 'POST', '/webhooks/mailgun', { host: 'hooks.example.org', 'content-type': 'application/json' }, '{not json');
    assert.equal(hook.status, 400, 'reaches the webhook handler');
    assert.equal((await send(server.url, 'GET', '/healthz', { host: 'lb.internal' })).status, 200);
  });
});

describe('worker metrics without a token', () => {
  it('refuse anything but loopback, in process and from the command line', async () => {
    await assert.rejects(startMetricsServer(new Metrics(), '0.0.0.0', 0, undefined), /HERALD_API_TOKEN is not set: refusing to serve metrics on 0\.0\.0\.0/);
    const loopback = await startMetricsServer(new Metrics(), '127.0.0.1', 0, undefined);
    try {
      assert.equal((await send(loopback.url, 'GET', '/metrics', { host: new URL(loopback.url).host })).status, 200);
      assert.equal((await send(loopback.url, 'GET', '/metrics', { host: 'evil.example' })).status, 403, 'a rebinding page cannot read it');
    } finally {
      await loopback.close();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-metrics-host-'));
    const database = await cliDatabaseEnv(dir);
    try {
      const worker = spawnHerald(['worker', '--metrics-port', '0', '--metrics-host', '0.0.0.0'], {
        ...database.env,
        HERALD_API_TOKEN: '',
        MAILGUN_API_KEY: 'k',
        MAILGUN_DOMAIN: 'mg.example.org',
      });
      assert.equal(await worker.exited, 1);
      assert.match(worker.output(), /HERALD_API_TOKEN is not set: refusing to serve metrics on 0\.0\.0\.0/);
    } finally {
      await database.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
