import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { request } from 'undici';
import { previewAudience } from '../src/campaigns/audience.js';
import { audienceExport } from '../src/campaigns/exportAudience.js';
import { createLogger } from '../src/config/log.js';
import { loadConfig } from '../src/config/config.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { addSuppressions } from '../src/sql/addSuppressions.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { serverOptions } from './support/server.js';
import { openCliSandbox, runHerald, type CliSandbox } from './support/processes.js';

const TOKEN = 'segment-export-token';

interface Answer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Everything an export writes, as text. */
async function exported(db: TestDb, ...args: Parameters<typeof audienceExport> extends [unknown, ...infer R] ? R : never): Promise<string> {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  await (await audienceExport(db, ...args)).write(sink);
  return chunks.join('');
}

const rowsOf = (csv: string): Array<Record<string, string>> => parse(csv, { columns: true }) as Array<Record<string, string>>;

describe(`segment export (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;

  const call = async (method: 'GET' | 'POST', url: string, body?: unknown): Promise<Answer> => {
    const res = await request(`${server.url}${url}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
  };

  before(async () => {
    db = await openTestDb();
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: '', MAILGUN_DOMAIN: '', HERALD_API_TOKEN: TOKEN });
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config }));
    // 30 recipients: plan pro for every third, a city for the even ones, a note (a formula)
    // for recipient 3 only; lists `a` (1–20), `b` (11–30), `press` (every fifth).
    await sql`
      insert into recipients (email, name, attributes)
      select 'p' || g || '@example.org', 'P' || g,
        jsonb_build_object('plan', case when g % 3 = 0 then 'pro' else 'free' end, 'n', g::text)
        || case when g % 2 = 0 then jsonb_build_object('city', 'Oslo') else '{}'::jsonb end
        || case when g = 3 then jsonb_build_object('note', '=1+1') else '{}'::jsonb end
      from generate_series(1, 30) g
    `.execute(db.kysely);
    await sql`insert into lists (name) values ('a'), ('b'), ('press'), ('other')`.execute(db.kysely);
    await sql`
      insert into list_members (list_id, recipient_id)
      select l.id, r.id from lists l join recipients r on
        (l.name = 'a' and r.id <= 20) or (l.name = 'b' and r.id > 10) or (l.name = 'press' and r.id % 5 = 0)
    `.execute(db.kysely);
    await sql`insert into segments (name, expression) values ('pro', 'plan = "pro"'), ('odd-oslo', 'city = "Oslo" and n < 0')`.execute(db.kysely);
    // Recipient 6 (pro, in a, not press) is suppressed.
    await addSuppressions(db.kysely, ['p6@example.org'], 'unsubscribed', 'test');
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
  });

  it('exports the recipients the count counts, in id order, in pages, with only the attributes they have', async () => {
    const input = { lists: ['a', 'b'], excludeLists: ['press'], segment: 'pro' };
    // Pages of 2: every page boundary is crossed; the result must not depend on the page size.
    const paged = await exported(db, input, { spreadsheetSafe: false, pageSize: 2 });
    const whole = await exported(db, input, { spreadsheetSafe: false, pageSize: 1000 });
    assert.equal(paged, whole);
    const rows = rowsOf(paged);
    // pro: 3, 6, 9, …, 30; minus press (15, 30) and the suppressed 6.
    assert.deepEqual(
      rows.map((r) => r.email),
      [3, 9, 12, 18, 21, 24, 27].map((g) => `p${g}@example.org`),
    );
    assert.equal(rows.length, (await previewAudience(db, input)).count, 'as many rows as the preview counts');
    assert.deepEqual(Object.keys(rows[0]!), ['email', 'name', 'city', 'n', 'note', 'plan']);
    assert.deepEqual(rows[0], { email: 'p3@example.org', name: 'P3', city: '', n: '3', note: '=1+1', plan: 'pro' });
    assert.deepEqual(rows[1], { email: 'p9@example.org', name: 'P9', city: '', n: '9', note: '', plan: 'pro' });
  });

  it('adds the suppressed ones when asked, and leaves attributes only they have out of the header otherwise', async () => {
    await sql`update recipients set attributes = attributes || '{"only6": "x"}' where email = 'p6@example.org'`.execute(db.kysely);
    try {
      const without = rowsOf(await exported(db, { segment: 'pro', lists: ['a'] }, { spreadsheetSafe: false }));
      assert.ok(!without.some((r) => r.email === 'p6@example.org'));
      assert.ok(!('only6' in without[0]!));
      const withSuppressed = rowsOf(await exported(db, { segment: 'pro', lists: ['a'] }, { spreadsheetSafe: false, includeSuppressed: true }));
      assert.deepEqual(
        withSuppressed.map((r) => r.email),
        [3, 6, 9, 12, 15, 18].map((g) => `p${g}@example.org`),
      );
      assert.equal(withSuppressed.find((r) => r.email === 'p6@example.org')!.only6, 'x');
    } finally {
      await sql`update recipients set attributes = attributes - 'only6' where email = 'p6@example.org'`.execute(db.kysely);
    }
  });

  it('is a header alone when nobody matches', async () => {
    assert.equal(await exported(db, { segment: 'odd-oslo' }), 'email,name\n');
  });

  it('answers GET /api/v1/segments/:name/export with lists and exclusions as repeated parameters, spreadsheet-safe by default', async () => {
    const res = await call('GET', '/api/v1/segments/pro/export?lists=a&lists=b&excludeLists=press');
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers['content-type']), /^text\/csv/);
    assert.match(String(res.headers['content-disposition']), /filename="pro\.csv"/);
    const rows = rowsOf(res.text);
    assert.deepEqual(
      rows.map((r) => r.email),
      [3, 9, 12, 18, 21, 24, 27].map((g) => `p${g}@example.org`),
    );
    assert.equal(rows[0]!.note, "'=1+1");
    const raw = rowsOf((await call('GET', '/api/v1/segments/pro/export?lists=b&raw=true&includeSuppressed=true')).text);
    assert.deepEqual(
      raw.map((r) => r.email),
      [12, 15, 18, 21, 24, 27, 30].map((g) => `p${g}@example.org`),
    );

    const unknown = await call('GET', '/api/v1/segments/nope/export');
    assert.equal(unknown.status, 400);
    assert.match(unknown.text, /segment 'nope' does not exist/);
    const badList = await call('GET', '/api/v1/segments/pro/export?lists=nope');
    assert.equal(badList.status, 400);
    assert.match(badList.text, /list 'nope' does not exist/);
    assert.equal((await call('GET', '/api/v1/segments/pro/export?raw=maybe')).status, 400);
  });

  it('answers POST /api/v1/audience/export for segment text, with its syntax error at its position', async () => {
    const res = await call('POST', '/api/v1/audience/export', { where: 'city = "Oslo" and n >= 25', excludeLists: ['press'], raw: true });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      rowsOf(res.text).map((r) => r.email),
      [26, 28].map((g) => `p${g}@example.org`),
    );
    // Text that looks like SQL is a value like any other.
    const injected = await call('POST', '/api/v1/audience/export', { where: `plan = "x'); drop table recipients; --"` });
    assert.equal(injected.status, 200, injected.text);
    assert.equal(injected.text, 'email,name\n');
    assert.equal(Number((await sql<{ n: number }>`select count(*) as n from recipients`.execute(db.kysely)).rows[0]!.n), 30);

    const bad = await call('POST', '/api/v1/audience/export', { where: 'plan = ' });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /at 1:8: expected a value/);
    assert.equal((await call('POST', '/api/v1/audience/export', { lists: ['a'] })).status, 400, 'segment or where is needed');
    assert.equal((await call('POST', '/api/v1/audience/export', { segment: 'pro', where: 'plan = "x"' })).status, 400);
  });

  it('is described in the OpenAPI document', async () => {
    const spec = JSON.parse((await call('GET', '/openapi.json')).text) as { paths: Record<string, Record<string, unknown>> };
    assert.ok(spec.paths['/api/v1/segments/{name}/export']?.get);
    assert.ok(spec.paths['/api/v1/audience/export']?.post);
  });
});

