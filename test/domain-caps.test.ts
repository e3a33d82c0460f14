import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { getCampaignOrThrow } from '../src/campaigns/control.js';
import { campaignStatusReport, formatStatus } from '../src/campaigns/status.js';
import { openSendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { formatDeliveryId } from '../src/domain/deliveryId.js';
import { createLogger } from '../src/config/log.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { addSendingDomain } from '../src/sql/addSendingDomain.js';
import { domainUsage } from '../src/sql/domainUsage.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';

const DOMAIN = 'caps.example.test';

/** A clock the test moves by hand: "the next day" is a single assignment. */
class TestClock {
  constructor(private current: Date) {}
  now = (): Date => this.current;
  set(iso: string): void {
    this.current = new Date(iso);
  }
}

describe(`sending domains: daily caps and warm-up ramps (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  before(async () => {
    db = await openTestDb();
    // The mock accepts only the campaign's domain: messages must go out through it.
    mock = await startMockProcess(['--latency', '2', '--record', 'counts', '--domain', DOMAIN]);
  });
  after(async () => {
    await mock?.stop();
    await db?.dispose();
  });

  async function totalSent(ids: number[]): Promise<number> {
    let sent = 0;
    for (const id of ids) sent += (await countDeliveries(db.kysely, id)).sent;
    return sent;
  }

  /**
   * Waits until `expected` messages went out and every campaign has stopped at the cap (or
   * finished), then a little longer so that an overshoot would show.
   */
  async function settle(ids: number[], expected: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if ((await totalSent(ids)) < expected) {
        assert.ok(Date.now() < deadline, `only ${await totalSent(ids)} of ${expected} sent`);
        await sleep(50);
        continue;
      }
      const rows = await db.kysely.selectFrom('campaigns').select(['status', 'waiting_reason']).where('id', 'in', ids).execute();
      const open = await db.kysely
        .selectFrom('deliveries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('campaign_id', 'in', ids)
        .where('status', 'in', ['queued', 'pending'])
        .executeTakeFirstOrThrow();
      if (Number(open.n) === 0 && rows.every((r) => r.status === 'finished' || r.waiting_reason === 'daily_cap')) break;
      assert.ok(Date.now() < deadline, `campaigns did not settle: ${JSON.stringify(rows)}`);
      await sleep(50);
    }
    // Nothing more may trickle out while the cap holds.
    await sleep(400);
  }

  it('sends exactly the cap on day one across two campaigns, says why it waits, and resumes the next day without duplicates or gaps', async () => {
    const cap = 250;
    await addSendingDomain(db.kysely, DOMAIN, { dailyCap: cap, resetHour: 6, timeZone: 'America/New_York' });
    const a = await seedList(db.kysely, 'cap-a', 300);
    const b = await seedList(db.kysely, 'cap-b', 300);
    const ids = [await seedCampaign(db.kysely, a.listId, { domain: DOMAIN }), await seedCampaign(db.kysely, b.listId, { domain: DOMAIN })];

    // 15:00 in New York on 7 March 2026; the clocks go forward that night.
    const clock = new TestClock(new Date('2026-03-07T20:00:00Z'));
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url });
    const stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 50, clock: clock.now, capRecheckMs: 50 });
    const running = stack.worker.runCampaigns((c) => ids.includes(c.id), true);
    try {
      await settle(ids, cap);
      assert.equal(await totalSent(ids), cap, 'day one: exactly the cap, both campaigns together');
      assert.equal(await domainUsage(db.kysely, DOMAIN, '2026-03-07'), cap);

      const report = await campaignStatusReport(db, await getCampaignOrThrow(db, ids[0]!));
      assert.equal(report.status, 'running');
      // 06:00 on 8 March in New York is already daylight time (UTC-4).
      assert.deepEqual(report.waiting, { reason: 'daily_cap', until: '2026-03-08T10:00:00.000Z' });
      assert.match(formatStatus(report), /waiting: daily cap of caps\.example\.test reached; continues until 2026-03-08T10:00:00\.000Z/);
      // What `campaign start --wait` shows beside its progress bar.
      assert.deepEqual(stack.worker.waitingUntil(ids[0]!), new Date('2026-03-08T10:00:00Z'));

      clock.set('2026-03-08T09:59:59Z');
      await sleep(300);
      assert.equal(await totalSent(ids), cap, 'still day one a second before the reset');

      clock.set('2026-03-08T10:00:00Z');
      await settle(ids, 2 * cap);
      assert.equal(await totalSent(ids), 2 * cap, 'day two: the cap again');

      clock.set('2026-03-09T10:30:00Z');
      await settle(ids, 600);
      assert.equal(await totalSent(ids), 600, 'day three: the rest');
    } finally {
      await stack.close();
      await running;
    }

    for (const id of ids) {
      const campaign = await db.kysely.selectFrom('campaigns').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(campaign.status, 'finished');
      assert.equal(campaign.waiting_reason, null);
    }
    const accepted = await mock.deliveries();
    assert.equal(Object.keys(accepted).length, 600);
    for (const [id, list] of [
      [ids[0]!, a],
      [ids[1]!, b],
    ] as const) {
      for (const r of list.recipientIds) assert.equal(accepted[formatDeliveryId(id, r)], 1, `recipient ${r} of campaign ${id}`);
    }
    assert.deepEqual(
      [
        await domainUsage(db.kysely, DOMAIN, '2026-03-07'),
        await domainUsage(db.kysely, DOMAIN, '2026-03-08'),
        await domainUsage(db.kysely, DOMAIN, '2026-03-09'),
      ],
      [250, 250, 100],
    );
  });

  it('follows a warm-up ramp day by day, then the daily cap', async () => {
    const domain = `ramp.${DOMAIN}`;
    await addSendingDomain(db.kysely, domain, { dailyCap: 250, warmup: { start: '2026-05-01', caps: [100, 200] } });
    await mock.stop();
    mock = await startMockProcess(['--latency', '2', '--record', 'counts', '--domain', domain]);
    const list = await seedList(db.kysely, 'ramp', 600);
    const id = await seedCampaign(db.kysely, list.listId, { domain });

    const clock = new TestClock(new Date('2026-05-01T12:00:00Z'));
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url });
    const stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 50, clock: clock.now, capRecheckMs: 50 });
    const running = stack.worker.runCampaigns((c) => c.id === id, true);
    const perDay: number[] = [];
    try {
      const totals = [100, 300, 550, 600];
      for (const [i, day] of ['2026-05-01', '2026-05-02', '2026-05-03', '2026-05-04'].entries()) {
        clock.set(`${day}T12:00:00Z`);
        await settle([id], totals[i]!);
        perDay.push((await totalSent([id])) - perDay.reduce((x, y) => x + y, 0));
      }
    } finally {
      await stack.close();
      await running;
    }
    assert.deepEqual(perDay, [100, 200, 250, 50]);
    const accepted = await mock.deliveries();
    assert.equal(Object.keys(accepted).length, 600);
    for (const count of Object.values(accepted)) assert.equal(count, 1);
  });
});
