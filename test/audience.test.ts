import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { request } from 'undici';
import { previewAudience } from '../src/campaigns/audience.js';
import { controlCampaign, getCampaignOrThrow, scheduleCampaign } from '../src/campaigns/control.js';
import { createCampaign, type CreateCampaignInput } from '../src/campaigns/create.js';
import { createSegment, deleteSegment, showSegment } from '../src/campaigns/segments.js';
import { campaignStatusReport } from '../src/campaigns/status.js';
import type { Config } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { migrateTo, migrateToLatest } from '../src/db/migrate.js';
import type { Database } from '../src/db/schema.js';
import { formatDeliveryId } from '../src/domain/deliveryId.js';
import { UserError } from '../src/domain/errors.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { claimBatch } from '../src/sql/claimBatch.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { finishIfComplete } from '../src/sql/finishIfComplete.js';
import { promoteDueCampaigns } from '../src/sql/scheduledCampaigns.js';
import { writeResults } from '../src/sql/writeResults.js';
import { dbLabel, onRealPostgres, openTestDb, type TestDb } from './support/db.js';
import { cliDatabaseEnv, MOCK_DOMAIN, MOCK_KEY, runHerald, spawnHerald, startMockProcess, waitWhileRunning, type MockProcess } from './support/processes.js';
import { serverOptions } from './support/server.js';

const TOKEN = 'audience-test-token';
let batch = 0;

/** `n` new recipients with the given attributes; returns their ids in order. */
async function people(db: Kysely<Database>, n: number, attrs: (i: number) => Record<string, unknown> = () => ({})): Promise<number[]> {
  const tag = `b${++batch}`;
  const ids: number[] = [];
  for (let s = 0; s < n; s += 1000) {
    const rows = await db
      .insertInto('recipients')
      .values(
        Array.from({ length: Math.min(1000, n - s) }, (_, k) => ({
          email: `${tag}-${s + k}@aud.test`,
          name: `Person ${s + k}`,
          attributes: JSON.stringify(attrs(s + k)),
        })),
      )
      .returning('id')
      .execute();
    ids.push(...rows.map((r) => r.id));
  }
  return ids;
}

/** A new list holding `ids`. */
async function makeList(db: Kysely<Database>, name: string, ids: readonly number[]): Promise<number> {
  const list = await db.insertInto('lists').values({ name }).returning('id').executeTakeFirstOrThrow();
  if (ids.length > 0) await sql`insert into list_members (list_id, recipient_id) select ${list.id}, unnest(${[...ids]}::bigint[])`.execute(db);
  return list.id;
}

async function audienceRows(db: Kysely<Database>, campaignId: number): Promise<number[]> {
  const rows = await db.selectFrom('campaign_audience').select('recipient_id').where('campaign_id', '=', campaignId).orderBy('recipient_id').execute();
  return rows.map((r) => r.recipient_id);
}

/** Claims everything a campaign has left in small batches and records it sent; returns the ids claimed and how many were suppressed. */
async function sendAll(db: Kysely<Database>, campaignId: number): Promise<{ claimed: number[]; suppressed: number }> {
  const claimed: number[] = [];
  let suppressed = 0;
  for (;;) {
    const claim = await claimBatch(db, campaignId, 'w1', 7);
    if (claim.state !== 'claimed') {
      assert.equal(claim.state, 'exhausted');
      break;
    }
    suppressed += claim.suppressed;
    claimed.push(...claim.recipients.map((r) => r.recipientId));
    await writeResults(
      db,
      claim.recipients.map((r) => ({
        campaignId,
        recipientId: r.recipientId,
        status: 'sent' as const,
        attempts: 1,
        providerId: `<${r.recipientId}>`,
        errorCode: null,
        errorMessage: null,
        sentAt: new Date(),
      })),
    );
  }
  return { claimed, suppressed };
}

const sorted = (ids: Iterable<number>): number[] => [...ids].sort((a, b) => a - b);

const campaignInput = (over: Partial<CreateCampaignInput>): CreateCampaignInput => ({
  name: 'audience',
  template: 'spring-sale',
  subject: 'Hi {{ name }}',
  from: 'Shop <shop@example.org>',
  ...over,
});

/** The UserError `fn` throws; fails when it throws nothing or something else. */
async function userError(fn: () => Promise<unknown>): Promise<UserError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
  assert.fail('expected a UserError');
}