describe(`segments export from the command line (${dbLabel})`, () => {
  let box: CliSandbox;
  before(async () => {
    box = await openCliSandbox('segment-export-cli', null);
  });
  after(async () => {
    await box?.close();
  });

  it('writes a saved segment or --where to a file or standard output, and names what is wrong', async () => {
    const herald = (...args: string[]) => runHerald(args, box.env);
    await herald('lists', 'create', 'club');
    await herald('lists', 'create', 'vips');
    await herald('recipients', 'add', 'ann@example.org', '--name', 'Ann', '--attr', 'plan=pro', '--attr', 'city=Oslo', '--list', 'club');
    await herald('recipients', 'add', 'bo@example.org', '--attr', 'plan=free', '--list', 'club');
    await herald('recipients', 'add', 'cy@example.org', '--attr', 'plan=pro', '--attr', 'note=@x', '--list', 'club', '--list', 'vips');
    await herald('segments', 'create', 'pros', '--where', 'plan = "pro"');

    const out = path.join(box.dir, 'pros.csv');
    await herald('segments', 'export', 'pros', '--out', out);
    assert.deepEqual(rowsOf(fs.readFileSync(out, 'utf8')), [
      { email: 'ann@example.org', name: 'Ann', city: 'Oslo', note: '', plan: 'pro' },
      { email: 'cy@example.org', name: '', city: '', note: "'@x", plan: 'pro' },
    ]);
    const stdout = await herald('segments', 'export', '--where', 'plan = "pro"', '--list', 'club', '--exclude-list', 'vips', '--raw');
    assert.deepEqual(rowsOf(stdout), [{ email: 'ann@example.org', name: 'Ann', city: 'Oslo', plan: 'pro' }]);

    await assert.rejects(herald('segments', 'export', 'nope'), /segment 'nope' does not exist/);
    await assert.rejects(herald('segments', 'export'), /give a saved segment NAME or --where/);
    await assert.rejects(herald('segments', 'export', 'pros', '--where', 'plan = "x"'), /not both/);
    await assert.rejects(herald('segments', 'export', '--where', 'plan = "pro" or'), /at 1:16: expected/);
    await assert.rejects(herald('segments', 'export', 'pros', '--list', 'nope'), /list 'nope' does not exist/);
  });
});
