import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { request } from 'undici';
import { signUnsubscribeToken } from '../src/domain/unsubscribeToken.js';
import { signWebhook } from '../src/provider/mailgun/webhookSignature.js';
import { createLogger } from '../src/config/log.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { claimBatch } from '../src/sql/claimBatch.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { serverOptions } from './support/server.js';
import { seedCampaign, seedList } from './support/fixtures.js';

const SECRET = 'unsubscribe-secret';
const SIGNING_KEY = 'webhook-signing-key';

describe(`one-click unsubscribe and Mailgun webhooks (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;
  let campaignId: number;
  let recipientIds: number[];
  before(async () => {
    db = await openTestDb();
    ({ recipientIds } = await seedList(db.kysely, 'hooks', 5));
    const listId = (await db.kysely.selectFrom('lists').select('id').where('name', '=', 'hooks').executeTakeFirstOrThrow()).id;
    campaignId = await seedCampaign(db.kysely, listId);
    await claimBatch(db.kysely, campaignId, 'w', 10);
    server = await startServer(db, createLogger('silent'), serverOptions({ unsubscribeSecret: SECRET, webhookSigningKey: SIGNING_KEY }));
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
  });

  const suppressed = async (email: string) => db.kysely.selectFrom('suppressions').selectAll().where('email', '=', email).executeTakeFirst();
  const post = async (path: string, body: string, contentType = 'application/json') => {
    const res = await request(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': contentType } });
    return { status: res.statusCode, text: await res.body.text() };
  };
  const webhook = (event: Record<string, unknown>, overrides: { timestamp?: string; token?: string; signature?: string } = {}) => {
    const timestamp = overrides.timestamp ?? String(Math.floor(Date.now() / 1000));
    const token = overrides.token ?? randomBytes(25).toString('hex');
    const signature = overrides.signature ?? signWebhook(SIGNING_KEY, timestamp, token);
    return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': event });
  };
  const event = (recipientIndex: number, extra: Record<string, unknown>) => ({
    id: randomBytes(8).toString('hex'),
    timestamp: Date.now() / 1000,
    recipient: `hooks-user${recipientIndex + 1}@example.test`,
    'user-variables': { 'herald-delivery': `${campaignId}.${recipientIds[recipientIndex]}`, 'herald-campaign': String(campaignId) },
    ...extra,
  });

  it('shows a confirmation page on GET and suppresses on the one-click POST', async () => {
    const token = signUnsubscribeToken({ campaignId, recipientId: recipientIds[0]!, email: 'hooks-user1@example.test' }, SECRET);
    const page = await request(`${server.url}/u/${token}`);
    assert.equal(page.statusCode, 200);
    assert.match(await page.body.text(), /<form method="post">.*Unsubscribe<\/button>/s);
    assert.equal(await suppressed('hooks-user1@example.test'), undefined, 'GET alone changes nothing');
    const res = await post(`/u/${token}`, 'List-Unsubscribe=One-Click', 'application/x-www-form-urlencoded');
    assert.equal(res.status, 200);
    assert.equal((await suppressed('hooks-user1@example.test'))?.reason, 'unsubscribed');
    // The delivery's outcome says so too, once however often the link is used.
    assert.equal((await post(`/u/${token}`, 'List-Unsubscribe=One-Click', 'application/x-www-form-urlencoded')).status, 200);
    const outcome = await db.kysely
      .selectFrom('delivery_outcomes')
      .select(['unsubscribed_at'])
      .where('campaign_id', '=', campaignId)
      .where('recipient_id', '=', recipientIds[0]!)
      .executeTakeFirst();
    assert.ok(outcome?.unsubscribed_at, 'the outcome records the unsubscribe');
    const events = await db.kysely.selectFrom('delivery_events').select('id').where('recipient_id', '=', recipientIds[0]!).execute();
    assert.equal(events.length, 1);
  });

  it('answers 400 to a tampered token and suppresses nobody', async () => {
    const token = signUnsubscribeToken({ campaignId, recipientId: recipientIds[1]!, email: 'hooks-user2@example.test' }, SECRET);
    const forged =
      signUnsubscribeToken({ campaignId, recipientId: recipientIds[1]!, email: 'someone-else@example.test' }, SECRET).split('.')[0] + '.' + token.split('.')[1];
    assert.equal((await post(`/u/${forged}`, 'List-Unsubscribe=One-Click', 'application/x-www-form-urlencoded')).status, 400);
    assert.equal((await request(`${server.url}/u/${forged}`)).statusCode, 400);
    assert.equal(await suppressed('someone-else@example.test'), undefined);
  });

  it('rejects a wrong signature, a stale timestamp, a replayed token and malformed JSON', async () => {
    const e = event(2, { event: 'complained' });
    assert.equal((await post('/webhooks/mailgun', webhook(e, { signature: 'ab'.repeat(32) }))).status, 401);
    const old = String(Math.floor(Date.now() / 1000) - 600);
    assert.equal((await post('/webhooks/mailgun', webhook(e, { timestamp: old }))).status, 406);
    const body = webhook(e);
    assert.equal((await post('/webhooks/mailgun', body)).status, 200);
    const replay = await post('/webhooks/mailgun', body);
    assert.equal(replay.status, 406);
    assert.match(replay.text, /replayed/);
    assert.equal((await post('/webhooks/mailgun', '{not json')).status, 400);
    const unknown = { ...event(2, { event: 'delivered' }), 'user-variables': { 'herald-delivery': '999999.1' } };
    assert.equal((await post('/webhooks/mailgun', webhook(unknown))).status, 406);
  });

  it('suppresses on a valid complaint and changes nothing when the same event is delivered again', async () => {
    const e = event(3, { event: 'complained' });
    assert.equal((await post('/webhooks/mailgun', webhook(e))).status, 200);
    const first = await suppressed('hooks-user4@example.test');
    assert.equal(first?.reason, 'complained');
    const again = await post('/webhooks/mailgun', webhook(e));
    assert.equal(again.status, 200);
    assert.match(again.text, /already recorded/);
    const events = await db.kysely.selectFrom('delivery_events').selectAll().where('id', '=', e.id).execute();
    assert.equal(events.length, 1);
    assert.equal(events[0]!.recipient_id, recipientIds[3]);
    assert.deepEqual(await suppressed('hooks-user4@example.test'), first);
  });

  it('suppresses permanent failures but not temporary ones', async () => {
    assert.equal((await post('/webhooks/mailgun', webhook(event(4, { event: 'failed', severity: 'temporary' })))).status, 200);
    assert.equal(await suppressed('hooks-user5@example.test'), undefined);
    assert.equal((await post('/webhooks/mailgun', webhook(event(4, { event: 'failed', severity: 'permanent', reason: 'bounce' })))).status, 200);
    assert.equal((await suppressed('hooks-user5@example.test'))?.reason, 'bounced');
  });

  it("suppresses the delivery's own recipient, never the address an event names instead", async () => {
    const e = event(1, { event: 'unsubscribed', recipient: 'victim@example.test' });
    assert.equal((await post('/webhooks/mailgun', webhook(e))).status, 200);
    assert.equal(await suppressed('victim@example.test'), undefined);
    assert.equal((await suppressed('hooks-user2@example.test'))?.reason, 'unsubscribed');
  });

  it('keeps the token usable when storing the event fails, so the identical retry is recorded', async () => {
    const e = event(2, { event: 'delivered', reason: 'refuse-me' });
    const body = webhook(e);
    // A real failure of the event insert: the database refuses this row for a while.
    await db.kysely.schema.alterTable('delivery_events').addCheckConstraint('test_refuse', sql`reason is distinct from 'refuse-me'`).execute();
    try {
      assert.ok((await post('/webhooks/mailgun', body)).status >= 500);
    } finally {
      await db.kysely.schema.alterTable('delivery_events').dropConstraint('test_refuse').execute();
    }
    const retry = await post('/webhooks/mailgun', body);
    assert.equal(retry.status, 200, retry.text);
    assert.match(retry.text, /recorded/);
    assert.equal((await db.kysely.selectFrom('delivery_events').selectAll().where('id', '=', e.id).execute()).length, 1);
    const replay = await post('/webhooks/mailgun', body);
    assert.equal(replay.status, 406);
  });
});
