import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { connect, type Db } from '../src/db/connect.js';
import { claimBatch } from '../src/sql/claimBatch.js';
import { finishIfComplete } from '../src/sql/finishIfComplete.js';
import { transitionCampaign } from '../src/sql/transitionCampaign.js';
import { releaseClaims } from '../src/sql/releaseClaims.js';
import { addSendingDomain } from '../src/sql/addSendingDomain.js';
import { domainUsage } from '../src/sql/domainUsage.js';
import { writeResults } from '../src/sql/writeResults.js';
import { resolveUnknownAs } from '../src/sql/resolveUnknownAs.js';
import { expireDeadWorkers } from '../src/sql/leases/expireDeadWorkers.js';
import { registerWorker } from '../src/sql/leases/registerWorker.js';
import { dbLabel, onRealPostgres, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';

describe(`claiming recipients (${dbLabel})`, () => {
  let db: TestDb;
  before(async () => {
    db = await openTestDb();
  });
  after(() => db.dispose());

  it('claims keyset pages in recipient order, records suppressed addresses, and ends exhausted', async () => {
    const { listId, recipientIds } = await seedList(db.kysely, 'pages', 25);
    await db.kysely
      .insertInto('suppressions')
      .values({ email: 'pages-user3@example.test', reason: 'unsubscribed', source: 'test', campaign_id: null })
      .execute();
    const campaignId = await seedCampaign(db.kysely, listId);
    const seen: number[] = [];
    let suppressed = 0;
    for (;;) {
      const claim = await claimBatch(db.kysely, campaignId, 'w1', 10);
      if (claim.state !== 'claimed') {
        assert.equal(claim.state, 'exhausted');
        break;
      }
      seen.push(...claim.recipients.map((r) => r.recipientId));
      suppressed += claim.suppressed;
    }
    assert.equal(suppressed, 1);
    assert.deepEqual(
      seen,
      recipientIds.filter((_, i) => i !== 2),
    );
    const rows = await db.kysely.selectFrom('deliveries').select(['status']).where('campaign_id', '=', campaignId).execute();
    assert.equal(rows.length, 25);
    assert.equal(rows.filter((r) => r.status === 'suppressed').length, 1);
  });

  it('claims nothing once the campaign is paused', async () => {
    const { listId } = await seedList(db.kysely, 'paused', 5);
    const campaignId = await seedCampaign(db.kysely, listId);
    await transitionCampaign(db.kysely, campaignId, 'pause');
    assert.deepEqual(await claimBatch(db.kysely, campaignId, 'w1', 10), { state: 'stopped' });
  });

  it('re-claims released rows first and finishes only when nothing is open', async () => {
    const { listId } = await seedList(db.kysely, 'release', 6);
    const campaignId = await seedCampaign(db.kysely, listId);
    const first = await claimBatch(db.kysely, campaignId, 'w1', 4);
    assert.equal(first.state, 'claimed');
    const ids = first.state === 'claimed' ? first.recipients.map((r) => r.recipientId) : [];
    await writeResults(db.kysely, [
      { campaignId, recipientId: ids[0]!, status: 'sent', attempts: 1, providerId: '<x>', errorCode: null, errorMessage: null, sentAt: new Date() },
    ]);
    assert.equal(await releaseClaims(db.kysely, campaignId, 'w1'), 3);
    const second = await claimBatch(db.kysely, campaignId, 'w2', 10);
    assert.equal(second.state, 'claimed');
    const again = second.state === 'claimed' ? second.recipients.map((r) => r.recipientId) : [];
    assert.deepEqual(again.slice(0, 3), ids.slice(1));
    assert.equal(again.length, 5);
    assert.equal(await finishIfComplete(db.kysely, campaignId), false);
    await writeResults(
      db.kysely,
      again.map((recipientId) => ({
        campaignId,
        recipientId,
        status: 'sent' as const,
        attempts: 1,
        providerId: '<y>',
        errorCode: null,
        errorMessage: null,
        sentAt: new Date(),
      })),
    );
    assert.equal((await claimBatch(db.kysely, campaignId, 'w2', 10)).state, 'exhausted');
    assert.equal(await finishIfComplete(db.kysely, campaignId), true);
  });

  it('takes only what is left of the domain’s daily cap, refunds released claims, and lets a drained campaign finish at the cap', async () => {
    const { listId } = await seedList(db.kysely, 'capped', 10);
    await addSendingDomain(db.kysely, 'cap.example.test', { dailyCap: 10 });
    const now = new Date('2026-06-01T12:00:00Z');
    const ctx = { domain: 'cap.example.test', now };
    const other = await seedCampaign(db.kysely, (await seedList(db.kysely, 'capped-other', 4)).listId, { domain: 'cap.example.test' });
    const first = await claimBatch(db.kysely, other, 'w1', 10, ctx);
    assert.equal(first.state === 'claimed' && first.recipients.length, 4);

    const campaignId = await seedCampaign(db.kysely, listId, { domain: 'cap.example.test' });
    const claim = await claimBatch(db.kysely, campaignId, 'w1', 10, ctx);
    assert.equal(claim.state === 'claimed' && claim.recipients.length, 6, 'the rest of the cap, not the whole page');
    assert.deepEqual(await claimBatch(db.kysely, campaignId, 'w1', 10, ctx), {
      state: 'capped',
      domain: 'cap.example.test',
      until: new Date('2026-06-02T00:00:00Z'),
    });
    assert.equal(
      (await db.kysely.selectFrom('campaigns').select('waiting_reason').where('id', '=', campaignId).executeTakeFirstOrThrow()).waiting_reason,
      'daily_cap',
    );

    assert.equal(await releaseClaims(db.kysely, campaignId, 'w1', 'cap.example.test'), 6);
    assert.equal(await domainUsage(db.kysely, 'cap.example.test', '2026-06-01'), 4, 'released claims give their quota back');
    const again = await claimBatch(db.kysely, campaignId, 'w1', 10, ctx);
    assert.equal(again.state === 'claimed' && again.recipients.length, 6);
    assert.equal(
      (await db.kysely.selectFrom('campaigns').select('waiting_reason').where('id', '=', campaignId).executeTakeFirstOrThrow()).waiting_reason,
      null,
    );

    // `other` has claimed its whole list: at the cap it is done, not waiting for tomorrow.
    assert.equal((await claimBatch(db.kysely, other, 'w1', 10, ctx)).state, 'exhausted');
  });

  it('marks the open claims of a worker whose lease expired as unknown', async () => {
    const { listId } = await seedList(db.kysely, 'lease', 3);
    const campaignId = await seedCampaign(db.kysely, listId);
    await registerWorker(db.kysely, 'dead');
    await sql`update workers set heartbeat_at = now() - interval '1 hour' where id = 'dead'`.execute(db.kysely);
    await registerWorker(db.kysely, 'alive');
    await claimBatch(db.kysely, campaignId, 'dead', 2);
    await claimBatch(db.kysely, campaignId, 'alive', 1);
    assert.ok((await expireDeadWorkers(db.kysely, 15_000)).includes(campaignId));
    const rows = await db.kysely
      .selectFrom('deliveries')
      .select(['worker_id', 'status'])
      .where('campaign_id', '=', campaignId)
      .orderBy('recipient_id')
      .execute();
    assert.deepEqual(
      rows.map((r) => r.status),
      ['unknown', 'unknown', 'queued'],
    );
  });

  it("dates an expired worker's unknown claims from its last heartbeat, so the log lookup waits for requests it may have started since the claim", async () => {
    const { listId } = await seedList(db.kysely, 'lease-age', 2);
    const campaignId = await seedCampaign(db.kysely, listId);
    await registerWorker(db.kysely, 'held');
    // Claimed two hours ago (held through an outage, say), last heard of one hour ago.
    await claimBatch(db.kysely, campaignId, 'held', 2, { now: new Date(Date.now() - 2 * 3600_000) });
    await sql`update workers set heartbeat_at = now() - interval '1 hour' where id = 'held'`.execute(db.kysely);
    const beat = (await db.kysely.selectFrom('workers').select('heartbeat_at').where('id', '=', 'held').executeTakeFirstOrThrow()).heartbeat_at;
    await expireDeadWorkers(db.kysely, 15_000);
    const rows = await db.kysely.selectFrom('deliveries').select(['status', 'claimed_at']).where('campaign_id', '=', campaignId).execute();
    for (const r of rows) {
      assert.equal(r.status, 'unknown');
      assert.equal(r.claimed_at?.getTime(), beat.getTime());
    }
  });

  it('does not finish while a delivery of unknown outcome is open, and finishes once it is resolved', async () => {
    const { listId } = await seedList(db.kysely, 'unknown-open', 2);
    const campaignId = await seedCampaign(db.kysely, listId);
    await registerWorker(db.kysely, 'gone');
    const claim = await claimBatch(db.kysely, campaignId, 'gone', 10);
    const ids = claim.state === 'claimed' ? claim.recipients.map((r) => r.recipientId) : [];
    assert.equal(ids.length, 2);
    await writeResults(db.kysely, [
      { campaignId, recipientId: ids[0]!, status: 'sent', attempts: 1, providerId: '<a>', errorCode: null, errorMessage: null, sentAt: new Date() },
    ]);
    await sql`update workers set heartbeat_at = now() - interval '1 hour' where id = 'gone'`.execute(db.kysely);
    await expireDeadWorkers(db.kysely, 15_000);
    assert.equal((await claimBatch(db.kysely, campaignId, 'w1', 10)).state, 'exhausted');
    assert.equal(await finishIfComplete(db.kysely, campaignId), false, 'one row is unknown');
    assert.equal(await resolveUnknownAs(db.kysely, campaignId, [ids[1]!], 'skipped'), 1);
    assert.equal(await finishIfComplete(db.kysely, campaignId), true);
  });

  it('never lets two processes claim the same recipient, even when racing', {
    skip: onRealPostgres ? false : 'needs several connections: real Postgres only',
  }, async () => {
    const { listId } = await seedList(db.kysely, 'race', 3000);
    const campaignId = await seedCampaign(db.kysely, listId);
    // Independent pools stand in for independent processes.
    const claimers: Db[] = await Promise.all(Array.from({ length: 4 }, () => connect({ databaseUrl: db.url!, poolSize: 2 })));
    try {
      const claimed = await Promise.all(
        claimers.map(async (c, i) => {
          const mine: number[] = [];
          for (;;) {
            const claim = await claimBatch(c.kysely, campaignId, `w${i}`, 50);
            if (claim.state !== 'claimed') return mine;
            mine.push(...claim.recipients.map((r) => r.recipientId));
          }
        }),
      );
      const all = claimed.flat();
      assert.equal(all.length, 3000);
      assert.equal(new Set(all).size, 3000);
      assert.ok(claimed.filter((c) => c.length > 0).length > 1, 'several claimers got work');
      // Bypassing the campaign lock, the primary key still refuses a second claim.
      await assert.rejects(
        sql`insert into deliveries (campaign_id, recipient_id, status, worker_id) values (${campaignId}, ${all[0]!}, 'queued', 'intruder')`.execute(
          claimers[0]!.kysely,
        ),
        /duplicate key/,
      );
    } finally {
      await Promise.all(claimers.map((c) => c.close()));
    }
  });
});
