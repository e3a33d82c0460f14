import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { request } from 'undici';
import { MailgunClient, type MailgunClientOptions } from '../src/provider/mailgun/client.js';
import { MultipartWriter } from '../src/provider/mailgun/multipart.js';
import { parseMailgunEvent } from '../src/provider/mailgun/parseEvent.js';
import { checkWebhookSignature } from '../src/provider/mailgun/webhookSignature.js';
import { EventLogError, type EventLogQuery, type ProviderEvent } from '../src/provider/provider.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';

const LINKS = ['https://shop.example.com/sale?utm_source=herald&utm_content=hero', 'https://shop.example.com/journal'];
const HTML = `<p><a href="${LINKS[0]!.replace('&', '&amp;')}">Sale</a> <a href='${LINKS[1]}'>Journal</a> <a href="mailto:x@example.com">mail</a></p>`;
const FOLLOW_UP = [
  '--bounce-rate',
  '0.1',
  '--temp-fail-rate',
  '0.1',
  '--open-rate',
  '0.5',
  '--click-rate',
  '0.5',
  '--complaint-rate',
  '0.05',
  '--unsubscribe-rate',
  '0.05',
  '--event-delay-ms',
  '20',
];

function clientFor(mock: MockProcess, options: Partial<MailgunClientOptions> = {}): MailgunClient {
  return new MailgunClient({ baseUrl: mock.url, apiKey: MOCK_KEY, domain: MOCK_DOMAIN, connections: 8, timeoutMs: 5000, ...options });
}

/** Sends `n` messages, one recipient each, tagged as Herald tags them (campaign `campaign`, recipients 0..n-1). */
async function sendMessages(client: MailgunClient, n: number, campaign: number, domain = MOCK_DOMAIN): Promise<void> {
  const writer = new MultipartWriter([
    ['from', `Shop <news@${domain}>`],
    ['subject', 'Spring sale'],
    ['html', HTML],
    ['v:herald-campaign', String(campaign)],
  ]);
  const body = Buffer.alloc(8192);
  for (let i = 0; i < n; i += 20) {
    const batch = Array.from({ length: Math.min(20, n - i) }, (_, j) => {
      const fields = [
        ['to', `reader${i + j}@example.com`],
        ['v:herald-delivery', `${campaign}.${i + j}`],
      ] as const;
      const own = Buffer.from(body.subarray(0, writer.writeInto(body, 0, fields)));
      return client.send(own, writer.contentType, domain);
    });
    for (const outcome of await Promise.all(batch)) assert.equal(outcome.kind, 'accepted', JSON.stringify(outcome));
  }
}

async function settled(mock: MockProcess): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const stats = await mock.stats();
    if (stats.eventsPending === 0 && stats.webhooksQueued === 0) return stats;
    await sleep(50);
  }
  throw new Error('the mock never settled');
}

async function readAll(client: MailgunClient, query: EventLogQuery): Promise<{ items: ProviderEvent[]; pages: number; skipped: number }> {
  const items: ProviderEvent[] = [];
  let pages = 0;
  let skipped = 0;
  let token: string | undefined;
  do {
    const page = await client.eventLog({ ...query, ...(token ? { token } : {}) });
    pages++;
    assert.ok(page.items.length + page.skipped.length <= 100, 'at most 100 items a page');
    items.push(...page.items);
    skipped += page.skipped.length;
    token = page.next;
  } while (token);
  return { items, pages, skipped };
}

/** Each delivery's events, in log order, as `type` or `type:severity`. */
function stories(items: ProviderEvent[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of items) {
    const list = out.get(e.deliveryId!) ?? [];
    list.push(e.severity ? `${e.type}:${e.severity}` : e.type);
    out.set(e.deliveryId!, list);
  }
  return out;
}

const window = (): { start: Date; end: Date } => ({ start: new Date(Date.now() - 60_000), end: new Date(Date.now() + 60_000) });

