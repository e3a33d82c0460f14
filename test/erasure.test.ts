import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { request } from 'undici';
import { openSendingStack } from '../src/app/sendingStack.js';
import { eraseRecipient } from '../src/campaigns/erasure.js';
import { formatHistory, recipientHistoryView } from '../src/campaigns/history.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { formatDeliveryId } from '../src/domain/deliveryId.js';
import { signUnsubscribeToken } from '../src/domain/unsubscribeToken.js';
import { recordEvents, type IncomingEvent } from '../src/events/recordEvents.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { importRecipients } from '../src/import/importRecipients.js';
import { SendBacklog, type OutgoingMessage } from '../src/sender/send/backlog.js';
import { BoundedQueue } from '../src/sender/queue.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { foldDeliveryCounts } from '../src/sql/foldDeliveryCounts.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';
import { serverOptions } from './support/server.js';

const TOKEN = 'erasure-test-token';
const SECRET = 'erasure-unsubscribe-secret';

/**
 * Every place in the database where `pattern` (a case-insensitive regular expression) occurs:
 * each text, character, JSON and array column of every table, as text.
 */
async function occurrences(db: TestDb, pattern: string): Promise<string[]> {
  const columns = await sql<{ table_name: string; column_name: string }>`
    select c.table_name, c.column_name
    from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
    where c.table_schema = current_schema()
      and (c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'USER-DEFINED'))
  `.execute(db.kysely);
  assert.ok(columns.rows.length > 20, 'the scan found the text columns');
  const found: string[] = [];
  for (const { table_name, column_name } of columns.rows) {
    const n = await sql<{ n: number }>`
      select count(*) as n from ${sql.table(table_name)} where ${sql.ref(column_name)}::text ~* ${pattern}
    `.execute(db.kysely);
    if (Number(n.rows[0]!.n) > 0) found.push(`${table_name}.${column_name}`);
  }
  return found;
}

const event = (over: Partial<IncomingEvent> & Pick<IncomingEvent, 'id' | 'type'>): IncomingEvent => ({
  at: new Date(),
  delivery: null,
  deliveryText: null,
  payload: '{}',
  source: 'webhook',
  ...over,
});

