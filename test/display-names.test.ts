import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { FormData, request } from 'undici';
import { createCampaign } from '../src/campaigns/create.js';
import { quoteDisplayName } from '../src/domain/validation.js';
import { openSendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';

interface Accepted {
  to: string[];
  from: string;
  headers: Record<string, string>;
  userVariables: Record<string, string>;
}

describe(`quoted display names, in Herald and in the mock (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '0']);
  });
  after(async () => {
    await mock?.stop();
    await db?.dispose();
  });

  const post = async (to: string) => {
    const form = new FormData();
    form.set('from', 'shop@example.org');
    form.set('to', to);
    form.set('subject', 'Hi');
    form.set('text', 'Hello');
    const res = await request(`${mock.url}/v3/${MOCK_DOMAIN}/messages`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`api:${MOCK_KEY}`).toString('base64')}` },
      body: form,
    });
    return { status: res.statusCode, body: (await res.body.json()) as { message: string } };
  };
  const messages = async () => (await (await request(`${mock.url}/mock/messages`)).body.json()) as Accepted[];

  it('the mock accepts an RFC 5322 quoted display name with a comma, and still refuses bad addresses', async () => {
    const ok = await post('"Doe, Jane" <jane@example.com>, bob@example.com, "Q \\"Quote\\", Jr" <q@example.com>');
    assert.equal(ok.status, 200, ok.body.message);
    assert.deepEqual((await messages()).at(-1)!.to, ['jane@example.com', 'bob@example.com', 'q@example.com']);
    // Unquoted, the comma separates two entries and "Doe" is no address.
    assert.equal((await post('Doe, Jane <jane@example.com>')).status, 400);
    assert.equal((await post('"Doe, Jane <jane@example.com>')).status, 400, 'a quote left open');
    assert.equal((await post('not-an-address')).status, 400);
  });

  it('Herald quotes display names with specials in from, reply-to and to, and the message is accepted', async () => {
    assert.equal(quoteDisplayName('Shop, Inc <news@example.org>'), '"Shop, Inc" <news@example.org>');
    assert.equal(quoteDisplayName('"Shop, Inc" <news@example.org>'), '"Shop, Inc" <news@example.org>');
    assert.equal(quoteDisplayName('Shop <news@example.org>'), 'Shop <news@example.org>');
    assert.equal(quoteDisplayName('news@example.org'), 'news@example.org');

    const { listId, recipientIds } = await seedList(db.kysely, 'names', 3);
    await sql`update recipients set name = 'Doe, Jane' where id = ${recipientIds[0]!}`.execute(db.kysely);
    await sql`update recipients set name = 'O"Brien, Pat' where id = ${recipientIds[1]!}`.execute(db.kysely);
    const list = await db.kysely.selectFrom('lists').select('name').where('id', '=', listId).executeTakeFirstOrThrow();
    const config = loadConfig({
      ...process.env,
      MAILGUN_API_KEY: MOCK_KEY,
      MAILGUN_DOMAIN: MOCK_DOMAIN,
      MAILGUN_BASE_URL: mock.url,
      HERALD_SECRET: 'test-secret',
    });
    const campaignId = await createCampaign(db, config, {
      name: 'names',
      list: list.name,
      template: 'spring-sale',
      subject: 'Hi',
      from: 'Shop, Inc <news@example.org>',
      replyTo: 'Help, Desk <help@example.org>',
    });
    const stored = await db.kysely.selectFrom('campaigns').select(['from_address', 'reply_to']).where('id', '=', campaignId).executeTakeFirstOrThrow();
    assert.deepEqual(stored, { from_address: '"Shop, Inc" <news@example.org>', reply_to: '"Help, Desk" <help@example.org>' });

    await db.kysely.updateTable('campaigns').set({ status: 'running' }).where('id', '=', campaignId).execute();
    const stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 4, leaseMs: 5000, renderThreads: 1 });
    try {
      await stack.worker.runCampaigns((c) => c.id === campaignId, false);
    } finally {
      await stack.close();
    }
    const rows = await db.kysely
      .selectFrom('deliveries')
      .select(['recipient_id', 'status', 'error_message'])
      .where('campaign_id', '=', campaignId)
      .orderBy('recipient_id')
      .execute();
    assert.deepEqual(
      rows.map((r) => [r.recipient_id, r.status, r.error_message]),
      recipientIds.map((id) => [id, 'sent', null]),
    );
    const mine = (await messages()).filter((m) => m.userVariables['herald-campaign'] === String(campaignId));
    assert.deepEqual(mine.map((m) => m.to[0]).sort(), ['names-user1@example.test', 'names-user2@example.test', 'names-user3@example.test']);
    for (const m of mine) assert.equal(m.from, '"Shop, Inc" <news@example.org>');
  });
});
