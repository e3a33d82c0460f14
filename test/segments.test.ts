import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { migrateTo, migrateToLatest } from '../src/db/migrate.js';
import { parseSegment, type SegmentAst } from '../src/domain/segment/index.js';
import { recordEvents, type IncomingEvent } from '../src/events/recordEvents.js';
import { purgeCampaignDetails } from '../src/campaigns/purgeDetails.js';
import { addSuppressions } from '../src/sql/addSuppressions.js';
import { markSentRecipients } from '../src/sql/markSentRecipients.js';
import { segmentPredicate, type SegmentPredicateOptions } from '../src/sql/segmentPredicate.js';
import { writeResults } from '../src/sql/writeResults.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign } from './support/fixtures.js';

const NOW = new Date('2026-12-05T12:00:00Z');
const daysAgo = (d: number, from = NOW) => new Date(from.getTime() - d * 86_400_000);

function parsed(text: string): SegmentAst {
  const result = parseSegment(text);
  if (!result.ok) assert.fail(`${text}: ${result.error.message}`);
  return result.segment;
}

/** The local parts of the recipients a segment selects, sorted. */
async function matching(db: TestDb, text: string, now = NOW, options: SegmentPredicateOptions = {}): Promise<string[]> {
  const rows = await sql<{ email: string }>`
    select r.email from recipients r where ${segmentPredicate(parsed(text), now, options)}
  `.execute(db.kysely);
  return rows.rows.map((r) => r.email.split('@')[0]!.toLowerCase()).sort();
}

