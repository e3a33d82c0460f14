import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { KyselyPlugin } from 'kysely';
import { request } from 'undici';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import type { Db } from '../src/db/connect.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { ReadCache, type ReadOutcome } from '../src/http/readCache.js';
import { Watchers } from '../src/http/watchers.js';
import { Metrics } from '../src/sender/metrics.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { serverOptions } from './support/server.js';

const TOKEN = 'watchers-test-token';

/** The same database, with every query the server runs counted (a Kysely plugin; the queries are real). */
function countingDb(db: Db): { db: Db; queries: () => number } {
  let n = 0;
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      n++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { db: { ...db, kysely: db.kysely.withPlugin(plugin) }, queries: () => n };
}

/** A promise with its resolve, for driving the cache by hand. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('the read cache (no IO, a clock by hand)', () => {
  it('shares a query in flight, keeps its answer for ttl after it arrives, then queries again', async () => {
    let now = 1000;
    const outcomes: ReadOutcome[] = [];
    const cache = new ReadCache({ ttlMs: 500, maxEntries: 10, now: () => now }, (_k, o) => outcomes.push(o));
    let loads = 0;
    const gate = deferred<string>();
    const load = () => {
      loads++;
      return gate.promise;
    };
    const answers = Promise.all([cache.get('a', load), cache.get('a', load), cache.get('a', load)]);
    now += 2000; // the query is slow: the answer's lifetime counts from when it arrives
    gate.resolve('one');
    assert.deepEqual(await answers, ['one', 'one', 'one']);
    assert.equal(loads, 1);
    now += 499;
    assert.equal(await cache.get('a', () => Promise.resolve('two')), 'one');
    now += 1;
    assert.equal(await cache.get('a', () => Promise.resolve('two')), 'two');
    assert.deepEqual(outcomes, ['query', 'shared', 'shared', 'hit', 'query']);
  });

  it('after invalidate, queries again even while an older query is in flight, and never keeps the older answer', async () => {
    let now = 0;
    const cache = new ReadCache({ ttlMs: 1000, maxEntries: 10, now: () => now });
    const invalidated: string[] = [];
    cache.onInvalidate((k) => invalidated.push(k));
    const old = deferred<string>();
    const first = cache.get('a', () => old.promise);
    cache.invalidate('a');
    const fresh = cache.get('a', () => Promise.resolve('after write'));
    old.resolve('before write');
    assert.equal(await first, 'before write', 'the older request still gets its answer');
    assert.equal(await fresh, 'after write');
    now += 10;
    assert.equal(await cache.get('a', () => Promise.resolve('unexpected')), 'after write', 'the older answer did not replace the newer');
    assert.deepEqual(invalidated, ['a']);
  });

  it('shares a failure with those who waited for it but keeps none; holds at most maxEntries (least recently used leave)', async () => {
    const cache = new ReadCache({ ttlMs: 1000, maxEntries: 2, now: () => 0 });
    const failing = deferred<string>();
    const a = cache.get('x', () => failing.promise);
    const b = cache.get('x', () => Promise.resolve('not asked'));
    failing.reject(new Error('boom'));
    await assert.rejects(a, /boom/);
    await assert.rejects(b, /boom/);
    assert.equal(await cache.get('x', () => Promise.resolve('ok')), 'ok');

    await cache.get('y', () => Promise.resolve('y1'));
    await cache.get('x', () => Promise.resolve('unused')); // x is now the most recently used
    await cache.get('z', () => Promise.resolve('z1')); // y leaves
    assert.equal(cache.size, 2);
    assert.equal(await cache.get('x', () => Promise.resolve('x2')), 'ok');
    assert.equal(await cache.get('y', () => Promise.resolve('y2')), 'y2');
  });

  it('with ttl 0 is off: every request runs its own query', async () => {
    const cache = new ReadCache({ ttlMs: 0, maxEntries: 10, now: () => 0 });
    let loads = 0;
    const load = async () => ++loads;
    assert.deepEqual(await Promise.all([cache.get('a', load), cache.get('a', load)]), [1, 2]);
    assert.equal(cache.size, 0);
  });

  it('HERALD_API_CACHE_MS: 1 s by default, 0 turns it off, nonsense stops the start', () => {
    assert.equal(loadConfig({}).apiCacheMs, 1000);
    assert.equal(loadConfig({ HERALD_API_CACHE_MS: '0' }).apiCacheMs, 0);
    assert.equal(loadConfig({ HERALD_API_CACHE_MS: ' 250 ' }).apiCacheMs, 250);
    for (const bad of ['-1', '1.5', 'soon', '60001']) {
      assert.throws(() => loadConfig({ HERALD_API_CACHE_MS: bad }), /HERALD_API_CACHE_MS must be a whole number of milliseconds from 0 \(off\) to 60000/, bad);
    }
  });
});

describe('the shared pollers behind the event streams (short intervals, no server)', () => {
  it('read once per interval for all subscribers, send only changes (and heartbeats), re-read at once when poked, and stop with the last subscriber', async () => {
    const errors: unknown[] = [];
    const watchers = new Watchers({ heartbeatMs: 120, onError: (_k, e) => errors.push(e) });
    let reads = 0;
    let value = 'a';
    const load = async () => {
      reads++;
      if (value === 'fail') throw new Error('database gone');
      return { value };
    };
    const got: string[][] = [[], []];
    const off = got.map((chunks) => watchers.subscribe('k', 50, load, { send: (c) => chunks.push(c) }));
    await sleep(300);
    assert.deepEqual(watchers.counts(), { pollers: 1, streams: 2 });
    assert.ok(reads >= 3 && reads <= 7, `one poller reading every 50 ms for both: ${reads} reads`);
    for (const chunks of got) {
      assert.deepEqual(
        chunks.filter((c) => c.startsWith('data:')),
        ['data: {"value":"a"}\n\n'],
        'an unchanged answer is sent once',
      );
      assert.ok(chunks.includes(': keep-alive\n\n'), 'a heartbeat');
    }

    value = 'fail';
    await sleep(120);
    assert.ok(errors.length >= 1, 'a failed read is reported and retried');
    value = 'b';
    await sleep(120);
    assert.ok(got[0]!.includes('data: {"value":"b"}\n\n'), 'the poller carried on after the failure');

    // Poked: read again now, not after the interval.
    const slow = new Watchers({ heartbeatMs: 10_000, onError: () => {} });
    let slowReads = 0;
    const seen: string[] = [];
    const offSlow = slow.subscribe('s', 60_000, async () => ({ n: ++slowReads }), { send: (c) => seen.push(c) });
    await sleep(100);
    slow.poke('s');
    await sleep(100);
    assert.deepEqual(seen, ['data: {"n":1}\n\n', 'data: {"n":2}\n\n']);
    offSlow();
    assert.deepEqual(slow.counts(), { pollers: 0, streams: 0 });

    off[0]!();
    assert.deepEqual(watchers.counts(), { pollers: 1, streams: 1 });
    off[1]!();
    off[1]!(); // twice is once
    assert.deepEqual(watchers.counts(), { pollers: 0, streams: 0 });
    const stopped = reads;
    const heard = got[1]!.length;
    await sleep(300);
    assert.equal(reads, stopped, 'no read after the last subscriber left');
    assert.equal(got[1]!.length, heard, 'nothing sent after leaving');
  });
});

/** Reads a server-sent event stream; `next` waits for the next data event that matches. */
class EventReader {
  readonly events: unknown[] = [];
  comments = 0;
  private waiters: Array<() => void> = [];
  private readonly controller = new AbortController();
  status = 0;
  contentType = '';
  done: Promise<void> = Promise.resolve();

