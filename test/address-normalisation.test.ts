import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { request } from 'undici';
import { openSendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { connect, type Db } from '../src/db/connect.js';
import { migrateTo, migrateToLatest } from '../src/db/migrate.js';
import { formatDeliveryId } from '../src/domain/deliveryId.js';
import { signUnsubscribeToken } from '../src/domain/unsubscribeToken.js';
import { signWebhook } from '../src/provider/mailgun/webhookSignature.js';
import { createLogger } from '../src/config/log.js';
import { startServer } from '../src/http/app.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { claimBatch } from '../src/sql/claimBatch.js';
import { addSendingDomain } from '../src/sql/addSendingDomain.js';
import { dbLabel, onRealPostgres, openTestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { openCliSandbox, type CliSandbox, MOCK_DOMAIN, MOCK_KEY, runHerald, startMockProcess } from './support/processes.js';
import { serverOptions } from './support/server.js';

const SECRET = 'normalisation-secret';
const SIGNING_KEY = 'normalisation-signing-key';

describe(`one normalisation of an address, on every path (${dbLabel})`, () => {
  let sandbox: CliSandbox;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    sandbox = await openCliSandbox('normalise', null);
    ({ dir, env } = sandbox);
  });
  after(async () => {
    await sandbox?.close();
  });

  it('an address suppressed through the CLI, the API, a CSV, a webhook or an unsubscribe link, with spaces and in another case, is never sent to', async () => {
    // Recipients come in through a CSV import, with spaces and mixed case.
    const recipientsCsv = path.join(dir, 'recipients.csv');
    fs.writeFileSync(
      recipientsCsv,
      [
        'email,name',
        '"  Cli.User@Example.ORG ",Cli',
        ' Api.User@Example.org,Api',
        '" CSV.User@EXAMPLE.org",Csv',
        'Hook.User@Example.org ,Hook',
        'Unsub.User@Example.org,Unsub',
        'Keep.User@Example.org,Keep',
      ].join('\n') + '\n',
    );
    await runHerald(['lists', 'create', 'norm'], env);
    assert.match(await runHerald(['recipients', 'import', recipientsCsv, '--list', 'norm'], env), /6/);
    await runHerald(['suppressions', 'add', '  CLI.user@example.org '], env);
    const suppressCsv = path.join(dir, 'suppress.csv');
    fs.writeFileSync(suppressCsv, 'email\n"  csv.USER@example.ORG  "\n');
    assert.match(await runHerald(['suppressions', 'import', suppressCsv], env), /1 suppressed, 0 rejected/);

    const db: Db = await connect(onRealPostgres ? { databaseUrl: env.DATABASE_URL! } : { dataDir: env.HERALD_DATA_DIR! });
    const mock = await startMockProcess(['--latency', '1', '--record', 'counts']);
    const server = await startServer(db, createLogger('silent'), serverOptions({ unsubscribeSecret: SECRET, webhookSigningKey: SIGNING_KEY }));
    try {
      const ids = new Map(
        (await db.kysely.selectFrom('recipients').select(['id', 'email']).execute()).map((r) => [r.email.toLowerCase().split('.')[0]!, r.id]),
      );
      const listId = (await db.kysely.selectFrom('lists').select('id').where('name', '=', 'norm').executeTakeFirstOrThrow()).id;

      // The API path.
      const api = await request(`${server.url}/api/v1/suppressions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ emails: [' API.User@EXAMPLE.org '], reason: 'manual' }),
      });
      assert.equal(api.statusCode, 200, await api.body.text());

      // Webhook and unsubscribe link refer to a delivery of an earlier campaign.
      const earlier = await seedCampaign(db.kysely, listId);
      await claimBatch(db.kysely, earlier, 'earlier-worker', 100);
      await db.kysely.updateTable('campaigns').set({ status: 'finished' }).where('id', '=', earlier).execute();
      const timestamp = String(Math.floor(Date.now() / 1000));
      const token = randomBytes(25).toString('hex');
      const hook = await request(`${server.url}/webhooks/mailgun`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          signature: { timestamp, token, signature: signWebhook(SIGNING_KEY, timestamp, token) },
          'event-data': {
            id: randomBytes(8).toString('hex'),
            event: 'complained',
            timestamp: Date.now() / 1000,
            recipient: '  HOOK.user@example.ORG ',
            'user-variables': { 'herald-delivery': formatDeliveryId(earlier, ids.get('hook')!) },
          },
        }),
      });
      assert.equal(hook.statusCode, 200, await hook.body.text());
      const link = signUnsubscribeToken({ campaignId: earlier, recipientId: ids.get('unsub')!, email: ' UNSUB.User@example.ORG ' }, SECRET);
      const unsub = await request(`${server.url}/u/${link}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      });
      assert.equal(unsub.statusCode, 200, await unsub.body.text());

      const stored = (await db.kysely.selectFrom('suppressions').select('email').orderBy('email').execute()).map((r) => r.email);
      assert.deepEqual(stored, ['api.user@example.org', 'cli.user@example.org', 'csv.user@example.org', 'hook.user@example.org', 'unsub.user@example.org']);

      // A real campaign through the mock: only the one address nobody suppressed gets mail.
      const campaignId = await seedCampaign(db.kysely, listId);
      const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url, HERALD_SECRET: SECRET });
      const stack = await openSendingStack(config, db, createLogger('warn'), { concurrency: 4, batchSize: 10 });
      try {
        await stack.worker.runCampaigns((c) => c.id === campaignId, false);
      } finally {
        await stack.close();
      }
      const counts = await countDeliveries(db.kysely, campaignId);
      assert.deepEqual([counts.sent, counts.suppressed], [1, 5]);
      const accepted = await mock.deliveries();
      assert.deepEqual(Object.keys(accepted), [formatDeliveryId(campaignId, ids.get('keep')!)]);
    } finally {
      await server.close();
      await mock.stop();
      await db.close();
    }
  });
});