describe(`a campaign's audience: lists, exclusions, segments, fixed at start (${dbLabel})`, () => {
  let db: TestDb;
  let config: Config;
  before(async () => {
    db = await openTestDb();
    config = serverOptions().config;
  });
  after(() => db?.dispose());

  it('sends to the union of its lists, each recipient once, minus the excluded lists, filtered by the segment', async () => {
    const ids = await people(db.kysely, 100, (i) => ({ plan: i % 2 === 0 ? 'pro' : 'free', score: i }));
    await makeList(db.kysely, 'u-customers', ids.slice(0, 60));
    await makeList(db.kysely, 'u-trial', ids.slice(40));
    await makeList(
      db.kysely,
      'u-press',
      ids.filter((_, i) => i % 10 === 0),
    );
    const expected = ids.filter((_, i) => i % 10 !== 0 && i % 2 === 0);

    const preview = await previewAudience(db, { lists: ['u-customers', 'u-trial'], excludeLists: ['u-press'], where: 'plan = "pro"' });
    assert.equal(preview.count, expected.length);
    assert.deepEqual(
      preview.samples.map((s) => s.id),
      expected.slice(0, 10),
    );
    assert.deepEqual(preview.warnings, []);

    const id = await createCampaign(db, config, campaignInput({ lists: ['u-customers', 'u-trial'], excludeLists: ['u-press'], where: 'plan = "pro"' }));
    const draft = await campaignStatusReport(db, await getCampaignOrThrow(db, id));
    assert.deepEqual(draft.audience, {
      lists: ['u-customers', 'u-trial'],
      excludeLists: ['u-press'],
      segment: null,
      where: 'plan = "pro"',
      size: null,
      fixed: false,
    });

    const started = await controlCampaign(db, config, id, 'start');
    assert.equal(started.audience_size, expected.length);
    assert.deepEqual(await audienceRows(db.kysely, id), expected);

    const { claimed, suppressed } = await sendAll(db.kysely, id);
    assert.equal(suppressed, 0);
    assert.equal(new Set(claimed).size, claimed.length, 'nobody claimed twice');
    assert.deepEqual(sorted(claimed), expected);
    assert.equal(await finishIfComplete(db.kysely, id), true);
    const status = await campaignStatusReport(db, await getCampaignOrThrow(db, id));
    assert.equal(status.listSize, expected.length);
    assert.equal(status.counts.sent, expected.length);
    assert.equal(status.audience.fixed, true);
  });

  it('fixes the audience at the first start: a later joiner is not added, a later suppression is skipped at claim, a later removal is still sent, and progress covers exactly the snapshot', async () => {
    const ids = await people(db.kysely, 50, (i) => ({ score: i }));
    const listId = await makeList(db.kysely, 'f-members', ids);
    const id = await createCampaign(db, config, campaignInput({ lists: ['f-members'], where: 'score >= 10' }));
    await controlCampaign(db, config, id, 'start');
    const snapshot = ids.slice(10);
    assert.deepEqual(await audienceRows(db.kysely, id), snapshot);

    // After the start: someone joins, someone in the audience is suppressed, someone leaves the list.
    const [joiner] = await people(db.kysely, 1, () => ({ score: 99 }));
    await sql`insert into list_members (list_id, recipient_id) values (${listId}, ${joiner!})`.execute(db.kysely);
    const suppressedOne = snapshot[5]!;
    const { email } = await db.kysely.selectFrom('recipients').select('email').where('id', '=', suppressedOne).executeTakeFirstOrThrow();
    await db.kysely.insertInto('suppressions').values({ email: email.toLowerCase(), reason: 'unsubscribed', source: 'test', campaign_id: null }).execute();
    const leaver = snapshot[7]!;
    await sql`delete from list_members where list_id = ${listId} and recipient_id = ${leaver}`.execute(db.kysely);

    const running = await campaignStatusReport(db, await getCampaignOrThrow(db, id));
    assert.equal(running.listSize, snapshot.length);
    assert.equal(running.unclaimed, snapshot.length);

    const { claimed, suppressed } = await sendAll(db.kysely, id);
    assert.equal(suppressed, 1);
    assert.ok(!claimed.includes(joiner!), 'a recipient who joined after the start is not sent');
    assert.ok(!claimed.includes(suppressedOne), 'a recipient suppressed after the start is skipped');
    assert.ok(claimed.includes(leaver), 'a recipient removed from the list after the start is still sent');
    assert.deepEqual(
      sorted(claimed),
      snapshot.filter((r) => r !== suppressedOne),
    );
    assert.equal(await finishIfComplete(db.kysely, id), true);

    const done = await campaignStatusReport(db, await getCampaignOrThrow(db, id));
    assert.equal(done.listSize, snapshot.length, 'the total is the snapshot, not the list as it is now');
    assert.equal(done.unclaimed, 0);
    assert.equal(done.counts.sent + done.counts.suppressed, snapshot.length);
    assert.equal(done.counts.suppressed, 1);
    const reported = await db.kysely.selectFrom('deliveries').select('recipient_id').where('campaign_id', '=', id).execute();
    assert.deepEqual(sorted(reported.map((r) => r.recipient_id)), snapshot, 'the report covers exactly the snapshot');
  });

  it('fixes the audience once: racing starts, pause and resume, a scheduled start and a start after a pause while scheduled', async () => {
    const ids = await people(db.kysely, 30, () => ({ plan: 'pro' }));
    const listId = await makeList(db.kysely, 'o-list', ids);
    const id = await createCampaign(db, config, campaignInput({ lists: ['o-list'], where: 'plan = "pro"' }));
    const starts = await Promise.all([controlCampaign(db, config, id, 'start'), controlCampaign(db, config, id, 'start')]);
    assert.deepEqual(
      starts.map((c) => c.status),
      ['running', 'running'],
    );
    assert.deepEqual(await audienceRows(db.kysely, id), ids);
    await controlCampaign(db, config, id, 'pause');
    const later = await people(db.kysely, 5, () => ({ plan: 'pro' }));
    await sql`insert into list_members (list_id, recipient_id) select ${listId}, unnest(${later}::bigint[])`.execute(db.kysely);
    await controlCampaign(db, config, id, 'resume');
    await controlCampaign(db, config, id, 'start');
    assert.deepEqual(await audienceRows(db.kysely, id), ids, 'resume and a second start keep the audience');
    assert.equal((await getCampaignOrThrow(db, id)).audience_size, ids.length);

    // A scheduled campaign fixes its audience when a worker starts it.
    const scheduled = await createCampaign(db, config, campaignInput({ lists: ['o-list'] }));
    await scheduleCampaign(db, config, scheduled, new Date(Date.now() - 1000));
    const promoted = await promoteDueCampaigns(db.kysely, 60_000);
    assert.deepEqual(promoted.started, [scheduled]);
    assert.deepEqual(await audienceRows(db.kysely, scheduled), sorted([...ids, ...later]));

    // Paused while still scheduled, then started: the audience is taken at that start.
    const pausedFirst = await createCampaign(db, config, campaignInput({ lists: ['o-list'] }));
    await scheduleCampaign(db, config, pausedFirst, new Date(Date.now() + 3_600_000));
    await controlCampaign(db, config, pausedFirst, 'pause');
    assert.equal((await getCampaignOrThrow(db, pausedFirst)).audience_size, null);
    await controlCampaign(db, config, pausedFirst, 'resume');
    assert.equal((await getCampaignOrThrow(db, pausedFirst)).audience_size, ids.length + later.length);
  });

  it('a campaign written straight into the table as running takes its audience at its first claim', async () => {
    const ids = await people(db.kysely, 12);
    const listId = await makeList(db.kysely, 'raw-list', ids);
    const { id } = await db.kysely
      .insertInto('campaigns')
      .values({
        name: 'raw',
        list_id: listId,
        template: 'spring-sale',
        subject: 's',
        from_address: 'a@example.org',
        reply_to: null,
        status: 'running',
        rate_per_second: null,
        max_concurrency: null,
        scheduled_at: null,
        started_at: null,
        finished_at: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const { claimed } = await sendAll(db.kysely, id);
    assert.deepEqual(sorted(claimed), ids);
    assert.equal((await getCampaignOrThrow(db, id)).audience_size, ids.length);
  });

  it('refuses unknown lists and segments, a list both included and excluded, a segment with where, and says where a --where goes wrong', async () => {
    await makeList(db.kysely, 'e-list', await people(db.kysely, 3));
    const campaignsBefore = (await db.kysely.selectFrom('campaigns').select('id').execute()).length;
    const unknownList = await userError(() => createCampaign(db, config, campaignInput({ lists: ['e-list', 'e-ghost'] })));
    assert.equal(unknownList.message, "list 'e-ghost' does not exist (create it with: herald lists create e-ghost)");
    const unknownExcluded = await userError(() => createCampaign(db, config, campaignInput({ lists: ['e-list'], excludeLists: ['e-nobody'] })));
    assert.match(unknownExcluded.message, /excluded list 'e-nobody' does not exist/);
    const unknownSegment = await userError(() => createCampaign(db, config, campaignInput({ lists: ['e-list'], segment: 'e-nothing' })));
    assert.match(unknownSegment.message, /segment 'e-nothing' does not exist/);
    const both = await userError(() => createCampaign(db, config, campaignInput({ lists: ['e-list'], excludeLists: ['e-list'] })));
    assert.match(both.message, /list 'e-list' is both included .* and excluded/);
    await createSegment(db, 'e-seg', 'plan = "pro"');
    const exclusive = await userError(() => createCampaign(db, config, campaignInput({ lists: ['e-list'], segment: 'e-seg', where: 'plan = "x"' })));
    assert.match(exclusive.message, /--segment and --where cannot be used together/);
    const noList = await userError(() => createCampaign(db, config, campaignInput({})));
    assert.match(noList.message, /at least one list/);

    const syntax = await userError(() => createCampaign(db, config, campaignInput({ lists: ['e-list'], where: 'plan = "pro" and score >=' })));
    assert.match(syntax.message, /^--where: at 1:26: /);
    assert.deepEqual(
      syntax.fields?.map((f) => [f.field, f.position, f.line, f.column]),
      [['where', 25, 1, 26]],
    );
    const stored = await db.kysely.selectFrom('campaigns').select('id').execute();
    assert.equal(stored.length, campaignsBefore, 'nothing is stored for bad input');
  });

  it('saved segments: shows who uses one, refuses removal while a draft uses it, and a started campaign keeps its expression after removal', async () => {
    const ids = await people(db.kysely, 20, (i) => ({ tier: i < 5 ? 'gold' : 'basic' }));
    await makeList(db.kysely, 's-list', ids);
    await createSegment(db, 's-gold', 'tier = "gold"');
    await assert.rejects(createSegment(db, 's-gold', 'tier = "x"'), /segment 's-gold' already exists/);
    await assert.rejects(createSegment(db, 'bad name!', 'tier = "x"'), /segment name 'bad name!'/);
    await assert.rejects(createSegment(db, 's-broken', 'tier = '), /^UserError: --where: at 1:8: /);

    const draft = await createCampaign(db, config, campaignInput({ name: 'gold draft', lists: ['s-list'], segment: 's-gold' }));
    const shown = await showSegment(db, 's-gold');
    assert.deepEqual(shown.campaigns, [{ id: draft, name: 'gold draft', status: 'draft', fixed: false }]);
    const refused = await userError(() => deleteSegment(db, 's-gold'));
    assert.match(refused.message, new RegExp(`segment 's-gold' is used by campaign ${draft} "gold draft" \\(draft\\)`));

    await controlCampaign(db, config, draft, 'start');
    assert.deepEqual(await audienceRows(db.kysely, draft), ids.slice(0, 5));
    await deleteSegment(db, 's-gold');
    const after = await campaignStatusReport(db, await getCampaignOrThrow(db, draft));
    assert.equal(after.audience.segment, null);
    assert.equal(after.audience.where, 'tier = "gold"', 'the campaign shows the expression its audience was fixed with');
    await assert.rejects(showSegment(db, 's-gold'), /segment 's-gold' does not exist/);
  });

  it('previews the count after exclusions and suppressions, 10 samples, and warns of an attribute no recipient has', async () => {
    const ids = await people(db.kysely, 40, (i) => ({ city: i % 4 === 0 ? 'Berlin' : 'Paris' }));
    await makeList(db.kysely, 'p-a', ids.slice(0, 30));
    await makeList(db.kysely, 'p-b', ids.slice(20));
    await makeList(db.kysely, 'p-x', ids.slice(0, 4));
    const victim = await db.kysely.selectFrom('recipients').select('email').where('id', '=', ids[8]!).executeTakeFirstOrThrow();
    await db.kysely.insertInto('suppressions').values({ email: victim.email.toLowerCase(), reason: 'bounced', source: 'test', campaign_id: null }).execute();

    const berlin = await previewAudience(db, { lists: ['p-a', 'p-b'], excludeLists: ['p-x'], where: 'city = "Berlin"' });
    const expected = ids.filter((_, i) => i % 4 === 0 && i >= 4 && i !== 8);
    assert.equal(berlin.count, expected.length);
    assert.equal(berlin.suppressed, 1);
    assert.deepEqual(
      berlin.samples.map((s) => s.id),
      expected.slice(0, 10),
    );
    assert.equal(berlin.samples[0]!.attributes.city, 'Berlin');

    const typo = await previewAudience(db, { lists: ['p-a'], where: 'citty = "Berlin" or city = "Paris"' });
    assert.deepEqual(typo.warnings, ["no recipient has an attribute 'citty' (check its spelling): a comparison with it matches nobody"]);
    assert.equal(typo.count, ids.slice(0, 30).filter((_, i) => i % 4 !== 0).length);

    const everyone = await previewAudience(db, { where: 'city = "Paris"' });
    assert.ok(everyone.count >= 30, 'no list means every recipient');
    const lists = await previewAudience(db, { lists: ['p-a'], excludeLists: ['p-x'] });
    assert.equal(lists.count, 26 - 1);
  });

  it('treats injection attempts in list names, segment names and where text as literals', async () => {
    const ids = await people(db.kysely, 5, () => ({ plan: "x'); drop table recipients; --" }));
    await makeList(db.kysely, 'i-list', ids);
    const evil = "i-list'); drop table recipients; --";
    const unknown = await userError(() => createCampaign(db, config, campaignInput({ lists: [evil] })));
    assert.match(unknown.message, /does not exist/);
    await assert.rejects(createSegment(db, "x'; drop table segments; --", 'plan = "pro"'), /segment name/);
    const literal = await previewAudience(db, { lists: ['i-list'], where: `plan = "x'); drop table recipients; --"` });
    assert.equal(literal.count, 5, 'the value is compared as a string');
    const quoted = await previewAudience(db, { lists: ['i-list'], where: 'plan = "pro\\" or 1=1 --"' });
    assert.equal(quoted.count, 0);
    const notSyntax = await userError(() => previewAudience(db, { lists: ['i-list'], where: 'plan = "pro"; delete from recipients' }));
    assert.ok(notSyntax.fields?.[0]?.position !== undefined);
    assert.equal(Number((await sql<{ n: number }>`select count(*) as n from recipients`.execute(db.kysely)).rows[0]!.n) > 0, true);
  });
});

describe(`migration 0012 carries running campaigns on (${dbLabel})`, () => {
  let db: TestDb;
  before(async () => {
    db = await openTestDb();
  });
  after(() => db?.dispose());

  it('snapshots the unclaimed part of running and paused campaigns and sizes every started one', async () => {
    await migrateTo(db, '0010_event_count_plans');
    const list = await sql<{ id: number }>`insert into lists (name) values ('m-list') returning id`.execute(db.kysely);
    const listId = list.rows[0]!.id;
    const ids = (
      await sql<{ id: number }>`
        insert into recipients (email, name, attributes) select 'm' || g || '@aud.test', null, '{}' from generate_series(1, 100) g returning id
      `.execute(db.kysely)
    ).rows.map((r) => r.id);
    await sql`insert into list_members (list_id, recipient_id) select ${listId}, unnest(${ids}::bigint[])`.execute(db.kysely);
    const campaign = async (status: string, cursor: number, startedAt: boolean): Promise<number> =>
      (
        await sql<{ id: number }>`
          insert into campaigns (name, list_id, template, subject, from_address, status, claim_cursor, started_at)
          values (${status}, ${listId}, 'spring-sale', 's', 'a@example.org', ${status}, ${cursor}, ${startedAt ? new Date() : null})
          returning id
        `.execute(db.kysely)
      ).rows[0]!.id;
    const running = await campaign('running', ids[29]!, true);
    const draft = await campaign('draft', 0, false);
    const finished = await campaign('finished', ids[99]!, true);
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts) select ${running}, unnest(${ids.slice(0, 30)}::bigint[]), 'sent', 1
    `.execute(db.kysely);
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts) select ${finished}, unnest(${ids}::bigint[]), 'sent', 1
    `.execute(db.kysely);
    await sql`update campaigns set list_exhausted = true where id = ${finished}`.execute(db.kysely);

    await migrateToLatest(db);
    assert.deepEqual(await audienceRows(db.kysely, running), ids.slice(30));
    assert.equal((await getCampaignOrThrow(db, running)).audience_size, 100);
    assert.deepEqual(await audienceRows(db.kysely, draft), []);
    assert.equal((await getCampaignOrThrow(db, draft)).audience_size, null);
    assert.equal((await getCampaignOrThrow(db, finished)).audience_size, 100);
    const { claimed } = await sendAll(db.kysely, running);
    assert.deepEqual(sorted(claimed), ids.slice(30), 'the running campaign carries on where it was');
    assert.equal((await countDeliveries(db.kysely, running)).sent, 100);
  });
});

describe(`audience and segments through the API (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;
  const call = async <T = Record<string, unknown>>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await request(`${server.url}${p}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (String(res.headers['content-type'] ?? '').startsWith('application/json') ? JSON.parse(text) : text) as T };
  };
  before(async () => {
    db = await openTestDb();
    const options = serverOptions({ apiToken: TOKEN });
    server = await startServer(db, createLogger('silent'), options);
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
  });

  it('creates campaigns over several lists with exclusions and a segment, saves and previews segments, and answers errors with their position', async () => {
    const ids = await people(db.kysely, 30, (i) => ({ plan: i % 3 === 0 ? 'pro' : 'free' }));
    await makeList(db.kysely, 'a-one', ids.slice(0, 20));
    await makeList(db.kysely, 'a-two', ids.slice(10));
    await makeList(db.kysely, 'a-press', [ids[0]!, ids[3]!]);
    const expected = ids.filter((_, i) => i % 3 === 0 && i !== 0 && i !== 3);

    const saved = await call('POST', '/api/v1/segments', { name: 'a-pro', where: 'plan = "pro"' });
    assert.equal(saved.status, 201);
    const listed = await call<{ items: Array<{ name: string; expression: string }> }>('GET', '/api/v1/segments');
    assert.deepEqual(
      listed.body.items.map((s) => [s.name, s.expression]),
      [['a-pro', 'plan = "pro"']],
    );
    const bad = await call<{ error: string; fields: Array<{ field: string; position: number; line: number; column: number }> }>('POST', '/api/v1/segments', {
      name: 'a-bad',
      where: 'plan = "pro" and (',
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.fields.map((f) => [f.field, f.position, f.line, f.column]),
      [['where', 18, 1, 19]],
    );

    const preview = await call<{ count: number; samples: Array<{ id: number }>; warnings: string[] }>('POST', '/api/v1/audience/preview', {
      lists: ['a-one', 'a-two'],
      excludeLists: ['a-press'],
      segment: 'a-pro',
    });
    assert.equal(preview.status, 200);
    assert.equal(preview.body.count, expected.length);
    assert.deepEqual(
      preview.body.samples.map((s) => s.id),
      expected,
    );
    const unknownList = await call<{ error: string; fields: Array<{ field: string }> }>('POST', '/api/v1/audience/preview', { lists: ['a-ghost'] });
    assert.equal(unknownList.status, 400);
    assert.match(unknownList.body.error, /list 'a-ghost' does not exist/);
    assert.equal(unknownList.body.fields[0]!.field, 'lists');
    const both = await call<{ fields: Array<{ field: string }> }>('POST', '/api/v1/audience/preview', { segment: 'a-pro', where: 'plan = "pro"' });
    assert.equal(both.status, 400);

    const created = await call<{ id: number; audience: Record<string, unknown>; listSize: number }>('POST', '/api/v1/campaigns', {
      name: 'api audience',
      lists: ['a-one', 'a-two'],
      excludeLists: ['a-press'],
      segment: 'a-pro',
      template: 'spring-sale',
      subject: 'Hi',
      from: 'a@example.org',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.audience, { lists: ['a-one', 'a-two'], excludeLists: ['a-press'], segment: 'a-pro', where: null, size: null, fixed: false });
    const refused = await call<{ error: string }>('DELETE', '/api/v1/segments/a-pro');
    assert.equal(refused.status, 409);
    assert.match(refused.body.error, new RegExp(`campaign ${created.body.id} "api audience" \\(draft\\)`));

    const dry = await call<{ rendered: number }>('POST', `/api/v1/campaigns/${created.body.id}/dry-run`);
    assert.equal(dry.body.rendered, expected.length, 'a dry run renders the audience');
    const started = await call<{ audience: { size: number; fixed: boolean; where: string } }>('POST', `/api/v1/campaigns/${created.body.id}/start`);
    assert.equal(started.status, 200);
    assert.deepEqual([started.body.audience.size, started.body.audience.fixed, started.body.audience.where], [expected.length, true, 'plan = "pro"']);
    const list = await call<{ items: Array<{ id: number; lists: string[]; excludeLists: string[]; segment: string; audienceSize: number }> }>(
      'GET',
      '/api/v1/campaigns',
    );
    const row = list.body.items.find((c) => c.id === created.body.id)!;
    assert.deepEqual([row.lists, row.excludeLists, row.segment, row.audienceSize], [['a-one', 'a-two'], ['a-press'], 'a-pro', expected.length]);

    const old = await call('POST', '/api/v1/campaigns', { name: 'one list', list: 'a-one', template: 'spring-sale', subject: 'Hi', from: 'a@example.org' });
    assert.equal(old.status, 201, 'a single `list` is still accepted');
    const whereError = await call<{ fields: Array<{ field: string; position: number }> }>('POST', '/api/v1/campaigns', {
      name: 'bad',
      lists: ['a-one'],
      where: 'plan ==',
      template: 'spring-sale',
      subject: 'Hi',
      from: 'a@example.org',
    });
    assert.equal(whereError.status, 400);
    assert.equal(whereError.body.fields[0]!.field, 'where');
    assert.equal(typeof whereError.body.fields[0]!.position, 'number');
    const noList = await call<{ fields: Array<{ field: string }> }>('POST', '/api/v1/campaigns', {
      name: 'none',
      template: 'spring-sale',
      subject: 'Hi',
      from: 'a@example.org',
    });
    assert.equal(noList.status, 400);
    assert.ok(noList.body.fields.some((f) => f.field === 'lists'));

    assert.equal((await call('DELETE', '/api/v1/segments/a-ghost')).status, 404);
    assert.equal((await call('GET', '/api/v1/segments/a-pro')).status, 200);
  });
});