async function addRecipient(db: TestDb, email: string, name: string | null, attributes: Record<string, unknown>): Promise<number> {
  const row = await db.kysely
    .insertInto('recipients')
    .values({ email, name, attributes: JSON.stringify(attributes) })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

const NASTY = `x'); drop table recipients; --`;

describe(`segments over attributes (${dbLabel})`, () => {
  let db: TestDb;
  before(async () => {
    db = await openTestDb();
    // Values as a CSV import stores them (strings), and a few as the API may (JSON numbers, null).
    await addRecipient(db, 'ann@shop.test', 'Ann Smith', { plan: 'pro', score: '50', city: 'Berlin', company: 'Acme GmbH', signup: '2026-01-15' });
    await addRecipient(db, 'bob@shop.test', 'Bob', { plan: 'PRO', score: '49.5', city: 'Paris', company: 'acme inc', signup: '2025-12-31', vip: 'yes' });
    await addRecipient(db, 'cat@shop.test', null, { plan: 'free', score: 'abc', city: 'berlin', signup: '2026-02-01', phone: '' });
    await addRecipient(db, 'dan@shop.test', 'Dr. Dan', { plan: 'pro', score: '1e2', city: 'Rome', note: NASTY });
    await addRecipient(db, 'eve@shop.test', 'Eve', { plan: 'basic', score: ' 70 ', city: 'Paris', phone: null });
    await addRecipient(db, 'fay@example.org', 'Fay', {
      plan: 'pro',
      score: 75,
      city: 'Paris',
      'first name': 'Fay',
      email: 'other@shop.test',
      'it\'s "q"': 'odd key',
    });
    await addRecipient(db, 'gus@shop.test', 'Gus', {});
    await addRecipient(db, 'hal@shop.test', 'Hal', { phone: '+49 30 1234', score: '0x1F' });
    // Text that is not a number in the sense of segments, though some of it casts in Postgres.
    const odd = ['٥٠', 'NaN', 'Infinity', '1_000', '1e99999', '9'.repeat(2000), '12abc', '-', '.', '1.2.3', '+-1', ''];
    for (const [i, score] of odd.entries()) await addRecipient(db, `odd${i}@shop.test`, null, { score });
  });
  after(async () => {
    await db?.dispose();
  });

  const odds = Array.from({ length: 12 }, (_, i) => `odd${i}`);
  const everyone = () => ['ann', 'bob', 'cat', 'dan', 'eve', 'fay', 'gus', 'hal', ...odds].sort();

  it("selects the issue's example", async () => {
    assert.deepEqual(await matching(db, 'plan = "pro" and score >= 50 and city in ("Berlin", "Paris")'), ['ann', 'fay']);
  });

  it('compares strings exactly, and without case when asked', async () => {
    assert.deepEqual(await matching(db, 'plan = "pro"'), ['ann', 'dan', 'fay']);
    assert.deepEqual(await matching(db, 'plan = "PRO" ignoring case'), ['ann', 'bob', 'dan', 'fay']);
    assert.deepEqual(await matching(db, 'plan != "pro"'), ['bob', 'cat', 'eve']);
    assert.deepEqual(await matching(db, 'plan != "pro" ignoring case'), ['cat', 'eve']);
    assert.deepEqual(await matching(db, 'score = "50"'), ['ann']);
    assert.deepEqual(await matching(db, 'score = "50.0"'), []);
    assert.deepEqual(await matching(db, 'score = "75"'), ['fay'], 'a JSON number compares as its text');
    // Orderings of strings by code point: ISO dates compare as dates.
    assert.deepEqual(await matching(db, 'signup >= "2026-01-01"'), ['ann', 'cat']);
    assert.deepEqual(await matching(db, 'signup < "2026"'), ['bob']);
    assert.deepEqual(await matching(db, 'city > "a" ignoring case and city < "c" ignoring case'), ['ann', 'cat']);
  });

  it('compares numbers numerically, and a value that is not a number matches no numeric comparison', async () => {
    assert.deepEqual(await matching(db, 'score >= 50'), ['ann', 'dan', 'eve', 'fay']);
    assert.deepEqual(await matching(db, 'score = 50.0'), ['ann']);
    assert.deepEqual(await matching(db, 'score = 100'), ['dan'], '1e2 is a hundred');
    assert.deepEqual(await matching(db, 'score < 60'), ['ann', 'bob']);
    assert.deepEqual(await matching(db, 'score <= 49.5'), ['bob']);
    assert.deepEqual(await matching(db, 'score > 74.999'), ['dan', 'fay']);
    assert.deepEqual(await matching(db, 'score != 50'), ['bob', 'dan', 'eve', 'fay']);
    assert.deepEqual(await matching(db, 'score >= -1000000 or score < -1000000'), ['ann', 'bob', 'dan', 'eve', 'fay']);
    assert.deepEqual(await matching(db, 'score in (50, 75)'), ['ann', 'fay']);
    assert.deepEqual(await matching(db, 'score not in (50, 75)'), ['bob', 'dan', 'eve']);
    assert.deepEqual(
      await matching(db, 'not score >= 50'),
      everyone().filter((n) => !['ann', 'dan', 'eve', 'fay'].includes(n)),
    );
  });

  it('tests lists, contains, starts with and ends with, in both cases', async () => {
    assert.deepEqual(await matching(db, 'city in ("Berlin", "Paris")'), ['ann', 'bob', 'eve', 'fay']);
    assert.deepEqual(await matching(db, 'city in ("BERLIN", "rome") ignoring case'), ['ann', 'cat', 'dan']);
    assert.deepEqual(await matching(db, 'city not in ("Paris")'), ['ann', 'cat', 'dan']);
    assert.deepEqual(await matching(db, 'city not in ("paris", "ROME") ignoring case'), ['ann', 'cat']);
    assert.deepEqual(await matching(db, 'company contains "cme"'), ['ann', 'bob']);
    assert.deepEqual(await matching(db, 'company contains "Acme"'), ['ann']);
    assert.deepEqual(await matching(db, 'company contains "ACME" ignoring case'), ['ann', 'bob']);
    assert.deepEqual(await matching(db, 'company not contains "GmbH"'), ['bob']);
    assert.deepEqual(await matching(db, 'company contains "%"'), [], 'no wildcard');
    assert.deepEqual(await matching(db, 'company contains "_"'), []);
    assert.deepEqual(await matching(db, 'name starts with "Dr."'), ['dan']);
    assert.deepEqual(await matching(db, 'name starts with "b" ignoring case'), ['bob']);
    assert.deepEqual(await matching(db, 'name not starts with "Dr."'), ['ann', 'bob', 'eve', 'fay', 'gus', 'hal']);
    assert.deepEqual(await matching(db, 'email ends with "@EXAMPLE.org" ignoring case'), ['fay']);
    assert.deepEqual(await matching(db, 'email ends with "@EXAMPLE.org"'), []);
    assert.deepEqual(await matching(db, 'email not ends with "@shop.test"'), ['fay']);
  });

  it('tells present values from missing, null and empty ones', async () => {
    assert.deepEqual(await matching(db, 'phone exists'), ['hal']);
    assert.deepEqual(await matching(db, 'phone is not empty'), ['hal']);
    assert.deepEqual(
      await matching(db, 'phone is empty'),
      everyone().filter((n) => n !== 'hal'),
    );
    assert.deepEqual(await matching(db, 'name is empty'), ['cat', ...odds].sort());
    assert.deepEqual(await matching(db, 'vip exists'), ['bob']);
    assert.deepEqual(await matching(db, 'score = ""'), ['odd11']);
  });

  it('combines with and, or, not and parentheses at the usual precedence', async () => {
    assert.deepEqual(await matching(db, 'plan = "free" or plan = "basic" and city = "Rome"'), ['cat']);
    assert.deepEqual(await matching(db, '(plan = "free" or plan = "basic") and city = "Paris"'), ['eve']);
    assert.deepEqual(await matching(db, '(plan = "free" or plan = "basic") and (city = "Paris" or city = "berlin")'), ['cat', 'eve']);
    assert.deepEqual(
      await matching(db, 'not plan = "pro"'),
      everyone().filter((n) => !['ann', 'dan', 'fay'].includes(n)),
    );
    assert.deepEqual(
      await matching(db, 'not (plan = "pro" or vip exists)'),
      everyone().filter((n) => !['ann', 'bob', 'dan', 'fay'].includes(n)),
    );
    assert.deepEqual(await matching(db, 'not not plan = "pro"'), ['ann', 'dan', 'fay']);
    assert.deepEqual(await matching(db, 'plan = "pro" and not city = "Paris"'), ['ann', 'dan']);
  });

  it('reads email and name as the columns, and attr("…") as any attribute', async () => {
    assert.deepEqual(await matching(db, 'email = "fay@example.org"'), ['fay']);
    assert.deepEqual(await matching(db, 'email = "other@shop.test"'), []);
    assert.deepEqual(await matching(db, 'attr("email") = "other@shop.test"'), ['fay']);
    assert.deepEqual(await matching(db, 'attr("first name") = "Fay"'), ['fay']);
    assert.deepEqual(await matching(db, String.raw`attr("it's \"q\"") exists`), ['fay']);
    assert.deepEqual(await matching(db, 'Name = "Bob"'), ['bob']);
  });

  it('matches nobody on an attribute no recipient has', async () => {
    assert.deepEqual(await matching(db, 'shoe_size = 42'), []);
    assert.deepEqual(await matching(db, 'shoe_size = "42"'), []);
    assert.deepEqual(await matching(db, 'shoe_size exists'), []);
    assert.deepEqual(await matching(db, 'shoe_size in ("a", "b")'), []);
    assert.deepEqual(await matching(db, 'shoe_size contains ""'), []);
    assert.deepEqual(await matching(db, 'shoe_size != 42'), []);
  });

  it('takes injection attempts in every kind of value and attribute name as literal text', async () => {
    const quoted = JSON.stringify(NASTY);
    assert.deepEqual(await matching(db, `note = ${quoted}`), ['dan']);
    assert.deepEqual(await matching(db, `note = '${NASTY.replaceAll("'", "\\'")}'`), ['dan']);
    const nobody = [
      `name = ${quoted}`,
      `email = ${quoted}`,
      `name = ${quoted} ignoring case`,
      `plan != ${quoted} and plan = "x"`,
      `plan < ${quoted} and plan > ${quoted}`,
      `plan in (${quoted}, "x' or '1'='1")`,
      `plan in (${quoted}) ignoring case`,
      `plan contains ${quoted}`,
      `plan starts with ${quoted}`,
      `plan ends with ${quoted} ignoring case`,
      `plan = "pro' or 'a'='a"`,
      `plan = "pro\\" or 1=1 --"`,
      `plan = "$1"`,
      `attr(${quoted}) = "x"`,
      `attr("plan') or 1=1 --") exists`,
      `attr("plan"" or 1=1 --") exists`.replace('""', '\\"'),
      `attr("x' || (select 1) || '") is not empty`,
      `attr("'") = 1`,
    ];
    for (const text of nobody) assert.deepEqual(await matching(db, text), [], text);
    assert.deepEqual(await matching(db, `note not contains ${quoted}`), []);
    assert.deepEqual(await matching(db, `note contains "drop table"`), ['dan']);
    const count = await sql<{ n: number }>`select count(*)::int as n from recipients`.execute(db.kysely);
    assert.equal(count.rows[0]!.n, everyone().length, 'the table is still there, whole');

    // The statement's text is made of fixed pieces only: the user's words travel as parameters.
    const compiled = sql`select 1 from recipients r where ${segmentPredicate(parsed(`attr(${quoted}) = ${quoted} or note in (${quoted})`), NOW)}`.compile(
      db.kysely,
    );
    assert.ok(!compiled.sql.includes('drop table'), compiled.sql);
    assert.deepEqual(compiled.parameters.filter((p) => p === NASTY).length, 2);
  });

  it('never raises a cast error on text that is not a number, whatever the comparison', async () => {
    for (const op of ['=', '!=', '<', '<=', '>', '>=']) {
      const found = await matching(db, `score ${op} 0 and score exists`);
      for (const n of found) assert.ok(['ann', 'bob', 'dan', 'eve', 'fay'].includes(n), `score ${op} 0 selected ${n}`);
    }
    assert.deepEqual(await matching(db, 'score in (0, 1, 2)'), []);
  });
});

describe(`segments over engagement (${dbLabel})`, () => {
  let db: TestDb;
  const ids = new Map<string, number>();
  const campaigns: Record<string, number> = {};
  let eventNo = 0;

  async function sent(campaign: string, who: string, status: 'sent' | 'failed' = 'sent'): Promise<void> {
    // As the claim leaves it, then the result as the sender writes it.
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, worker_id, claimed_at)
      values (${campaigns[campaign]!}, ${ids.get(who)!}, 'queued', 'w1', now())
    `.execute(db.kysely);
    await writeResults(db.kysely, [
      {
        campaignId: campaigns[campaign]!,
        recipientId: ids.get(who)!,
        status,
        attempts: 1,
        providerId: status === 'sent' ? `<${who}.${campaign}@mg.test>` : null,
        errorCode: status === 'failed' ? 'rejected' : null,
        errorMessage: null,
        sentAt: status === 'sent' ? daysAgo(200) : null,
      },
    ]);
  }

  async function event(campaign: string, who: string, type: string, at: Date, extra: Partial<IncomingEvent> = {}): Promise<void> {
    const delivery = { campaignId: campaigns[campaign]!, recipientId: ids.get(who)! };
    const id = `ev-${++eventNo}`;
    const statuses = await recordEvents(db.kysely, [
      { id, type, at, delivery, deliveryText: `${delivery.campaignId}.${delivery.recipientId}`, payload: JSON.stringify({ id }), source: 'webhook', ...extra },
    ]);
    assert.deepEqual(statuses, ['recorded']);
  }

  before(async () => {
    db = await openTestDb();
    for (const who of ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8']) ids.set(who, await addRecipient(db, `${who}@eng.test`, null, {}));
    ids.set('p9', await addRecipient(db, 'P9@Eng.test', null, {}));
    const list = await db.kysely.insertInto('lists').values({ name: 'eng' }).returning('id').executeTakeFirstOrThrow();
    const started: Record<string, Date | null> = { c1: daysAgo(100), c2: daysAgo(50), c3: daysAgo(10), draft: null, later: daysAgo(-1) };
    for (const [name, at] of Object.entries(started)) {
      campaigns[name] = await seedCampaign(db.kysely, list.id, { status: at ? 'running' : 'draft' });
      await sql`update campaigns set started_at = ${at?.toISOString() ?? null}::timestamptz where id = ${campaigns[name]!}`.execute(db.kysely);
    }
    // p1 opened c1 long ago.
    await sent('c1', 'p1');
    await event('c1', 'p1', 'delivered', daysAgo(99));
    await event('c1', 'p1', 'opened', daysAgo(95));
    // p2 opened and clicked c3 recently; the later click arrives first.
    await sent('c3', 'p2');
    await event('c3', 'p2', 'opened', daysAgo(6));
    await event('c3', 'p2', 'clicked', daysAgo(5), { url: 'https://shop.test/a' });
    await event('c3', 'p2', 'clicked', daysAgo(8), { url: 'https://shop.test/b' });
    // p3 bounced hard in c2 (which also suppresses the address); p4 only softly.
    await sent('c2', 'p3');
    await event('c2', 'p3', 'failed', daysAgo(49), { severity: 'permanent', reason: 'bounce', code: 550 });
    await sent('c2', 'p4');
    await event('c2', 'p4', 'failed', daysAgo(49), { severity: 'temporary', reason: 'greylisted', code: 421 });
    // p5 complained about c1.
    await sent('c1', 'p5');
    await event('c1', 'p5', 'complained', daysAgo(98));
    // p6 was never mailed, but their address is on an imported bounce list.
    await addSuppressions(db.kysely, ['p6@eng.test'], 'bounced', 'import');
    // p7 was refused at sending (never accepted) and is queued in a later campaign.
    await sent('c3', 'p7', 'failed');
    await sql`insert into deliveries (campaign_id, recipient_id, status) values (${campaigns.later!}, ${ids.get('p7')!}, 'queued')`.execute(db.kysely);
    // p8: nothing at all. p9: complained, found by their address in another case.
    await addSuppressions(db.kysely, [' p9@ENG.test '], 'complained', 'manual');
  });
  after(async () => {
    await db?.dispose();
  });

  it('keeps the latest open and click on the outcome, whatever order the events came in', async () => {
    const row = await db.kysely
      .selectFrom('delivery_outcomes')
      .select(['first_click_at', 'last_click_at', 'first_open_at', 'last_open_at'])
      .where('campaign_id', '=', campaigns.c3!)
      .where('recipient_id', '=', ids.get('p2')!)
      .executeTakeFirstOrThrow();
    assert.equal(row.first_click_at?.getTime(), daysAgo(8).getTime());
    assert.equal(row.last_click_at?.getTime(), daysAgo(5).getTime());
    assert.equal(row.last_open_at?.getTime(), daysAgo(6).getTime());
  });

  it('opened / clicked within N days counts from the latest event', async () => {
    assert.deepEqual(await matching(db, 'opened within 90 days'), ['p2']);
    assert.deepEqual(await matching(db, 'opened within 95 days'), ['p1', 'p2'], 'the bound is inclusive');
    assert.deepEqual(await matching(db, 'opened within 94 days'), ['p2']);
    assert.deepEqual(await matching(db, 'clicked within 6 days'), ['p2'], 'the latest click, not the first');
    assert.deepEqual(await matching(db, 'clicked within 4 days'), []);
    assert.deepEqual(await matching(db, 'clicked within 7 days', daysAgo(-10)), [], 'measured back from now');
    assert.deepEqual(await matching(db, 'opened'), ['p1', 'p2']);
    assert.deepEqual(await matching(db, 'clicked'), ['p2']);
    assert.deepEqual(await matching(db, 'not opened within 90 days'), ['p1', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8', 'p9']);
  });

  it('opened / clicked in the last K campaigns looks at the K most recently started ones', async () => {
    // Started before now, newest first: c3, c2, c1 (the draft has not started; "later" starts after now).
    assert.deepEqual(await matching(db, 'opened in the last campaign'), ['p2']);
    assert.deepEqual(await matching(db, 'opened in the last 2 campaigns'), ['p2']);
    assert.deepEqual(await matching(db, 'opened in the last 3 campaigns'), ['p1', 'p2']);
    assert.deepEqual(await matching(db, 'clicked in the last 1 campaign'), ['p2']);
    // The campaign whose audience it is does not count among the last ones.
    assert.deepEqual(await matching(db, 'opened in the last campaign', NOW, { campaignId: campaigns.c3! }), []);
    assert.deepEqual(await matching(db, 'opened in the last 2 campaigns', NOW, { campaignId: campaigns.c3! }), ['p1']);
    // As of a time before c3 started, c3 is not among them.
    assert.deepEqual(await matching(db, 'opened in the last 2 campaigns', daysAgo(20)), ['p1']);
  });

  it('bounced is a permanent failure after acceptance or a bounce suppression; complained likewise', async () => {
    assert.deepEqual(await matching(db, 'bounced'), ['p3', 'p6']);
    assert.deepEqual(await matching(db, 'not bounced'), ['p1', 'p2', 'p4', 'p5', 'p7', 'p8', 'p9']);
    assert.deepEqual(await matching(db, 'complained'), ['p5', 'p9']);
    assert.deepEqual(await matching(db, 'not complained'), ['p1', 'p2', 'p3', 'p4', 'p6', 'p7', 'p8']);
    assert.deepEqual(await matching(db, 'bounced or complained'), ['p3', 'p5', 'p6', 'p9']);
    assert.deepEqual(await matching(db, 'not (bounced or complained)'), ['p1', 'p2', 'p4', 'p7', 'p8']);
  });

  it('never sent means no delivery of theirs was ever accepted', async () => {
    assert.deepEqual(await matching(db, 'never sent'), ['p6', 'p7', 'p8', 'p9']);
    assert.deepEqual(await matching(db, 'not never sent'), ['p1', 'p2', 'p3', 'p4', 'p5']);
  });

  it('combines engagement with attributes', async () => {
    await sql`update recipients set attributes = '{"plan": "pro"}' where email in ('p2@eng.test', 'p3@eng.test', 'p8@eng.test')`.execute(db.kysely);
    assert.deepEqual(await matching(db, 'plan = "pro" and clicked within 90 days and not bounced'), ['p2']);
    assert.deepEqual(await matching(db, 'plan = "pro" and (never sent or bounced)'), ['p3', 'p8']);
    assert.deepEqual(await matching(db, 'clicked within 6 days or complained or plan = "pro"'), ['p2', 'p3', 'p5', 'p8', 'p9']);
    assert.deepEqual(await matching(db, 'not (opened in the last 3 campaigns or bounced or never sent)'), ['p4', 'p5']);
    assert.deepEqual(await matching(db, 'not opened within 94 days and not complained and not never sent'), ['p1', 'p3', 'p4']);
    assert.deepEqual(await matching(db, 'not clicked and bounced or not opened within 94 days and not bounced and plan = "pro"'), ['p3', 'p6', 'p8']);
  });
});

describe(`never sent with the kept mark (${dbLabel})`, () => {
  let db: TestDb;
  const ids = new Map<string, number>();
  let list = 0;

  async function send(campaign: number, who: string, status: 'sent' | 'failed'): Promise<void> {
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, worker_id, claimed_at)
      values (${campaign}, ${ids.get(who)!}, 'queued', 'w1', now())
    `.execute(db.kysely);
    await writeResults(db.kysely, [
      {
        campaignId: campaign,
        recipientId: ids.get(who)!,
        status,
        attempts: 1,
        providerId: status === 'sent' ? `<${who}.${campaign}@mg.test>` : null,
        errorCode: status === 'failed' ? 'rejected' : null,
        errorMessage: null,
        sentAt: status === 'sent' ? daysAgo(3) : null,
      },
    ]);
  }
  const setStatus = (campaign: number, status: string) => sql`update campaigns set status = ${status} where id = ${campaign}`.execute(db.kysely);
  const marked = async (): Promise<string[]> =>
    (await sql<{ email: string }>`select email from recipients join sent_recipients on recipient_id = id order by email`.execute(db.kysely)).rows.map(
      (r) => r.email.split('@')[0]!,
    );

  before(async () => {
    db = await openTestDb();
    for (const who of ['q1', 'q2', 'q3', 'q4', 'q5', 'q6']) ids.set(who, await addRecipient(db, `${who}@mark.test`, null, {}));
    list = (await db.kysely.insertInto('lists').values({ name: 'mark' }).returning('id').executeTakeFirstOrThrow()).id;
  });
  after(async () => {
    await db?.dispose();
  });

  it('gives the same answer before, during and after the marking, and reads a running campaign from its deliveries', async () => {
    const a = await seedCampaign(db.kysely, list);
    const b = await seedCampaign(db.kysely, list);
    for (const who of ['q1', 'q2', 'q3']) await send(a, who, 'sent');
    await send(a, 'q4', 'failed');
    await send(b, 'q3', 'sent');
    await send(b, 'q5', 'sent');
    const expected = ['q4', 'q6'];
    assert.deepEqual(await matching(db, 'never sent'), expected);
    // Both running: nothing is marked, the deliveries answer.
    assert.equal(await markSentRecipients(db.kysely), 'idle');
    assert.deepEqual(await marked(), []);

    await setStatus(a, 'finished');
    await setStatus(b, 'paused');
    // One recipient per step: after every step the answer is the same.
    let steps = 0;
    while ((await markSentRecipients(db.kysely, { batch: 1 })) === 'more') {
      steps++;
      assert.deepEqual(await matching(db, 'never sent'), expected, `after step ${steps}`);
      assert.deepEqual(await matching(db, 'not never sent'), ['q1', 'q2', 'q3', 'q5'], `after step ${steps}`);
    }
    // a: 3 sent, one step each and one that finds the end; b: 2 and one.
    assert.equal(steps, 7);
    assert.deepEqual(await marked(), ['q1', 'q2', 'q3', 'q5']);
    const rows = await sql<{ campaign_id: number; marked_sent: number }>`
      select campaign_id, marked_sent from recipient_sends_marked order by campaign_id
    `.execute(db.kysely);
    assert.deepEqual(
      rows.rows.map((r) => [Number(r.campaign_id), Number(r.marked_sent)]),
      [
        [a, 3],
        [b, 2],
      ],
    );

    // b sends again: its kept count moved, so its deliveries are read until it is marked anew.
    await setStatus(b, 'running');
    await send(b, 'q6', 'sent');
    assert.deepEqual(await matching(db, 'never sent'), ['q4']);
    assert.equal(await markSentRecipients(db.kysely), 'idle', 'a running campaign is not marked');
    await setStatus(b, 'finished');
    while ((await markSentRecipients(db.kysely)) === 'more');
    assert.deepEqual(await marked(), ['q1', 'q2', 'q3', 'q5', 'q6']);
    assert.deepEqual(await matching(db, 'never sent'), ['q4']);

    // The mark is what answers for a marked campaign: with a's rows gone (purged), its
    // recipients were still sent.
    await purgeCampaignDetails(db, a);
    assert.equal(Number((await sql<{ n: number }>`select count(*) as n from deliveries where campaign_id = ${a}`.execute(db.kysely)).rows[0]!.n), 0);
    assert.deepEqual(await matching(db, 'never sent'), ['q4']);
  });

  it('marks a campaign before its details are purged, whether or not the background marking got to it', async () => {
    const c = await seedCampaign(db.kysely, list);
    const fresh = await addRecipient(db, 'q7@mark.test', null, {});
    ids.set('q7', fresh);
    await send(c, 'q7', 'sent');
    await setStatus(c, 'finished');
    assert.deepEqual(await matching(db, 'never sent'), ['q4']);
    await purgeCampaignDetails(db, c);
    assert.deepEqual(await matching(db, 'never sent'), ['q4']);
    assert.ok((await marked()).includes('q7'));
  });
});