  async open(url: string, token: string | null = TOKEN): Promise<this> {
    const res = await request(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: this.controller.signal });
    this.status = res.statusCode;
    this.contentType = String(res.headers['content-type'] ?? '');
    if (res.statusCode !== 200) {
      this.events.push(await res.body.json());
      return this;
    }
    this.done = (async () => {
      let buffer = '';
      try {
        for await (const chunk of res.body) {
          buffer += (chunk as Buffer).toString('utf8');
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            for (const line of block.split('\n')) {
              if (line.startsWith('data: ')) this.events.push(JSON.parse(line.slice(6)));
              else if (line.startsWith(':')) this.comments++;
            }
            end = buffer.indexOf('\n\n');
          }
          for (const w of this.waiters.splice(0)) w();
        }
      } catch {
        // aborted by close()
      }
      for (const w of this.waiters.splice(0)) w();
    })();
    return this;
  }

  /** The first event from index `from` on that satisfies `match`. */
  async next<T>(match: (e: T) => boolean, from = 0, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find((e) => match(e as T));
      if (found !== undefined) return found as T;
      const left = deadline - Date.now();
      assert.ok(left > 0, `no matching event in ${timeoutMs} ms; got ${JSON.stringify(this.events).slice(0, 500)}`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(Math.min(left, 200))]);
    }
  }

  close(): Promise<void> {
    this.controller.abort();
    return this.done;
  }
}