describe(`erasing a person (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  let server: RunningServer;
  let config: ReturnType<typeof loadConfig>;
  let dir: string;

  const call = async <T = Record<string, unknown>>(method: string, url: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await request(`${server.url}${url}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text) as T };
  };
  const runToEnd = async (campaignId: number): Promise<void> => {
    const stack = await openSendingStack(config, db, createLogger('warn'), { concurrency: 10, batchSize: 50 });
    try {
      await stack.worker.runCampaigns((c) => c.id === campaignId, false);
    } finally {
      await stack.close();
    }
  };
  const idOf = async (email: string): Promise<number> =>
    (await sql<{ id: number }>`select id from recipients where lower(email) = lower(${email})`.execute(db.kysely)).rows[0]!.id;
  const linkClicks = async (campaignId: number): Promise<number> =>
    Number(
      (
        await sql<{ n: string | null }>`
          select sum(n) as n from (
            select n from delivery_counts where campaign_id = ${campaignId} and status = 'link_clicks'
            union all select n from delivery_count_changes where campaign_id = ${campaignId} and status = 'link_clicks'
          ) k
        `.execute(db.kysely)
      ).rows[0]!.n ?? 0,
    );

  before(async () => {
    db = await openTestDb();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-erasure-'));
    mock = await startMockProcess(['--latency', '5', '--record', 'counts']);
    config = loadConfig({
      ...process.env,
      MAILGUN_API_KEY: MOCK_KEY,
      MAILGUN_DOMAIN: MOCK_DOMAIN,
      MAILGUN_BASE_URL: mock.url,
      HERALD_API_TOKEN: TOKEN,
      HERALD_SECRET: SECRET,
    });
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config, unsubscribeSecret: SECRET }));
  });
  after(async () => {
    await server?.close();
    await mock?.stop();
    await db?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('leaves no address, name, attribute or payload of theirs in any column, and every count as it was', async () => {
    for (const name of ['people', 'vip']) assert.equal((await call('POST', '/api/v1/lists', { name })).status, 201);
    const added = await call('POST', '/api/v1/recipients', [
      { email: 'ann@example.org', name: 'Ann', lists: ['people'] },
      { email: 'Bob.Stone@Example.org', name: 'Bob Stonewright', attributes: { plan: 'pro', city: 'Quagmire-on-Sea' }, lists: ['people', 'vip'] },
      { email: 'carl@example.org', name: 'Carl', lists: ['people'] },
    ]);
    assert.equal(added.status, 200);
    const listId = (await sql<{ id: number }>`select id from lists where name = 'people'`.execute(db.kysely)).rows[0]!.id;
    const campaignId = await seedCampaign(db.kysely, listId);
    await runToEnd(campaignId);
    const bob = await idOf('bob.stone@example.org');
    const delivery = { campaignId, recipientId: bob };
    const deliveryText = formatDeliveryId(campaignId, bob);
    const envelope = (type: string) =>
      JSON.stringify({ event: type, recipient: 'Bob.Stone@Example.org', message: { headers: { to: 'Bob Stonewright <bob.stone@example.org>' } } });

    // What the provider and the mail client say about Bob, as webhooks store it.
    await recordEvents(db.kysely, [
      event({ id: 'ev-delivered', type: 'delivered', delivery, deliveryText, payload: envelope('delivered') }),
      event({ id: 'ev-open', type: 'opened', delivery, deliveryText, payload: envelope('opened') }),
      event({
        id: 'ev-click-1',
        type: 'clicked',
        delivery,
        deliveryText,
        url: 'https://shop.example/welcome?u=bob.stone%40example.org',
        payload: envelope('clicked'),
      }),
      event({
        id: 'ev-stray',
        type: 'delivered',
        payload: JSON.stringify({ recipient: 'bob.stone@example.org', note: 'for a delivery Herald does not know' }),
      }),
    ]);
    await foldDeliveryCounts(db.kysely);
    await recordEvents(db.kysely, [
      event({ id: 'ev-click-2', type: 'clicked', delivery, deliveryText, url: 'https://shop.example/p?e=Bob.Stone@example.org', payload: envelope('clicked') }),
      event({ id: 'ev-unsub', type: 'unsubscribed', delivery, deliveryText, payload: envelope('unsubscribed') }),
    ]);
    // Text a provider sent back about an earlier attempt names the address too.
    await sql`update deliveries set error_message = 'earlier: 452 bob.stone@example.org over quota' where campaign_id = ${campaignId} and recipient_id = ${bob}`.execute(
      db.kysely,
    );
    await sql`
      insert into delivery_attempts (campaign_id, recipient_id, status, attempts, error_code, error_message)
      values (${campaignId}, ${bob}, 'failed', 1, 'mailbox_full', 'mailbox of bob.stone@example.org is full')
    `.execute(db.kysely);
    assert.equal(
      (await sql<{ reason: string }>`select reason from suppressions where email = 'bob.stone@example.org'`.execute(db.kysely)).rows[0]?.reason,
      'unsubscribed',
    );
    const before = { counts: await countDeliveries(db.kysely, campaignId), clicks: await linkClicks(campaignId) };
    assert.equal(before.counts.sent, 3, JSON.stringify(before.counts));
    assert.equal(before.clicks, 2);
    for (const pattern of ['bob\\.stone@example\\.org', 'bob\\.stone%40example\\.org', 'Stonewright', 'Quagmire']) {
      assert.ok((await occurrences(db, pattern)).length > 0, `the database holds ${pattern} before`);
    }

    const erased = await call<Record<string, unknown>>('DELETE', `/api/v1/recipients/${encodeURIComponent('BOB.stone@example.org')}`);
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    assert.equal(erased.body.erased, true);
    assert.deepEqual(erased.body.lists, ['people', 'vip']);
    assert.equal(erased.body.suppression, 'unsubscribed');
    assert.deepEqual(erased.body.campaigns, [{ campaignId, status: 'sent', errorCode: null }]);
    assert.deepEqual(erased.body.stillClaimed, []);
    assert.equal(erased.body.unmatchedEventsDeleted, 1);

    for (const pattern of ['bob\\.stone@example\\.org', 'bob\\.stone%40example\\.org', 'Stonewright', 'Quagmire']) {
      assert.deepEqual(await occurrences(db, pattern), [], `nothing holds ${pattern}`);
    }
    // The rows and every count stay: the person is a tombstone their deliveries still point at.
    assert.deepEqual(await countDeliveries(db.kysely, campaignId), before.counts);
    assert.equal(await linkClicks(campaignId), before.clicks);
    await foldDeliveryCounts(db.kysely);
    assert.equal(await linkClicks(campaignId), before.clicks);
    const tomb = (await sql<Record<string, unknown>>`select email, name, attributes, erased_at from recipients where id = ${bob}`.execute(db.kysely)).rows[0]!;
    assert.deepEqual([tomb.email, tomb.name, tomb.attributes], [`erased:${bob}`, null, {}]);
    assert.ok(tomb.erased_at instanceof Date);
    assert.equal(Number((await sql<{ n: number }>`select count(*) as n from delivery_events where recipient_id = ${bob}`.execute(db.kysely)).rows[0]!.n), 5);
    const lists = await sql<{ name: string; member_count: number; real: number }>`
      select name, member_count, (select count(*) from list_members m where m.list_id = l.id) as real from lists l order by name
    `.execute(db.kysely);
    assert.deepEqual(
      lists.rows.map((l) => [l.name, Number(l.member_count), Number(l.real)]),
      [
        ['people', 2, 2],
        ['vip', 0, 0],
      ],
    );

    // Asked about, they are "erased" and nothing else.
    const shown = await call('GET', '/api/v1/recipients/bob.stone@example.org');
    assert.deepEqual(shown.body, { email: 'bob.stone@example.org', erased: true });
    assert.equal(formatHistory(await recipientHistoryView(db, 'Bob.Stone@example.org')), 'erased');
    const again = await call<{ erased: boolean }>('DELETE', '/api/v1/recipients/bob.stone@example.org');
    assert.deepEqual([again.status, again.body.erased], [200, false]);

    // A late event about them is counted, and keeps nothing of theirs.
    await recordEvents(db.kysely, [
      event({
        id: 'ev-late-click',
        type: 'clicked',
        delivery,
        deliveryText,
        url: 'https://shop.example/x?u=bob.stone@example.org',
        payload: envelope('clicked'),
      }),
      event({ id: 'ev-late-complaint', type: 'complained', delivery, deliveryText, payload: envelope('complained') }),
    ]);
    assert.deepEqual(await occurrences(db, 'bob\\.stone'), []);
    const outcome = (
      await sql<{ clicks: number; complained_at: Date | null }>`select clicks, complained_at from delivery_outcomes where recipient_id = ${bob}`.execute(
        db.kysely,
      )
    ).rows[0]!;
    assert.equal(outcome.clicks, 3);
    assert.ok(outcome.complained_at);

    // They are not stored again, by API or import, until readmitted; their suppression comes back then.
    const refused = await call<{ error: string }>('POST', '/api/v1/recipients', { email: 'bob.stone@example.org', lists: ['people'] });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error, /email: this address was erased on \d{4}-\d{2}-\d{2}/);
    const csv = path.join(dir, 'again.csv');
    fs.writeFileSync(csv, 'email,name\nann@example.org,Ann\n BOB.STONE@example.org ,Bob\ndan@example.org,Dan\n');
    const imported = await importRecipients(db, csv, { listId, rejectsPath: path.join(dir, 'again.rejects.csv') });
    assert.equal(imported.imported, 1);
    assert.equal(imported.rejected, 1);
    assert.match(fs.readFileSync(path.join(dir, 'again.rejects.csv'), 'utf8'), /^3,.*address was erased/m);
    assert.deepEqual(await occurrences(db, 'bob\\.stone'), []);
    const readmitted = await call<{ suppressed: string }>('POST', '/api/v1/recipients/bob.stone@example.org/readmit');
    assert.deepEqual([readmitted.status, readmitted.body.suppressed], [200, 'unsubscribed']);
    assert.equal(
      (await sql<{ reason: string }>`select reason from suppressions where email = 'bob.stone@example.org'`.execute(db.kysely)).rows[0]?.reason,
      'unsubscribed',
    );
    assert.equal((await call<{ created: number }>('POST', '/api/v1/recipients', { email: 'bob.stone@example.org' })).body.created, 1);
    assert.equal((await call('POST', '/api/v1/recipients/nobody@example.org/readmit')).status, 404);
    assert.equal((await call('DELETE', '/api/v1/recipients/nobody@example.org')).status, 404);

    // Carl was never suppressed; an unsubscribe through an old link after his erasure is kept
    // for his erased address, not as his address.
    const carl = await idOf('carl@example.org');
    assert.equal((await call<{ suppression: null }>('DELETE', '/api/v1/recipients/carl@example.org')).body.suppression, null);
    const token = signUnsubscribeToken({ campaignId, recipientId: carl, email: 'carl@example.org' }, SECRET);
    const res = await request(`${server.url}/u/${token}`, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.statusCode, 200);
    await res.body.text();
    assert.deepEqual(await occurrences(db, 'carl@example'), []);
    const kept = await sql<{ suppression_reason: string }>`select suppression_reason from erased_addresses where recipient_id = ${carl}`.execute(db.kysely);
    assert.equal(kept.rows[0]?.suppression_reason, 'unsubscribed');
  });

  it('never sends to someone erased mid-campaign: neither a claim already held by the worker nor a later one', async () => {
    const { listId, recipientIds } = await seedList(db.kysely, 'mid', 600);
    // 50/s: the campaign takes seconds, and the worker holds a few hundred claims meanwhile.
    const campaignId = await seedCampaign(db.kysely, listId, { rate: 50 });
    const stack = await openSendingStack(config, db, createLogger('warn'), { concurrency: 20, batchSize: 100 });
    let held: number;
    let later: number;
    try {
      const running = stack.worker.runCampaigns((c) => c.id === campaignId, false);
      while ((await countDeliveries(db.kysely, campaignId)).sent < 10) await sleep(25);
      // The last claim the worker holds (waiting to be rendered or sent), and one not claimed yet.
      held = (
        await sql<{ recipient_id: number }>`
          select recipient_id from deliveries where campaign_id = ${campaignId} and status = 'queued' order by recipient_id desc limit 1
        `.execute(db.kysely)
      ).rows[0]!.recipient_id;
      later = recipientIds[595]!;
      assert.equal(
        (await sql`select 1 from deliveries where campaign_id = ${campaignId} and recipient_id = ${later}`.execute(db.kysely)).rows.length,
        0,
        'the later one is not claimed yet',
      );
      assert.equal((await mock.deliveries())[formatDeliveryId(campaignId, held)], undefined, 'the held one is not sent yet');
      const emailOf = async (id: number) => (await sql<{ email: string }>`select email from recipients where id = ${id}`.execute(db.kysely)).rows[0]!.email;
      const [heldEmail, laterEmail] = [await emailOf(held), await emailOf(later)];

      // The one not claimed yet first: nothing of it is held anywhere, so it is over at once.
      const laterReport = await eraseRecipient(db, laterEmail);
      assert.deepEqual(laterReport.stillClaimed, []);
      const started = Date.now();
      const heldReport = await eraseRecipient(db, heldEmail, { waitMs: 20_000 });
      assert.deepEqual(heldReport.campaigns, [{ campaignId, status: 'skipped', errorCode: 'erased' }], 'the worker dropped its claim');
      assert.deepEqual(heldReport.stillClaimed, []);
      assert.ok(Date.now() - started < 5000, 'the worker settled the claim at once, not when its turn came');
      assert.ok((await countDeliveries(db.kysely, campaignId)).sent < 500, 'the campaign was still running');
      await running;
    } finally {
      await stack.close();
    }
    const accepted = await mock.deliveries();
    assert.equal(accepted[formatDeliveryId(campaignId, held)], undefined, 'the held claim was never sent');
    assert.equal(accepted[formatDeliveryId(campaignId, later)], undefined, 'the later one was never sent');
    const rows = await sql<{ recipient_id: number; status: string; error_code: string | null }>`
      select recipient_id, status, error_code from deliveries where campaign_id = ${campaignId} and status <> 'sent' order by recipient_id
    `.execute(db.kysely);
    const notSent = new Map(rows.rows.map((r) => [r.recipient_id, [r.status, r.error_code]]));
    assert.deepEqual(notSent.get(held), ['skipped', 'erased']);
    // The later one left the list when erased, so a claim walking the list never meets it; a
    // claim that meets its tombstone (an audience fixed before the erasure) records it skipped.
    assert.ok(!notSent.has(later) || JSON.stringify(notSent.get(later)) === '["skipped","erased"]', `later: ${notSent.get(later)}`);
    assert.equal(notSent.size, notSent.has(later) ? 2 : 1, 'everyone else was sent');
    const counts = await countDeliveries(db.kysely, campaignId);
    assert.deepEqual([counts.sent, counts.skipped, counts.queued, counts.pending], [598, notSent.size, 0, 0]);
    assert.equal(Object.keys(accepted).filter((k) => k.startsWith(`${campaignId}.`)).length, 598);
  });

  it('takes erased recipients out of what a worker holds: render batches and messages waiting for a sender or a retry', async () => {
    const queue = new BoundedQueue<Array<{ recipientId: number }>>(4);
    await queue.put([{ recipientId: 1 }, { recipientId: 2 }]);
    await queue.put([{ recipientId: 3 }]);
    await queue.put([{ recipientId: 4 }, { recipientId: 5 }]);
    queue.rewrite((batch) => {
      const kept = batch.filter((r) => r.recipientId !== 2 && r.recipientId !== 3);
      return kept.length > 0 ? kept : null;
    });
    assert.equal(queue.size, 2);
    assert.deepEqual(await queue.take(), [{ recipientId: 1 }]);
    assert.deepEqual(await queue.take(), [{ recipientId: 4 }, { recipientId: 5 }]);

    const message = (recipientId: number): OutgoingMessage => ({
      campaignId: 1,
      recipientId,
      body: new Uint8Array(1),
      contentType: 'x',
      attempts: 0,
      failures: 0,
      batch: null,
    });
    const backlog = new SendBacklog(3);
    await backlog.put(message(1));
    await backlog.put(message(2));
    backlog.retryLater(message(3), 60_000);
    const blocked = backlog.put(message(4));
    const dropped = backlog.withdraw((m) => m.recipientId === 2 || m.recipientId === 3);
    assert.deepEqual(
      dropped.map((m) => m.recipientId),
      [2, 3],
    );
    assert.equal(await blocked, true, 'the room made lets a waiting message in');
    assert.equal(backlog.retrying, 0);
    backlog.close();
    const left: number[] = [];
    for (let m = await backlog.take(); m; m = await backlog.take()) {
      left.push(m.recipientId);
      backlog.settled();
    }
    assert.deepEqual(left, [1, 4]);
  });
});