describe(`migration 0015 marks the recipients already sent to (${dbLabel})`, () => {
  let db: TestDb;
  before(async () => {
    db = await openTestDb();
  });
  after(async () => {
    await db?.dispose();
  });

  it('marks every recipient with a sent delivery and records each campaign as marked', async () => {
    await migrateTo(db, '0013_erasure');
    const list = (await sql<{ id: number }>`insert into lists (name) values ('m') returning id`.execute(db.kysely)).rows[0]!.id;
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map(
        async (x) => (await sql<{ id: number }>`insert into recipients (email) values (${`${x}@m.test`}) returning id`.execute(db.kysely)).rows[0]!.id,
      ),
    );
    const campaign = (
      await sql<{ id: number }>`
        insert into campaigns (name, list_id, template, subject, from_address, status) values ('m', ${list}, 't', 's', 'f@m.test', 'finished') returning id
      `.execute(db.kysely)
    ).rows[0]!.id;
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, sent_at)
      values (${campaign}, ${a}, 'sent', now()), (${campaign}, ${b}, 'failed', null), (${campaign}, ${c}, 'sent', now())
    `.execute(db.kysely);
    await migrateToLatest(db);
    const rows = await sql<{ email: string }>`select email from recipients join sent_recipients on recipient_id = id order by email`.execute(db.kysely);
    assert.deepEqual(
      rows.rows.map((r) => r.email),
      ['a@m.test', 'c@m.test'],
    );
    const mark = await sql<{ marked_sent: number }>`select marked_sent from recipient_sends_marked where campaign_id = ${campaign}`.execute(db.kysely);
    assert.equal(Number(mark.rows[0]?.marked_sent), 2);
    assert.equal(await markSentRecipients(db.kysely), 'idle');
    assert.deepEqual(await matching(db, 'never sent'), ['b']);
  });
});

describe(`migration 0011 fills the latest open and click from stored events (${dbLabel})`, () => {
  let db: TestDb;
  before(async () => {
    db = await openTestDb();
  });
  after(async () => {
    await db?.dispose();
  });

  it('takes the latest event, or the first open or click where the events are gone', async () => {
    await migrateTo(db, '0010_event_count_plans');
    // Plain SQL with the columns of 0010: later migrations may add columns the helpers fill.
    const list = (await sql<{ id: number }>`insert into lists (name) values ('m') returning id`.execute(db.kysely)).rows[0]!.id;
    const a = (await sql<{ id: number }>`insert into recipients (email) values ('a@m.test') returning id`.execute(db.kysely)).rows[0]!.id;
    const b = (await sql<{ id: number }>`insert into recipients (email) values ('b@m.test') returning id`.execute(db.kysely)).rows[0]!.id;
    const c = (
      await sql<{ id: number }>`
        insert into campaigns (name, list_id, template, subject, from_address, status) values ('m', ${list}, 't', 's', 'f@m.test', 'finished') returning id
      `.execute(db.kysely)
    ).rows[0]!.id;
    await sql`insert into deliveries (campaign_id, recipient_id, status, sent_at) values (${c}, ${a}, 'sent', now()), (${c}, ${b}, 'sent', now())`.execute(
      db.kysely,
    );
    await sql`
      insert into delivery_outcomes (campaign_id, recipient_id, standing, first_open_at, opens, first_click_at, clicks)
      values (${c}, ${a}, 'accepted', ${daysAgo(9).toISOString()}::timestamptz, 2, ${daysAgo(8).toISOString()}::timestamptz, 1),
             (${c}, ${b}, 'accepted', ${daysAgo(7).toISOString()}::timestamptz, 1, null, 0)
    `.execute(db.kysely);
    await sql`
      insert into delivery_events (id, campaign_id, recipient_id, event, occurred_at, payload)
      values ('m1', ${c}, ${a}, 'opened', ${daysAgo(9).toISOString()}::timestamptz, '{}'),
             ('m2', ${c}, ${a}, 'opened', ${daysAgo(3).toISOString()}::timestamptz, '{}'),
             ('m3', ${c}, ${a}, 'clicked', ${daysAgo(8).toISOString()}::timestamptz, '{}')
    `.execute(db.kysely);
    await migrateToLatest(db);
    const rows = await db.kysely.selectFrom('delivery_outcomes').select(['recipient_id', 'last_open_at', 'last_click_at']).orderBy('recipient_id').execute();
    assert.deepEqual(
      rows.map((r) => [Number(r.recipient_id), r.last_open_at?.getTime() ?? null, r.last_click_at?.getTime() ?? null]),
      [
        [a, daysAgo(3).getTime(), daysAgo(8).getTime()],
        [b, daysAgo(7).getTime(), null],
      ],
    );
  });
});