describe(`segments and audiences from the command line, with retry-failed (${dbLabel})`, () => {
  let disposeDb: () => Promise<void> = async () => undefined;
  let env: Record<string, string>;
  let dir: string;
  const mocks: MockProcess[] = [];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-audience-'));
    const database = await cliDatabaseEnv(dir);
    disposeDb = database.dispose;
    env = { ...database.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN };
  });
  after(async () => {
    for (const m of mocks) await m.stop();
    await disposeDb();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);
  const csv = (name: string, rows: number[]): string => {
    const file = path.join(dir, `${name}.csv`);
    fs.writeFileSync(file, ['email,name,plan,score', ...rows.map((i) => `c${i}@example.org,C ${i},${i % 2 === 0 ? 'pro' : 'free'},${i}`)].join('\n'));
    return file;
  };
  // Lists one (0-499) and two (300-799), press (every tenth); the segment: the pro plan with a score of 100 or more.
  const audience = range(0, 800).filter((i) => i % 10 !== 0 && i % 2 === 0 && i >= 100);
  let id = '';

  it('counts, saves, shows and refuses to remove segments; errors name what is wrong', async () => {
    await runHerald(['recipients', 'import', csv('one', range(0, 500)), '--list', 'one', '--create-list'], env);
    await runHerald(['recipients', 'import', csv('two', range(300, 800)), '--list', 'two', '--create-list'], env);
    const press = range(0, 800).filter((i) => i % 10 === 0);
    await runHerald(['recipients', 'import', csv('press', press), '--list', 'press', '--create-list'], env);

    const count = await runHerald(
      ['segments', 'count', '--where', 'plan = "pro" and score >= 100', '--list', 'one', '--list', 'two', '--exclude-list', 'press'],
      env,
    );
    assert.match(count, new RegExp(`^${audience.length} recipients \\(after exclusions and suppressions\\)`));
    assert.equal(count.split('\n').filter((l) => /^ {2}c\d+@example\.org/.test(l)).length, 10);
    assert.match(await runHerald(['segments', 'count', '--where', 'plann = "pro"'], env), /^0 recipients[\s\S]*warning: no recipient has an attribute 'plann'/);

    await runHerald(['segments', 'create', 'active-pro', '--where', 'plan = "pro" and score >= 100'], env);
    const badWhere = spawnHerald(['segments', 'create', 'broken', '--where', 'plan = "pro" and'], env);
    assert.equal(await badWhere.exited, 1);
    assert.match(badWhere.output(), /^herald: --where: at 1:17: .*expected/m);

    id = (
      await runHerald(
        [
          'campaign',
          'create',
          '--name',
          'segmented',
          '--list',
          'one',
          '--list',
          'two',
          '--exclude-list',
          'press',
          '--segment',
          'active-pro',
          '--template',
          'spring-sale',
          '--subject',
          'Hi',
          '--from',
          'a@example.org',
        ],
        env,
      )
    ).trim();
    const rm = spawnHerald(['segments', 'rm', 'active-pro'], env);
    assert.equal(await rm.exited, 1);
    assert.match(rm.output(), new RegExp(`^herald: segment 'active-pro' is used by campaign ${id} "segmented" \\(draft\\)`));
    const shown = JSON.parse(await runHerald(['segments', 'show', 'active-pro', '--json'], env)) as { expression: string; campaigns: Array<{ id: number }> };
    assert.equal(shown.expression, 'plan = "pro" and score >= 100');
    assert.deepEqual(
      shown.campaigns.map((c) => c.id),
      [Number(id)],
    );
  });

  it('sends the segmented campaign over two lists minus one, then retries its failures: no one twice, no one outside the audience', async () => {
    assert.ok(id, 'the campaign of the test before');
    const flaky = await startMockProcess(['--latency', '1', '--stuck-rate', '0.05', '--permanent-fail-rate', '0.02', '--seed', '5']);
    mocks.push(flaky);
    await runHerald(['campaign', 'start', id, '--wait', '--max-attempts', '2'], { ...env, MAILGUN_BASE_URL: flaky.url });
    const first = JSON.parse(await runHerald(['campaign', 'status', id, '--json'], env)) as {
      status: string;
      listSize: number;
      audience: { size: number; fixed: boolean };
      notSent: Array<{ reason: string; count: number }>;
    };
    assert.equal(first.status, 'finished');
    assert.equal(first.audience.size, audience.length);
    assert.equal(first.listSize, audience.length);
    const exhausted = first.notSent.find((n) => n.reason === 'transient_exhausted')?.count ?? 0;
    const permanent = first.notSent.find((n) => n.reason === 'http_400')?.count ?? 0;
    assert.ok(exhausted > 0, JSON.stringify(first.notSent));
    const firstAccepted = await flaky.deliveries();
    await flaky.stop();

    // People join a list after the start; the retry must not reach them.
    await runHerald(['recipients', 'import', csv('late', range(2000, 2050)), '--list', 'one'], env);
    const healthy = await startMockProcess(['--latency', '1']);
    mocks.push(healthy);
    assert.match(await runHerald(['campaign', 'retry-failed', id], env), new RegExp(`re-queued ${exhausted} deliveries`));
    await runHerald(['campaign', 'start', id, '--wait'], { ...env, MAILGUN_BASE_URL: healthy.url });
    const retried = await healthy.deliveries();
    assert.equal(Object.keys(retried).length, exhausted);
    for (const [key, n] of Object.entries(retried)) {
      assert.equal(n, 1);
      assert.equal(firstAccepted[key], undefined, `${key} was not accepted twice`);
    }
    const status = await runHerald(['campaign', 'status', id], env);
    assert.match(status, /audience {4}lists one, two; minus press; segment active-pro \(plan = "pro" and score >= 100\) — \d+ recipients, fixed at start/);
    const sent = Number(/^ {2}sent +(\d+)$/m.exec(status)?.[1]);
    assert.equal(sent, audience.length - permanent, 'everyone in the audience but the permanent failures, once');
    assert.equal(Object.keys(firstAccepted).length + exhausted, sent);
    assert.match(await runHerald(['segments', 'rm', 'active-pro'], env), /removed segment 'active-pro'/);
  });
});

