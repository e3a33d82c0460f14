import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createLogger } from '../src/config/log.js';
import { foldOutcome, NO_OUTCOME, standingOf, type OutcomeEvent } from '../src/domain/outcome.js';
import { EventIngester } from '../src/events/ingester.js';
import { recordEvents, type IncomingEvent } from '../src/events/recordEvents.js';
import { recountKeptCounts } from '../src/sql/recountKeptCounts.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';

/** A small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const at = (s: number) => new Date(Date.UTC(2026, 11, 5, 10, 0, s));

describe('the outcome fold (pure)', () => {
  const events: OutcomeEvent[] = [
    { id: 'a', type: 'delivered', at: at(10) },
    { id: 'b', type: 'failed', at: at(5), severity: 'temporary', reason: 'generic', code: 421 },
    { id: 'c', type: 'opened', at: at(30) },
    { id: 'd', type: 'opened', at: at(20) },
    { id: 'e', type: 'clicked', at: at(40), url: 'https://shop.example/a' },
    { id: 'f', type: 'failed', at: at(50), severity: 'permanent', reason: 'bounce', code: 550 },
    { id: 'g', type: 'complained', at: at(60) },
    { id: 'h', type: 'unsubscribed', at: at(70) },
    { id: 'i', type: 'failed', at: at(50), severity: 'permanent', reason: 'other', code: 551 },
  ];

  it('gives the same outcome whatever the order and however the events are batched', () => {
    const expected = foldOutcome(NO_OUTCOME, events);
    const rnd = random(Number(process.env.HERALD_FUZZ_SEED ?? 7));
    for (let round = 0; round < 200; round++) {
      const shuffled = [...events].sort(() => rnd() - 0.5);
      let state = NO_OUTCOME;
      for (let i = 0; i < shuffled.length; ) {
        const size = 1 + Math.floor(rnd() * 3);
        state = foldOutcome(state, shuffled.slice(i, i + size));
        i += size;
      }
      assert.deepEqual(state, expected, `order ${shuffled.map((e) => e.id).join('')}`);
    }
    assert.equal(expected.deliveredAt?.getTime(), at(10).getTime());
    assert.equal(expected.firstOpenAt?.getTime(), at(20).getTime());
    assert.equal(expected.lastOpenAt?.getTime(), at(30).getTime());
    assert.equal(expected.lastClickAt?.getTime(), at(40).getTime());
    assert.equal(expected.opens, 2);
    assert.equal(expected.clicks, 1);
    // Two permanent failures at the same moment: the larger event id decides, in any order.
    assert.equal(expected.failure?.eventId, 'i');
    assert.equal(standingOf(expected), 'bounced_hard');
  });

  it('lets a delivery undo a temporary failure, never a permanent one', () => {
    const soft = foldOutcome(NO_OUTCOME, [{ id: 'x', type: 'failed', at: at(1), severity: 'temporary' }]);
    assert.equal(standingOf(soft), 'bounced_soft');
    assert.equal(standingOf(foldOutcome(soft, [{ id: 'y', type: 'delivered', at: at(2) }])), 'delivered');
    const hard = foldOutcome(NO_OUTCOME, [{ id: 'z', type: 'failed', at: at(1), severity: 'permanent' }]);
    assert.equal(standingOf(foldOutcome(hard, [{ id: 'w', type: 'delivered', at: at(9) }])), 'bounced_hard');
    assert.equal(standingOf(NO_OUTCOME), 'accepted');
  });
});

describe(`recording provider events (${dbLabel})`, () => {
  let db: TestDb;
  let campaignId: number;
  let recipientIds: number[];
  before(async () => {
    db = await openTestDb();
    const list = await seedList(db.kysely, 'events', 50);
    recipientIds = list.recipientIds;
    campaignId = await seedCampaign(db.kysely, list.listId, { status: 'running' });
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts, sent_at)
      select ${campaignId}, recipient_id, 'sent', 1, ${at(0).toISOString()}::timestamptz from list_members where list_id = ${list.listId}
    `.execute(db.kysely);
  });
  after(async () => {
    await db?.dispose();
  });

  const incoming = (i: number, e: Partial<IncomingEvent> & { id: string; type: string }, source: 'webhook' | 'log' = 'log'): IncomingEvent => ({
    at: at(i),
    delivery: { campaignId, recipientId: recipientIds[i % recipientIds.length]! },
    deliveryText: `${campaignId}.${recipientIds[i % recipientIds.length]}`,
    payload: JSON.stringify({ id: e.id, event: e.type }),
    source,
    ...e,
  });

  async function outcomeRow(recipientId: number) {
    return db.kysely
      .selectFrom('delivery_outcomes')
      .selectAll()
      .where('campaign_id', '=', campaignId)
      .where('recipient_id', '=', recipientId)
      .executeTakeFirst();
  }
  async function funnel(): Promise<Record<string, number>> {
    const rows = await sql<{ reason: string; n: number }>`
      select reason, sum(n)::int as n from (
        select reason, n from delivery_counts where campaign_id = ${campaignId} and status = 'outcome'
        union all select reason, n from delivery_count_changes where campaign_id = ${campaignId} and status = 'outcome'
      ) k group by reason having sum(n) <> 0
    `.execute(db.kysely);
    return Object.fromEntries(rows.rows.map((r) => [r.reason, r.n]));
  }

  it('stores each event once, folds it into its delivery, and keeps unknown ones aside', async () => {
    const batch: IncomingEvent[] = [
      incoming(0, { id: 'e1', type: 'delivered' }),
      incoming(0, { id: 'e2', type: 'opened', at: at(40) }),
      incoming(0, { id: 'e3', type: 'opened', at: at(30) }),
      incoming(0, { id: 'e4', type: 'clicked', url: 'https://shop.example/a', at: at(50) }),
      incoming(0, { id: 'e5', type: 'clicked', url: 'https://shop.example/a', at: at(55) }),
      incoming(1, { id: 'e6', type: 'failed', severity: 'permanent', reason: 'bounce', code: 550 }),
      incoming(1, { id: 'e7', type: 'delivered', at: at(90) }),
      incoming(2, { id: 'e8', type: 'failed', severity: 'temporary', reason: 'generic', code: 421 }),
      { ...incoming(3, { id: 'e9', type: 'delivered' }), delivery: { campaignId: 999, recipientId: 1 }, deliveryText: '999.1' },
      { ...incoming(3, { id: 'e10', type: 'opened' }), delivery: null, deliveryText: null },
      incoming(0, { id: 'e1', type: 'delivered' }),
    ];
    const statuses = await recordEvents(db.kysely, batch);
    assert.deepEqual(statuses, [
      'recorded',
      'recorded',
      'recorded',
      'recorded',
      'recorded',
      'recorded',
      'recorded',
      'recorded',
      'unmatched',
      'unmatched',
      'duplicate',
    ]);
    const first = await outcomeRow(recipientIds[0]!);
    assert.equal(first?.standing, 'delivered');
    assert.equal(first?.opens, 2);
    assert.equal(first?.first_open_at?.getTime(), at(30).getTime());
    assert.equal(first?.last_open_at?.getTime(), at(40).getTime());
    assert.equal(first?.clicks, 2);
    assert.equal(first?.last_click_at?.getTime(), at(55).getTime());
    const second = await outcomeRow(recipientIds[1]!);
    assert.equal(second?.standing, 'bounced_hard', 'a late delivered does not undo a permanent failure');
    assert.equal(second?.failure_code, 550);
    assert.equal((await outcomeRow(recipientIds[2]!))?.standing, 'bounced_soft');
    const unmatched = await db.kysely.selectFrom('unmatched_events').select(['id', 'delivery']).orderBy('id').execute();
    assert.deepEqual(unmatched, [
      { id: 'e10', delivery: null },
      { id: 'e9', delivery: '999.1' },
    ]);
    const suppressed = await db.kysely.selectFrom('suppressions').select(['email', 'reason']).execute();
    assert.deepEqual(suppressed, [{ email: 'events-user2@example.test', reason: 'bounced' }]);
    assert.deepEqual(await funnel(), { delivered: 1, bounced_hard: 1, bounced_soft: 1, opened: 1, clicked: 1 });
    assert.deepEqual(await recountKeptCounts(db.kysely, { fix: false }), []);

    // The same events again, in another order and other batches: nothing changes twice.
    const again = await recordEvents(db.kysely, [...batch].reverse());
    assert.ok(again.every((s) => s === 'duplicate' || s === 'unmatched'));
    assert.equal((await outcomeRow(recipientIds[0]!))?.opens, 2);
    assert.deepEqual(await funnel(), { delivered: 1, bounced_hard: 1, bounced_soft: 1, opened: 1, clicked: 1 });
    const links = await sql<{ status: string; reason: string; n: number }>`
      select status, reason, sum(n)::int as n from (
        select status, reason, n from delivery_counts where campaign_id = ${campaignId}
        union all select status, reason, n from delivery_count_changes where campaign_id = ${campaignId}
      ) k where status like 'link_%' group by 1, 2 order by 1
    `.execute(db.kysely);
    assert.deepEqual(links.rows, [
      { status: 'link_clicks', reason: 'https://shop.example/a', n: 2 },
      { status: 'link_unique_clicks', reason: 'https://shop.example/a', n: 1 },
    ]);
    assert.deepEqual(await recountKeptCounts(db.kysely, { fix: false }), []);
  });

  it('refuses a replayed webhook token, and answers each waiting webhook from one batched transaction', async () => {
    const ingester = new EventIngester(db.kysely, createLogger('silent'), { maxBatch: 100, maxWaitMs: 20, maxQueued: 1000 });
    try {
      const events = Array.from({ length: 60 }, (_, i) =>
        incoming(10 + (i % 30), { id: `w${i}`, type: i % 2 ? 'opened' : 'delivered', token: `t${i}` }, 'webhook'),
      );
      const statuses = await Promise.all(events.map((e) => ingester.submit(e)));
      assert.ok(statuses.every((s) => s === 'recorded'));
      const replay = await ingester.submit({ ...events[0]!, id: 'other-id' });
      assert.equal(replay, 'replayed');
    } finally {
      await ingester.close();
    }
    assert.deepEqual(await recountKeptCounts(db.kysely, { fix: false }), []);
  });
});