describe(`many watchers, one query (${dbLabel})`, () => {
  let db: TestDb;
  let counted: { db: Db; queries: () => number };
  let metrics: Metrics;
  let server: RunningServer;
  let listId: number;

  const start = async (cacheMs: string, m = new Metrics()) => {
    const server = await startServer(
      counted.db,
      createLogger('silent'),
      serverOptions({
        apiToken: TOKEN,
        metrics: m,
        // Folding the kept counts runs queries of its own every few seconds; these tests count the reads'.
        foldCountsEveryMs: 0,
        config: loadConfig({ ...process.env, MAILGUN_API_KEY: '', MAILGUN_DOMAIN: '', HERALD_API_TOKEN: TOKEN, HERALD_API_CACHE_MS: cacheMs }),
      }),
    );
    // The funnel gauge reads the database at every scrape; these tests scrape to read gauges
    // and count the reads' queries, so it reads nothing here.
    m.watchFunnels(async () => []);
    return server;
  };
  const call = async <T = Record<string, unknown>>(base: string, method: 'GET' | 'POST', path: string): Promise<{ status: number; body: T }> => {
    const res = await request(`${base}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
    return { status: res.statusCode, body: (await res.body.json()) as T };
  };
  const gauge = async (name: string): Promise<number> => {
    const text = await metrics.exposition();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return Number(line?.split(' ')[1]);
  };
  /** Campaign views read by the server, however answered (herald_api_reads_total). */
  const campaignReads = async (): Promise<number> =>
    (await metrics.exposition())
      .split('\n')
      .filter((l) => l.startsWith('herald_api_reads_total{endpoint="campaign"'))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  const waitFor = async (what: string, test: () => Promise<boolean>, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await test())) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await sleep(50);
    }
  };

  before(async () => {
    db = await openTestDb();
    counted = countingDb(db);
    metrics = new Metrics();
    // A long lifetime: what these tests see fresh, an invalidation made fresh.
    server = await start('60000', metrics);
    ({ listId } = await seedList(db.kysely, 'watched', 200));
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
  });

  it('answers 30 concurrent GETs of one campaign with the queries of one, and 30 without the cache', async () => {
    const one = await seedCampaign(db.kysely, listId, { status: 'draft' });
    let before = counted.queries();
    assert.equal((await call(server.url, 'GET', `/api/v1/campaigns/${one}`)).status, 200);
    const perView = counted.queries() - before;
    assert.ok(perView >= 3, `a campaign view runs several queries (${perView})`);

    const many = await seedCampaign(db.kysely, listId, { status: 'draft' });
    before = counted.queries();
    const answers = await Promise.all(Array.from({ length: 30 }, () => call<{ id: number }>(server.url, 'GET', `/api/v1/campaigns/${many}`)));
    assert.ok(answers.every((a) => a.status === 200 && a.body.id === many));
    assert.equal(counted.queries() - before, perView, '30 watchers, the queries of one');

    before = counted.queries();
    await Promise.all(Array.from({ length: 10 }, () => call(server.url, 'GET', '/api/v1/campaigns')));
    assert.equal(counted.queries() - before, 1, 'the list: one query for 10 watchers');

    const uncached = await start('0');
    try {
      before = counted.queries();
      await Promise.all(Array.from({ length: 30 }, () => call(uncached.url, 'GET', `/api/v1/campaigns/${many}`)));
      assert.equal(counted.queries() - before, 30 * perView, 'HERALD_API_CACHE_MS=0: each request its own queries');
    } finally {
      await uncached.close();
    }
  });

  it('shows a write through the API at once: start, pause, cancel and schedule forget what was read', async () => {
    const id = await seedCampaign(db.kysely, listId, { status: 'draft' });
    assert.equal((await call<{ status: string }>(server.url, 'GET', `/api/v1/campaigns/${id}`)).body.status, 'draft');
    await db.kysely.updateTable('campaigns').set({ name: 'renamed behind its back' }).where('id', '=', id).execute();
    assert.equal(
      (await call<{ name: string }>(server.url, 'GET', `/api/v1/campaigns/${id}`)).body.name,
      'test campaign',
      'a change that bypasses the API waits for the cache lifetime',
    );
    const listed = await call<{ items: Array<{ id: number; status: string }> }>(server.url, 'GET', '/api/v1/campaigns');
    assert.equal(
      listed.body.items.find((c) => c.id === id),
      undefined,
      'the list read before this campaign was inserted (behind the API) is still kept',
    );

    const started = await call<{ status: string; name: string }>(server.url, 'POST', `/api/v1/campaigns/${id}/start`);
    assert.equal(started.status, 200);
    assert.equal(started.body.status, 'running');
    const after = await call<{ status: string; name: string }>(server.url, 'GET', `/api/v1/campaigns/${id}`);
    assert.deepEqual([after.body.status, after.body.name], ['running', 'renamed behind its back']);
    const relisted = await call<{ items: Array<{ id: number; status: string }> }>(server.url, 'GET', '/api/v1/campaigns');
    assert.equal(relisted.body.items.find((c) => c.id === id)?.status, 'running', 'the list forgot too');

    assert.equal((await call<{ status: string }>(server.url, 'POST', `/api/v1/campaigns/${id}/pause`)).body.status, 'paused');
    assert.equal((await call<{ status: string }>(server.url, 'GET', `/api/v1/campaigns/${id}`)).body.status, 'paused');
    // A refused write changes nothing and answers 409 as before.
    assert.equal((await call(server.url, 'POST', `/api/v1/campaigns/${id}/pause`)).status, 409);
    assert.equal((await call<{ status: string }>(server.url, 'POST', `/api/v1/campaigns/${id}/cancel`)).body.status, 'cancelled');
    assert.equal((await call<{ status: string }>(server.url, 'GET', `/api/v1/campaigns/${id}`)).body.status, 'cancelled');

    const later = await seedCampaign(db.kysely, listId, { status: 'draft' });
    assert.equal((await call<{ status: string }>(server.url, 'GET', `/api/v1/campaigns/${later}`)).body.status, 'draft');
    const res = await request(`${server.url}/api/v1/campaigns/${later}/schedule`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ at: '2031-01-01T09:00:00Z' }),
    });
    assert.equal(res.statusCode, 200, await res.body.text());
    const scheduled = await call<{ status: string; scheduledAt: string }>(server.url, 'GET', `/api/v1/campaigns/${later}`);
    assert.deepEqual([scheduled.body.status, scheduled.body.scheduledAt], ['scheduled', '2031-01-01T09:00:00.000Z']);
  });

  it('streams a campaign: the view at once, a change through the API within a moment, and the poller stops when the last watcher leaves', async () => {
    const id = await seedCampaign(db.kysely, listId, { status: 'running' });
    const base = `${server.url}/api/v1/campaigns/${id}/events`;
    const watchers = await Promise.all(Array.from({ length: 5 }, () => new EventReader().open(base)));
    assert.equal(watchers[0]!.status, 200);
    assert.match(watchers[0]!.contentType, /^text\/event-stream/);
    for (const w of watchers) assert.equal((await w.next<{ id: number; status: string }>((e) => e.id === id)).status, 'running');
    assert.equal(await gauge('herald_api_event_streams'), 5);
    assert.equal(await gauge('herald_api_event_pollers'), 1, 'one poller for five watchers');

    const seen = watchers.map((w) => w.events.length);
    const pausedAt = Date.now();
    assert.equal((await call<{ status: string }>(server.url, 'POST', `/api/v1/campaigns/${id}/pause`)).body.status, 'paused');
    for (const [i, w] of watchers.entries()) await w.next<{ status: string }>((e) => e.status === 'paused', seen[i]);
    assert.ok(Date.now() - pausedAt < 1000, `pushed at once after the write (${Date.now() - pausedAt} ms)`);

    // Unchanged answers are not sent again; the poller still reads every second (through the
    // cache, whose 60 s lifetime in this test answers it without a query).
    const count = watchers[0]!.events.length;
    const before = await campaignReads();
    await sleep(2500);
    assert.equal(watchers[0]!.events.length, count, 'nothing changed, nothing sent');
    assert.ok((await campaignReads()) >= before + 2, 'the poller kept reading');

    await Promise.all(watchers.slice(0, 4).map((w) => w.close()));
    await waitFor('4 streams closed', async () => (await gauge('herald_api_event_streams')) === 1);
    assert.equal(await gauge('herald_api_event_pollers'), 1, 'the last watcher still has its poller');
    await watchers[4]!.close();
    await waitFor('the poller to stop', async () => (await gauge('herald_api_event_pollers')) === 0);
    assert.equal(await gauge('herald_api_event_streams'), 0);
    const stopped = [counted.queries(), await campaignReads()];
    await sleep(2500);
    assert.deepEqual([counted.queries(), await campaignReads()], stopped, 'no read after the last watcher left');
  });

  it('streams the campaign list, with a new campaign at once; refuses what a GET refuses', async () => {
    const list = await new EventReader().open(`${server.url}/api/v1/campaigns/events`);
    assert.equal(list.status, 200);
    await list.next<{ items: unknown[] }>((e) => Array.isArray(e.items));
    const seen = list.events.length;
    const res = await request(`${server.url}/api/v1/campaigns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'brand new', list: 'watched', template: 'spring-sale', subject: 'Hi', from: 'shop@example.org' }),
    });
    assert.equal(res.statusCode, 201, await res.body.text());
    await list.next<{ items: Array<{ name: string }> }>((e) => e.items[0]?.name === 'brand new', seen, 1500);
    await list.close();

    assert.equal((await new EventReader().open(`${server.url}/api/v1/campaigns/999999/events`)).status, 404);
    assert.equal((await new EventReader().open(`${server.url}/api/v1/campaigns/abc/events`)).status, 400);
    assert.equal((await new EventReader().open(`${server.url}/api/v1/campaigns/1/events`, null)).status, 401);
    assert.equal((await new EventReader().open(`${server.url}/api/v1/campaigns/events`, 'wrong')).status, 401);
    await waitFor('no poller left', async () => (await gauge('herald_api_event_pollers')) === 0);

    const spec = await request(`${server.url}/openapi.json`);
    const paths = ((await spec.body.json()) as { paths: Record<string, { get?: { parameters?: Array<{ name: string }> } }> }).paths;
    assert.deepEqual(
      paths['/api/v1/campaigns/{id}/events']?.get?.parameters?.map((p) => p.name),
      ['id'],
    );
    assert.ok(paths['/api/v1/campaigns/events']?.get);
  });

  it('closes open streams when the server closes', async () => {
    const id = await seedCampaign(db.kysely, listId, { status: 'draft' });
    const m = new Metrics();
    const other = await start('1000', m);
    const reader = await new EventReader().open(`${other.url}/api/v1/campaigns/${id}/events`);
    await reader.next<{ id: number }>((e) => e.id === id);
    await other.close();
    await reader.done;
    const text = await m.exposition();
    assert.match(text, /^herald_api_event_pollers 0$/m);
  });
});