const skip = onRealPostgres ? false : 'several processes share one database: needs DATABASE_URL (real Postgres)';

describe('a segmented audience through crashes and pause/resume (postgres)', { skip }, () => {
  let db: TestDb;
  let mock: MockProcess;
  let env: Record<string, string>;
  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess([
      '--latency',
      '20',
      '--jitter',
      '15',
      '--fail-rate',
      '0.02',
      '--throttle-rate',
      '0.01',
      '--seed',
      '11',
      '--record',
      'counts',
    ]);
    env = { DATABASE_URL: db.url!, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url };
  });
  after(async () => {
    await mock?.stop();
    await db?.dispose();
  });

  const sentSoFar = async (id: number): Promise<number> => (await countDeliveries(db.kysely, id)).sent;

  it('sends every recipient of the audience exactly once and nobody else, through two SIGKILLs and a pause/resume', async () => {
    const ids = await people(db.kysely, 12_000, (i) => ({ score: String(i % 100) }));
    await makeList(db.kysely, 'k-a', ids.slice(0, 8000));
    await makeList(db.kysely, 'k-b', ids.slice(4000));
    await makeList(
      db.kysely,
      'k-press',
      ids.filter((_, i) => i % 7 === 0),
    );
    const audience = new Set(ids.filter((_, i) => i % 7 !== 0 && i % 100 >= 20));
    const config = serverOptions().config;
    const id = await createCampaign(
      db,
      config,
      // A rate keeps the ~8,200 sends longer than the kills, the wait and the pause take, so
      // the pause finds it running however fast the machine is.
      campaignInput({ lists: ['k-a', 'k-b'], excludeLists: ['k-press'], where: 'score >= 20', unknownPolicy: 'reconcile', ratePerSecond: 600 }),
    );
    await runHerald(['campaign', 'start', String(id)], env);
    // Someone joins after the start: not part of it.
    const [late] = await people(db.kysely, 1, () => ({ score: '99' }));
    await sql`insert into list_members (list_id, recipient_id) select id, ${late!} from lists where name = 'k-a'`.execute(db.kysely);

    const workerArgs = ['worker', '--concurrency', '40', '--lease-ms', '2000', '--reconcile-after', '0'];
    for (let kill = 0; kill < 2; kill++) {
      const worker = spawnHerald(workerArgs, env);
      const before = await sentSoFar(id);
      await waitWhileRunning('the worker makes progress', worker, async () => (await sentSoFar(id)) > before + 500 + Math.random() * 1500);
      worker.process.kill('SIGKILL');
      await worker.exited;
    }
    const worker = spawnHerald(workerArgs, env);
    const before = await sentSoFar(id);
    await waitWhileRunning('the worker makes progress', worker, async () => (await sentSoFar(id)) > before + 500);
    await sleep(2500);
    await runHerald(['campaign', 'pause', String(id)], env);
    assert.equal(await worker.exited, 0, worker.output());
    await runHerald(['campaign', 'resume', String(id)], env);
    const last = spawnHerald(workerArgs, env);
    assert.equal(await last.exited, 0, last.output());

    const campaign = await getCampaignOrThrow(db, id);
    assert.equal(campaign.status, 'finished');
    assert.equal(campaign.audience_size, audience.size);
    assert.equal((await countDeliveries(db.kysely, id)).sent, audience.size);
    const accepted = await mock.deliveries();
    for (const r of audience) assert.equal(accepted[formatDeliveryId(id, r)], 1, `recipient ${r} accepted ${accepted[formatDeliveryId(id, r)] ?? 0} times`);
    const mine = Object.keys(accepted).filter((k) => k.startsWith(`${id}.`));
    assert.equal(mine.length, audience.size, 'nobody outside the audience was sent');
    assert.equal(accepted[formatDeliveryId(id, late!)], undefined);
  });
});
