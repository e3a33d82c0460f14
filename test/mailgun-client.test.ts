import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MailgunClient } from '../src/provider/mailgun/client.js';
import { MultipartWriter } from '../src/provider/mailgun/multipart.js';
import { startMockMailgun, type MockMailgun } from '../tools/mock-mailgun/server.js';

/** A server that answers each path in its own way, for the outcomes the mock does not produce. */
async function startOddServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.includes('/slow/')) return; // never answers
      if (req.url?.includes('/huge/')) {
        res.writeHead(502, { 'content-type': 'text/html' });
        return res.end('x'.repeat(200_000));
      }
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify({ message: 'slow down' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('the Mailgun client', () => {
  let mock: MockMailgun;
  let odd: Awaited<ReturnType<typeof startOddServer>>;
  const writer = new MultipartWriter([['from', 'Shop <news@mg.example.test>']]);
  const body = (to: string): Uint8Array => {
    const fields = [
      ['to', to],
      ['subject', 'Hi'],
      ['text', 'Hello'],
      ['v:herald-delivery', '1.1'],
    ] as const;
    const out = Buffer.alloc(writer.maxBytes(fields));
    return out.subarray(0, writer.writeInto(out, 0, fields));
  };

  before(async () => {
    mock = await startMockMailgun({ port: 0, apiKey: 'key-client' });
    odd = await startOddServer();
  });
  after(async () => {
    await mock?.close();
    await odd?.close();
  });

  it('returns the provider id of an accepted message', async () => {
    const client = new MailgunClient({ baseUrl: mock.url, apiKey: 'key-client', domain: 'mg.example.test', connections: 2, timeoutMs: 5000 });
    try {
      const outcome = await client.send(body('a@example.test'), writer.contentType);
      assert.equal(outcome.kind, 'accepted');
      assert.match(outcome.kind === 'accepted' ? outcome.providerId : '', /^<.+@mg\.example\.test>$/);
      assert.equal(mock.store.accepted, 1);
    } finally {
      await client.close();
    }
  });

  it('keeps at most its number of connections open, reuses them, and queues the requests beyond', async () => {
    let open = 0;
    let peak = 0;
    const sockets = new Set<unknown>();
    const server = http.createServer((req, res) => {
      sockets.add(req.socket);
      peak = Math.max(peak, ++open);
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          open--;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ id: `<${req.url}@x>`, message: 'Queued. Thank you.' }));
        }, 20),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new MailgunClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      apiKey: 'k',
      domain: 'd',
      connections: 3,
      timeoutMs: 5000,
    });
    try {
      const outcomes = await Promise.all(Array.from({ length: 12 }, () => client.send(body('a@example.test'), writer.contentType)));
      assert.deepEqual(
        outcomes.map((o) => o.kind),
        Array(12).fill('accepted'),
      );
      assert.equal(peak, 3, 'requests in flight at once');
      assert.equal(sockets.size, 3, 'connections opened');
    } finally {
      await client.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('settles requests still waiting for a connection when it closes, as retryable', async () => {
    const client = new MailgunClient({ baseUrl: mock.url, apiKey: 'key-client', domain: 'mg.example.test', connections: 1, timeoutMs: 5000 });
    const sends = [client.send(body('a@example.test'), writer.contentType), client.send(body('b@example.test'), writer.contentType)];
    await client.close();
    const [first, second] = await Promise.all(sends);
    assert.equal(first!.kind, 'accepted', 'the request in flight finishes');
    assert.equal(second!.kind, 'transient');
  });

  it('reports a rejected message as permanent with the provider message, and a wrong key as an account refusal', async () => {
    const client = new MailgunClient({ baseUrl: mock.url, apiKey: 'key-wrong', domain: 'mg.example.test', connections: 2, timeoutMs: 5000 });
    try {
      assert.deepEqual(await client.send(body('a@example.test'), writer.contentType), { kind: 'account', code: 'http_401', message: 'Forbidden' });
    } finally {
      await client.close();
    }
    const good = new MailgunClient({ baseUrl: mock.url, apiKey: 'key-client', domain: 'mg.example.test', connections: 2, timeoutMs: 5000 });
    try {
      const outcome = await good.send(body('not-an-address'), writer.contentType);
      assert.equal(outcome.kind, 'permanent');
      assert.equal(outcome.kind === 'permanent' && outcome.code, 'http_400');
      assert.match(outcome.kind === 'permanent' ? outcome.message : '', /not a valid address/);
    } finally {
      await good.close();
    }
  });

  it('reads Retry-After from a 429, keeps long error bodies bounded, turns a timeout after the request was written into an unknown outcome and a refused connection into a retryable one', async () => {
    const client = new MailgunClient({ baseUrl: odd.url, apiKey: 'k', domain: 'd', connections: 2, timeoutMs: 300 });
    try {
      const throttled = await client.send(body('a@example.test'), writer.contentType);
      assert.equal(throttled.kind, 'transient');
      assert.equal(throttled.kind === 'transient' && throttled.throttled, true);
      assert.equal(throttled.kind === 'transient' && throttled.retryAfterMs, 7000);

      const huge = await client.send(body('a@example.test'), writer.contentType, 'huge');
      assert.equal(huge.kind, 'transient');
      assert.equal(huge.kind === 'transient' && huge.code, 'http_502');
      assert.ok(huge.kind === 'transient' && huge.message.length <= 300, 'error message is cut short');

      const slow = await client.send(body('a@example.test'), writer.contentType, 'slow');
      assert.equal(slow.kind, 'unknown');
      assert.equal(slow.kind === 'unknown' && slow.code, 'und_err_headers_timeout');
    } finally {
      await client.close();
    }
    const refused = new MailgunClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'k', domain: 'd', connections: 1, timeoutMs: 1000 });
    try {
      const outcome = await refused.send(body('a@example.test'), writer.contentType);
      assert.equal(outcome.kind, 'transient');
      assert.equal(outcome.kind === 'transient' && outcome.code, 'econnrefused');
    } finally {
      await refused.close();
    }
  });
});