describe(`stored addresses and domain names are normalised (${dbLabel})`, () => {
  it('migration 0006 rewrites suppressions stored with spaces to their key, and the check keeps them out', async () => {
    const db = await openTestDb();
    try {
      await migrateTo(db, '0005_delivery_state_indexes');
      await sql`insert into suppressions (email, reason, source) values (' dave@example.com ', 'manual', 'api'), ('erin@example.com', 'bounced', 'webhook'), ('  erin@example.com', 'manual', 'api'), (${'\tfay@example.com\n'}, 'manual', 'api')`.execute(
        db.kysely,
      );
      await migrateToLatest(db);
      const rows = await db.kysely.selectFrom('suppressions').select(['email', 'reason']).orderBy('email').execute();
      assert.deepEqual(rows, [
        { email: 'dave@example.com', reason: 'manual' },
        { email: 'erin@example.com', reason: 'bounced' },
        { email: 'fay@example.com', reason: 'manual' },
      ]);
      await assert.rejects(
        sql`insert into suppressions (email, reason) values (' gus@example.com', 'manual')`.execute(db.kysely),
        /suppressions_email_trimmed/,
      );
    } finally {
      await db.dispose();
    }
  });

  it('a daily cap registered in another case holds for the campaign sending through the domain', async () => {
    const db = await openTestDb();
    try {
      const { listId } = await seedList(db.kysely, 'capcase', 10);
      await addSendingDomain(db.kysely, 'Capped.Example.TEST', { dailyCap: 3 });
      const campaignId = await seedCampaign(db.kysely, listId, { domain: 'capped.example.test' });
      const claim = await claimBatch(db.kysely, campaignId, 'w', 10, { domain: 'capped.example.test' });
      assert.equal(claim.state, 'claimed');
      if (claim.state === 'claimed') assert.equal(claim.recipients.length, 3);
      assert.equal(await addSendingDomain(db.kysely, 'capped.EXAMPLE.test', { dailyCap: 5 }), false, 'the same domain in another case is not a second domain');
    } finally {
      await db.dispose();
    }
  });
});