describe('the provider event log: what the mock plays after acceptance, and the client reading it', () => {
  const mocks: MockProcess[] = [];
  const start = async (args: string[]): Promise<MockProcess> => {
    const mock = await startMockProcess(args);
    mocks.push(mock);
    return mock;
  };
  after(async () => {
    for (const mock of mocks) await mock.stop();
  });

  it('plays each recipient a story in order, the same for the same --seed, and serves it alike from the Logs and the Events API', async () => {
    const runs: Array<Map<string, string[]>> = [];
    for (const _run of [1, 2]) {
      const mock = await start(['--record', 'counts', '--seed', '11', ...FOLLOW_UP]);
      const client = clientFor(mock);
      try {
        await sendMessages(client, 300, 5);
        const stats = await settled(mock);
        const { items, pages, skipped } = await readAll(client, window());
        const total = Object.values(stats.events as Record<string, number>).reduce((a, b) => a + b, 0);
        assert.equal(items.length, total, 'every event, once');
        assert.equal(skipped, 0);
        assert.equal(pages, Math.ceil(total / 100), 'full pages, and no next after the last');
        assert.equal(new Set(items.map((e) => e.id)).size, items.length, 'event ids are unique');
        for (let i = 1; i < items.length; i++) assert.ok(items[i]!.at >= items[i - 1]!.at, 'oldest first');
        for (const e of items) {
          assert.equal(e.domain, MOCK_DOMAIN);
          assert.equal(e.campaignId, 5);
          assert.equal(e.recipient, `reader${e.deliveryId!.split('.')[1]}@example.com`);
          assert.match(e.messageId ?? '', /@mg\.example\.test$/);
          if (e.type === 'clicked') assert.ok(LINKS.includes(e.url!), `a link of the message: ${e.url}`);
          if (e.type === 'delivered') assert.equal(e.code, 250);
          if (e.severity === 'permanent') assert.deepEqual([e.code, e.reason], [550, 'bounce']);
          if (e.severity === 'temporary') assert.deepEqual([e.code, e.reason], [421, 'generic']);
        }
        const byDelivery = stories(items);
        assert.equal(byDelivery.size, 300);
        const seen = new Set<string>();
        for (const [id, story] of byDelivery) {
          for (const type of story) seen.add(type);
          assert.equal(story[0], 'accepted', id);
          const rest = story.slice(1).join(' ');
          assert.match(
            rest,
            /^(failed:permanent|(failed:temporary )?delivered( opened( clicked)?)?( complained)?( unsubscribed)?( complained)?)$/,
            `${id}: ${story.join(' ')}`,
          );
        }
        for (const type of ['delivered', 'failed:permanent', 'failed:temporary', 'opened', 'clicked', 'complained', 'unsubscribed']) {
          assert.ok(seen.has(type), `some recipient ${type}`);
        }
        runs.push(byDelivery);

        // The Events API (deprecated, the fallback) serves the same events.
        const fromEvents: ProviderEvent[] = [];
        const begin = Math.floor(Date.now() / 1000) - 60;
        let next: string | null = `${mock.url}/v3/${MOCK_DOMAIN}/events?begin=${begin}&end=${begin + 120}&ascending=yes&limit=300`;
        while (next) {
          const res = await request(next, { headers: { authorization: `Basic ${Buffer.from(`api:${MOCK_KEY}`).toString('base64')}` } });
          const page = (await res.body.json()) as { items: unknown[]; paging: { next: string } };
          for (const item of page.items) {
            const parsed = parseMailgunEvent(item, 'events');
            assert.ok(!('error' in parsed), JSON.stringify(parsed));
            fromEvents.push(parsed);
          }
          next = page.items.length > 0 ? page.paging.next : null;
        }
        assert.deepEqual(
          fromEvents.map((e) => ({ ...e, domain: MOCK_DOMAIN })),
          items,
        );
      } finally {
        await client.close();
      }
    }
    assert.deepEqual(runs[0], runs[1], 'the same stories with the same seed');
  });

  it('filters the Logs API by domain, event types and time window, pages by token, and refuses what Mailgun would', async () => {
    const other = 'mg.other.test';
    const mock = await start(['--record', 'counts', '--domain', other, '--open-rate', '1']);
    const client = clientFor(mock);
    const logs = (body: unknown) =>
      request(`${mock.url}/v1/analytics/logs`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`api:${MOCK_KEY}`).toString('base64')}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (res) => ({
        status: res.statusCode,
        body: (await res.body.json()) as { items: Array<Record<string, unknown>>; pagination: { next?: string }; message?: string },
      }));
    try {
      const before = new Date();
      await sendMessages(client, 30, 1);
      await sendMessages(client, 20, 2, other);
      await settled(mock);
      const mine = await readAll(client, window());
      assert.equal(mine.items.length, 90, 'accepted, delivered and opened of this domain only');
      const theirs = await readAll(client, { ...window(), domain: other, events: ['delivered', 'opened'] });
      assert.equal(theirs.items.length, 40);
      assert.ok(theirs.items.every((e) => e.domain === other && e.campaignId === 2 && e.type !== 'accepted'));
      const earlier = await readAll(client, { start: new Date(before.getTime() - 3_600_000), end: new Date(before.getTime() - 1_800_000) });
      assert.deepEqual([earlier.items.length, earlier.pages], [0, 1]);

      // Raw: descending order, a limit, a token that belongs to its query.
      const query = {
        start: new Date(Date.now() - 60_000).toUTCString(),
        end: new Date(Date.now() + 60_000).toUTCString(),
        events: ['accepted'],
        filter: { AND: [{ attribute: 'domain', comparator: '=', values: [{ label: MOCK_DOMAIN, value: MOCK_DOMAIN }] }] },
      };
      const first = await logs({ ...query, pagination: { sort: 'timestamp:desc', limit: 25 } });
      assert.equal(first.status, 200);
      assert.equal(first.body.items.length, 25);
      const stamps = first.body.items.map((i) => Date.parse(i['@timestamp'] as string));
      assert.deepEqual(
        stamps,
        [...stamps].sort((a, b) => b - a),
        'newest first',
      );
      assert.equal(typeof first.body.items[0]!['user-variables'], 'string', 'user-variables as a JSON string');
      assert.deepEqual(first.body.items[0]!.domain, { name: MOCK_DOMAIN });
      const second = await logs({ ...query, pagination: { sort: 'timestamp:desc', limit: 25, token: first.body.pagination.next } });
      assert.equal(second.body.items.length, 5);
      assert.equal(second.body.pagination.next, undefined, 'no next on the last page');
      const elsewhere = await logs({ ...query, events: ['opened'], pagination: { sort: 'timestamp:desc', limit: 25, token: first.body.pagination.next } });
      assert.equal(elsewhere.status, 400);
      assert.match(elsewhere.body.message!, /another query/);
      for (const bad of [
        { ...query, pagination: { limit: 101 } },
        { ...query, pagination: { token: 'nonsense' } },
        { ...query, events: ['exploded'] },
        { ...query, filter: { AND: [{ attribute: 'domain', comparator: '=', values: [{ value: MOCK_DOMAIN }] }] } },
        { ...query, start: 'not a date' },
      ]) {
        assert.equal((await logs(bad)).status, 400, JSON.stringify(bad));
      }
      const unauthorised = await request(`${mock.url}/v1/analytics/logs`, { method: 'POST', body: '{}' });
      assert.equal(unauthorised.statusCode, 401);
      await unauthorised.body.dump();
    } finally {
      await client.close();
    }
  });

  it('retries a throttling and failing Logs API, and skips malformed items with a log line naming each', async () => {
    const mock = await start([
      '--record',
      'counts',
      '--seed',
      '3',
      '--logs-throttle-rate',
      '0.25',
      '--logs-fail-rate',
      '0.25',
      '--logs-malformed-rate',
      '0.05',
    ]);
    const lines: Array<{ msg: string; id?: string; index: number; reason: string }> = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const client = clientFor(mock, { log, logRetry: { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 2000 } });
    try {
      await sendMessages(client, 400, 4);
      const stats = await settled(mock);
      const { items, pages, skipped } = await readAll(client, window());
      assert.equal(items.length + skipped, 800, 'every event read or skipped');
      assert.ok(skipped > 0 && skipped < 100, `some skipped: ${skipped}`);
      assert.equal(lines.length, skipped, 'one log line per skipped item');
      for (const line of lines) {
        assert.match(line.msg, /^skipped a malformed Logs API item \((id \S+|item \d+ of its page)\): /);
        assert.ok(line.reason);
      }
      const after = await mock.stats();
      assert.ok((after.logsRequests as number) - (stats.logsRequests as number) > pages, 'throttled and failed requests were retried');
      const responses = after.responses as Record<string, number>;
      assert.ok((responses['429'] ?? 0) > 0 && (responses['503'] ?? 0) > 0, JSON.stringify(responses));
      // The same items are broken on every read: a second read skips the same ones.
      assert.equal((await readAll(client, window())).skipped, skipped);
    } finally {
      await client.close();
    }
  });

  it('gives up on an unreachable log after its retries, stops waiting when aborted, and never holds up a send', async () => {
    const mock = await start(['--record', 'counts']);
    await (await request(`${mock.url}/mock/logs-outage?ms=60000`, { method: 'POST' })).body.dump();
    const client = clientFor(mock, { logRetry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 20 } });
    const patient = clientFor(mock);
    try {
      await assert.rejects(client.eventLog(window()), (err: unknown) => err instanceof EventLogError && err.code === 'http_503' && /3 times/.test(err.message));
      const started = Date.now();
      const reading = patient.eventLog(window(), AbortSignal.timeout(300));
      // Sends go on while the log read waits out its backoff.
      await sendMessages(patient, 20, 9);
      await assert.rejects(reading, (err: Error) => err.name === 'TimeoutError' || err.name === 'AbortError');
      assert.ok(Date.now() - started < 5000, 'aborted promptly');
    } finally {
      await client.close();
      await patient.close();
    }
  });

  it('posts the follow-up events as signed webhooks, drops the same share for the same seed, and keeps every event in the log', async () => {
    const received = new Map<string, ProviderEvent[]>();
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const payload = JSON.parse(body) as { signature: { timestamp: string; token: string; signature: string }; 'event-data': unknown };
        assert.deepEqual(checkWebhookSignature('hook-key', payload.signature, Date.now()), { ok: true });
        const parsed = parseMailgunEvent(payload['event-data'], 'webhook');
        assert.ok(!('error' in parsed), JSON.stringify(parsed));
        const list = received.get(req.url!) ?? [];
        list.push(parsed);
        received.set(req.url!, list);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const hooks = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const dropped: Array<Set<string>> = [];
      for (const path of ['/a', '/b']) {
        const mock = await start([
          '--record',
          'counts',
          '--seed',
          '5',
          '--open-rate',
          '0.5',
          '--bounce-rate',
          '0.1',
          '--webhook-url',
          `${hooks}${path}`,
          '--webhook-signing-key',
          'hook-key',
          '--webhook-drop-rate',
          '0.3',
        ]);
        const client = clientFor(mock);
        try {
          await sendMessages(client, 200, 6);
          const stats = await settled(mock);
          const log = (await readAll(client, window())).items.filter((e) => e.type !== 'accepted');
          const hooked = received.get(path) ?? [];
          assert.equal(stats.webhooksSent, hooked.length);
          assert.equal((stats.webhooksSent as number) + (stats.webhooksDropped as number), log.length, 'each follow-up event posted or dropped');
          const share = (stats.webhooksDropped as number) / log.length;
          assert.ok(share > 0.2 && share < 0.4, `about 30% dropped: ${share}`);
          const key = (e: ProviderEvent) => `${e.deliveryId} ${e.type}`;
          const posted = new Set(hooked.map(key));
          assert.equal(posted.size, hooked.length);
          assert.ok(
            hooked.every((e) => log.some((l) => l.id === e.id)),
            'a webhook carries the id of its event in the log',
          );
          dropped.push(new Set(log.map(key).filter((k) => !posted.has(k))));
        } finally {
          await client.close();
        }
      }
      assert.deepEqual(dropped[0], dropped[1], 'the same webhooks dropped with the same seed');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
