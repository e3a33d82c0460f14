import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { migrateToLatest } from '../src/db/migrate.js';

describe(`schema (${dbLabel})`, () => {
  let db: TestDb;
  before(async () => {
    db = await openTestDb();
  });
  after(() => db.dispose());

  it('migrating twice is a no-op', async () => {
    const results = await migrateToLatest(db);
    assert.deepEqual(results, []);
  });

  it('refuses a second recipient with the same email in another case', async () => {
    await db.kysely.insertInto('recipients').values({ email: 'Ann@Example.com', attributes: {} }).execute();
    await assert.rejects(db.kysely.insertInto('recipients').values({ email: 'ann@example.com', attributes: {} }).execute(), /duplicate key|unique/i);
  });

  it('keeps one delivery row per (campaign, recipient)', async () => {
    const list = await db.kysely.insertInto('lists').values({ name: 'l' }).returning('id').executeTakeFirstOrThrow();
    const r = await db.kysely.insertInto('recipients').values({ email: 'b@example.com', attributes: {} }).returning('id').executeTakeFirstOrThrow();
    const c = await db.kysely
      .insertInto('campaigns')
      .values({
        name: 'c',
        list_id: list.id,
        template: 't',
        subject: 's',
        from_address: 'f@example.com',
        reply_to: null,
        rate_per_second: null,
        max_concurrency: null,
        scheduled_at: null,
        started_at: null,
        finished_at: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    assert.equal(typeof c.id, 'number');
    await db.kysely
      .insertInto('deliveries')
      .values({
        campaign_id: c.id,
        recipient_id: r.id,
        status: 'queued',
        provider_id: null,
        error_code: null,
        error_message: null,
        worker_id: 'w1',
        claimed_at: null,
        sent_at: null,
      })
      .execute();
    await assert.rejects(
      db.kysely
        .insertInto('deliveries')
        .values({
          campaign_id: c.id,
          recipient_id: r.id,
          status: 'queued',
          provider_id: null,
          error_code: null,
          error_message: null,
          worker_id: 'w2',
          claimed_at: null,
          sent_at: null,
        })
        .execute(),
      /duplicate key|unique/i,
    );
    const count = await sql<{ n: number }>`select count(*) as n from deliveries`.execute(db.kysely);
    assert.equal(count.rows[0]?.n, 1);
  });
});
