import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { controlCampaign } from '../src/campaigns/control.js';
import { loadConfig } from '../src/config/config.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';

describe(`campaign lifecycle actions that race (${dbLabel})`, () => {
  let db: TestDb;
  before(async () => {
    db = await openTestDb();
  });
  after(async () => {
    await db?.dispose();
  });

  it('two starts of one draft both succeed: the one that loses the update finds it running', async () => {
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: 'key-test', MAILGUN_DOMAIN: 'mg.example.test' });
    const { listId } = await seedList(db.kysely, 'race', 1);
    // Each pair reads the draft before either updates it often enough that a few pairs catch the race.
    for (let i = 0; i < 10; i++) {
      const id = await seedCampaign(db.kysely, listId, { status: 'draft' });
      const results = await Promise.allSettled([controlCampaign(db, config, id, 'start'), controlCampaign(db, config, id, 'start')]);
      for (const r of results) {
        assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '');
        assert.equal(r.status === 'fulfilled' && r.value.status, 'running');
      }
    }
  });

  it('a second pause of a campaign is still refused, naming its state', async () => {
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: 'key-test', MAILGUN_DOMAIN: 'mg.example.test' });
    const { listId } = await seedList(db.kysely, 'race2', 1);
    const id = await seedCampaign(db.kysely, listId, { status: 'running' });
    await controlCampaign(db, config, id, 'pause');
    await assert.rejects(controlCampaign(db, config, id, 'pause'), new RegExp(`cannot pause campaign ${id}: it is paused`));
  });
});
