import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { request } from 'undici';
import { createLogger } from '../src/config/log.js';
import { loadConfig } from '../src/config/config.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { importRecipients } from '../src/import/importRecipients.js';
import { listExport } from '../src/campaigns/exportList.js';
import { createList } from '../src/sql/createList.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { serverOptions } from './support/server.js';
import { openCliSandbox, runHerald, spawnHerald, type CliSandbox } from './support/processes.js';

const TOKEN = 'recipients-test-token';

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  text: string;
}

type Row = { email: string; name: string | null; attributes: Record<string, unknown> };

describe(`recipients by API (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;
  let dir: string;

  const call = async <T = Record<string, unknown>>(method: string, url: string, body?: unknown, contentType = 'application/json'): Promise<Answer<T>> => {
    const res = await request(`${server.url}${url}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    const json = res.headers['content-type']?.toString().startsWith('application/json');
    return { status: res.statusCode, body: (json ? JSON.parse(text) : {}) as T, text };
  };
  const row = async (email: string): Promise<Row | undefined> =>
    (await sql<Row>`select email, name, attributes from recipients where lower(email) = lower(${email})`.execute(db.kysely)).rows[0];
  /** Every list's kept member count against its rows. */
  const countsExact = async (): Promise<void> => {
    const lists = await sql<{ name: string; kept: number; real: number }>`
      select l.name, l.member_count as kept, (select count(*) from list_members m where m.list_id = l.id) as real from lists l
    `.execute(db.kysely);
    for (const l of lists.rows) assert.equal(Number(l.kept), Number(l.real), `member count of '${l.name}'`);
  };

  before(async () => {
    db = await openTestDb();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-recipients-'));
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: '', MAILGUN_DOMAIN: '', HERALD_API_TOKEN: TOKEN });
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config }));
    for (const name of ['customers', 'press']) assert.equal((await call('POST', '/api/v1/lists', { name })).status, 201);
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is described in the OpenAPI document', async () => {
    const spec = await call<{ paths: Record<string, Record<string, unknown>> }>('GET', '/openapi.json');
    for (const [path, method] of [
      ['/api/v1/recipients', 'post'],
      ['/api/v1/recipients/{email}', 'patch'],
      ['/api/v1/recipients/{email}', 'delete'],
      ['/api/v1/recipients/{email}/readmit', 'post'],
      ['/api/v1/lists/{name}/members/{email}', 'delete'],
      ['/api/v1/lists/{name}/export', 'get'],
    ] as const) {
      assert.ok(spec.body.paths[path]?.[method], `${method} ${path}`);
    }
  });

  it('creates one recipient from an object, with its name, attributes (as text) and lists', async () => {
    const res = await call<{ created: number; results: Array<{ status: string; addedTo: string[] }> }>('POST', '/api/v1/recipients', {
      email: '  Ann@Example.ORG ',
      name: 'Ann',
      attributes: { plan: 'pro', score: 50, vip: true },
      lists: ['customers'],
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.created, 1);
    assert.deepEqual(res.body.results[0]!.addedTo, ['customers']);
    assert.deepEqual(await row('ann@example.org'), { email: 'Ann@example.org', name: 'Ann', attributes: { plan: 'pro', score: '50', vip: 'true' } });
    await countsExact();
  });

  it('stores every valid item of an array and refuses each bad one by index and field', async () => {
    const res = await call<{ created: number; refused: Array<{ index: number; field: string; message: string }> }>('POST', '/api/v1/recipients', [
      { email: 'bo@example.org', name: 'Bo', lists: ['customers', 'press'] },
      { email: 'not-an-address', name: 'Nobody' },
      { email: 'cy@example.org', attributes: { city: 'Oslo' } },
      { email: 'dee@example.org', lists: ['no-such-list'] },
      { email: 'eve@example.org', attributes: { Email: 'x' } },
      { email: 'fay@example.org', attributes: { nested: { a: 1 } } },
      { email: 'BO@example.org', name: 'Bo again' },
      { email: 'gus@example.org', colour: 'blue' },
      'just a string',
      { email: 'hal@example.org', attributes: { ' padded': 'x' } },
    ]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.created, 2);
    const byIndex = new Map(res.body.refused.map((r) => [r.index, r]));
    assert.deepEqual([...byIndex.keys()], [1, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(byIndex.get(1)!.field, 'email');
    assert.match(byIndex.get(1)!.message, /invalid email/);
    assert.deepEqual([byIndex.get(3)!.field, byIndex.get(3)!.message], ['lists.0', "list 'no-such-list' does not exist"]);
    assert.equal(byIndex.get(4)!.field, 'attributes.Email');
    assert.equal(byIndex.get(5)!.field, 'attributes.nested');
    assert.deepEqual([byIndex.get(6)!.field, byIndex.get(6)!.message], ['email', 'the same address as item 0']);
    assert.equal(byIndex.get(7)!.field, 'colour');
    assert.equal(byIndex.get(8)!.field, '(item)');
    assert.equal(byIndex.get(9)!.field, 'attributes. padded');
    assert.equal((await row('bo@example.org'))?.name, 'Bo');
    assert.deepEqual((await row('cy@example.org'))?.attributes, { city: 'Oslo' });
    for (const refused of ['dee@example.org', 'eve@example.org', 'fay@example.org', 'gus@example.org', 'hal@example.org']) {
      assert.equal(await row(refused), undefined, `${refused} was not stored`);
    }
    await countsExact();
  });

  it('answers 400 naming every field when nothing is valid, and refuses oversized and empty sets', async () => {
    const none = await call<{ error: string; fields: Array<{ field: string }> }>('POST', '/api/v1/recipients', [{ email: 'x' }, { name: 'no address' }]);
    assert.equal(none.status, 400);
    assert.deepEqual(
      none.body.fields.map((f) => f.field),
      ['0.email', '1.email'],
    );
    const single = await call<{ fields: Array<{ field: string }> }>('POST', '/api/v1/recipients', { email: 'ok@example.org', attributes: { name: 'x' } });
    assert.equal(single.status, 400);
    assert.deepEqual(
      single.body.fields.map((f) => f.field),
      ['attributes.name'],
    );
    const many = Array.from({ length: 1001 }, (_, i) => ({ email: `m${i}@example.org` }));
    const tooMany = await call<{ error: string }>('POST', '/api/v1/recipients', many);
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.error, /at most 1000 per request/);
    assert.equal((await call('POST', '/api/v1/recipients', [])).status, 400);
    assert.equal((await call('POST', '/api/v1/recipients', 42)).status, 400);
    assert.equal(await row('m0@example.org'), undefined);
  });

  it('merges attributes: upsert and PATCH set what they name, null removes, the rest stays; an unchanged row is not written', async () => {
    await call('POST', '/api/v1/recipients', { email: 'mo@example.org', name: 'Mo', attributes: { plan: 'free', city: 'Rome', lang: 'it' } });
    const up = await call<{ updated: number }>('POST', '/api/v1/recipients', { email: 'MO@example.org', attributes: { plan: 'pro', city: null } });
    assert.equal(up.body.updated, 1);
    assert.deepEqual(await row('mo@example.org'), { email: 'mo@example.org', name: 'Mo', attributes: { plan: 'pro', lang: 'it' } });

    const patched = await call<{ name: string | null; attributes: Record<string, string>; changed: boolean }>('PATCH', '/api/v1/recipients/Mo%40Example.org', {
      name: null,
      attributes: { score: 7, lang: null },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual([patched.body.name, patched.body.attributes, patched.body.changed], [null, { plan: 'pro', score: '7' }, true]);

    const before = (await sql<{ updated_at: Date }>`select updated_at from recipients where email = 'mo@example.org'`.execute(db.kysely)).rows[0]!.updated_at;
    const same = await call<{ changed: boolean }>('PATCH', '/api/v1/recipients/mo@example.org', { attributes: { plan: 'pro' } });
    assert.equal(same.body.changed, false);
    const again = await call<{ unchanged: number }>('POST', '/api/v1/recipients', { email: 'mo@example.org', attributes: { score: '7' } });
    assert.equal(again.body.unchanged, 1);
    const afterAll = (await sql<{ updated_at: Date }>`select updated_at from recipients where email = 'mo@example.org'`.execute(db.kysely)).rows[0]!.updated_at;
    assert.equal(afterAll.getTime(), before.getTime(), 'nothing was written');

    assert.equal((await call('PATCH', '/api/v1/recipients/nobody@example.org', { name: 'x' })).status, 404);
    const bad = await call<{ fields: Array<{ field: string }> }>('PATCH', '/api/v1/recipients/mo@example.org', { attributes: { email: 'x' }, colour: 1 });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.fields.map((f) => f.field).sort(), ['attributes.email', 'colour']);
  });

  it('removes one person from one list and keeps the member counts exact', async () => {
    await call('POST', '/api/v1/recipients', [
      { email: 'r1@example.org', lists: ['customers', 'press'] },
      { email: 'r2@example.org', lists: ['customers'] },
    ]);
    const before = await call<{ items: Array<{ name: string; members: number }> }>('GET', '/api/v1/lists');
    const size = (answer: typeof before, name: string) => answer.body.items.find((l) => l.name === name)!.members;
    const res = await call<{ members: number; removed: string }>('DELETE', '/api/v1/lists/customers/members/R1%40example.org');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.removed, 'r1@example.org');
    assert.equal(res.body.members, size(before, 'customers') - 1);
    const after = await call<{ items: Array<{ name: string; members: number }> }>('GET', '/api/v1/lists');
    assert.equal(size(after, 'customers'), size(before, 'customers') - 1);
    assert.equal(size(after, 'press'), size(before, 'press'), 'their other list is untouched');
    assert.ok(await row('r1@example.org'), 'they stay a recipient');
    assert.equal((await call('DELETE', '/api/v1/lists/customers/members/r1@example.org')).status, 404);
    assert.equal((await call('DELETE', '/api/v1/lists/no-such/members/r1@example.org')).status, 404);
    await countsExact();
  });

  it('takes injection attempts in every field as literals', async () => {
    const listName = "x'); drop table lists; --";
    assert.equal((await call('POST', '/api/v1/lists', { name: listName })).status, 201);
    const evil = {
      email: "o'--@example.org",
      name: "Robert'); DROP TABLE recipients; --",
      attributes: {
        "plan'; delete from recipients; --": '1; drop table list_members',
        'k"\'`': "$1 ' || pg_sleep(5) || '",
        formula: '=HYPERLINK("http://evil.example","x")',
      },
      lists: [listName],
    };
    const res = await call<{ created: number }>('POST', '/api/v1/recipients', evil);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(await row(evil.email), { email: evil.email, name: evil.name, attributes: evil.attributes });
    const patched = await call('PATCH', `/api/v1/recipients/${encodeURIComponent(evil.email)}`, { attributes: { "x' or '1'='1": "' or 1=1 --" } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal((await row(evil.email))?.attributes["x' or '1'='1"], "' or 1=1 --");
    const removed = await call('DELETE', `/api/v1/lists/${encodeURIComponent(listName)}/members/${encodeURIComponent(evil.email)}`);
    assert.equal(removed.status, 200, removed.text);
    const tables = await sql<{
      n: number;
    }>`select count(*) as n from information_schema.tables where table_name in ('lists', 'recipients', 'list_members')`.execute(db.kysely);
    assert.equal(Number(tables.rows[0]!.n), 3, 'every table is still there');
    assert.ok(Number((await sql<{ n: number }>`select count(*) as n from recipients`.execute(db.kysely)).rows[0]!.n) > 5, 'no row was deleted');
    await countsExact();
  });

  it('exports a list as CSV that imports back to the same recipients, spreadsheet-safe by default', async () => {
    const people = [
      { email: 'ex1@example.org', name: 'Doe, Jane\nSecond line', attributes: { plan: 'pro', note: 'said "hi"' } },
      { email: 'ex2@example.org', name: '=1+1', attributes: { score: '-5', phone: '+4930123', cmd: "=cmd|' /C calc'!A0", at: '@SUM(A1)' } },
      { email: 'ex3@example.org', attributes: { plan: 'free', 'odd, name': 'x' } },
      { email: '-ex4@example.org', name: "O'Brien", attributes: {} },
    ];
    assert.equal((await call('POST', '/api/v1/lists', { name: 'export-me' })).status, 201);
    assert.equal(
      (
        await call(
          'POST',
          '/api/v1/recipients',
          people.map((p) => ({ ...p, lists: ['export-me'] })),
        )
      ).status,
      200,
    );

    const raw = await call('GET', '/api/v1/lists/export-me/export?raw=true');
    assert.equal(raw.status, 200);
    const rows = parse(raw.text, { columns: true }) as Array<Record<string, string>>;
    assert.deepEqual(Object.keys(rows[0]!), ['email', 'name', 'at', 'cmd', 'note', 'odd, name', 'phone', 'plan', 'score']);
    assert.deepEqual(
      rows.map((r) => r.email),
      people.map((p) => p.email),
    );
    assert.equal(rows[1]!.cmd, "=cmd|' /C calc'!A0");

    // Into a database of its own: the import reads back exactly what was exported.
    const other = await openTestDb();
    try {
      const file = path.join(dir, 'export.csv');
      fs.writeFileSync(file, raw.text);
      const listId = (await createList(other.kysely, 'copy'))!;
      const summary = await importRecipients(other, file, { listId, rejectsPath: path.join(dir, 'export.rejects.csv') });
      assert.equal(summary.imported, people.length);
      assert.equal(summary.rejected, 0);
      const copied = await sql<Row>`select email, name, attributes from recipients order by id`.execute(other.kysely);
      assert.deepEqual(
        copied.rows,
        people.map((p) => ({ email: p.email, name: p.name ?? null, attributes: p.attributes })),
      );
      const chunks: string[] = [];
      const sink = new Writable({
        write(chunk, _enc, done) {
          chunks.push(String(chunk));
          done();
        },
      });
      await (await listExport(other, 'copy', { spreadsheetSafe: false })).write(sink);
      assert.equal(chunks.join(''), raw.text, 'the copy exports byte for byte the same');
    } finally {
      await other.dispose();
    }

    const safe = await call('GET', '/api/v1/lists/export-me/export');
    const safeRows = parse(safe.text, { columns: true }) as Array<Record<string, string>>;
    assert.equal(safeRows[1]!.name, "'=1+1");
    assert.equal(safeRows[1]!.cmd, "'=cmd|' /C calc'!A0");
    assert.equal(safeRows[1]!.at, "'@SUM(A1)");
    assert.equal(safeRows[1]!.score, '-5', 'a plain number stays a number');
    assert.equal(safeRows[1]!.phone, '+4930123');
    assert.equal(safeRows[3]!.email, "'-ex4@example.org");
    assert.equal(safeRows[0]!.name, 'Doe, Jane\nSecond line');
    assert.equal((await call('GET', '/api/v1/lists/no-such/export')).status, 404);
  });

  it('imports with ?update=true: present addresses get the file attributes merged in and their name when given; without it they stay', async () => {
    assert.equal((await call('POST', '/api/v1/lists', { name: 'upd' })).status, 201);
    const upload = (csv: string, query = '') =>
      call<{ imported: number; updated: number; unchanged: number }>('POST', `/api/v1/lists/upd/recipients${query}`, csv, 'text/csv');
    assert.equal((await upload('email,name,plan,lang\nup@example.org,Uma,free,en\n')).body.imported, 1);
    const plain = await upload('email,plan,city\nUP@example.org,pro,Oslo\n');
    assert.deepEqual([plain.body.imported, plain.body.updated, plain.body.unchanged], [0, 0, 1]);
    assert.deepEqual(await row('up@example.org'), { email: 'up@example.org', name: 'Uma', attributes: { plan: 'free', lang: 'en' } });
    const merged = await upload('email,plan,city,lang\nUP@example.org,pro,Oslo,\n', '?update=true');
    assert.equal(merged.body.updated, 1);
    assert.deepEqual(await row('up@example.org'), { email: 'up@example.org', name: 'Uma', attributes: { plan: 'pro', lang: 'en', city: 'Oslo' } });
    const renamed = await upload('email,name\nup@example.org,Uma Lee\n', '?update=true');
    assert.equal(renamed.body.updated, 1);
    assert.equal((await row('up@example.org'))?.name, 'Uma Lee');
    const same = await upload('email,name\nup@example.org,Uma Lee\n', '?update=true');
    assert.deepEqual([same.body.updated, same.body.unchanged], [0, 1]);
    assert.equal((await upload('email\nx@example.org\n', '?update=maybe')).status, 400);
  });
});

describe(`recipients from the command line (${dbLabel})`, () => {
  let box: CliSandbox;
  before(async () => {
    box = await openCliSandbox('recipients-cli', null);
  });
  after(async () => {
    await box?.close();
  });

  it('adds, updates, removes from a list, exports and erases, naming file and line of each bad JSON item', async () => {
    const herald = (...args: string[]) => runHerald(args, box.env);
    await herald('lists', 'create', 'club');
    assert.match(
      await herald('recipients', 'add', 'Zoe@example.org', '--name', 'Zoe', '--attr', 'plan=pro', '--attr', 'note=a=b', '--list', 'club'),
      /1 created, 0 updated, 0 unchanged, 1 added to lists, 0 refused/,
    );

    const jsonl = path.join(box.dir, 'people.jsonl');
    fs.writeFileSync(
      jsonl,
      [
        '{"email": "yan@example.org", "name": "Yan", "lists": ["club"]}',
        '',
        '{"email": "broken@example.org", "name": ',
        '{"email": "no-at-sign", "lists": ["club"]}',
        '{"email": "xia@example.org", "attributes": {"city": "Lyon"}, "lists": ["club"]}',
        '{"email": "wes@example.org", "lists": ["nope"]}',
      ].join('\n'),
    );
    const lines = spawnHerald(['recipients', 'add', '--json', jsonl], box.env);
    assert.equal(await lines.exited, 1, lines.output());
    assert.match(lines.output(), /2 created, 0 updated, 0 unchanged, 2 added to lists, 3 refused/);
    assert.match(lines.output(), new RegExp(`${literal(jsonl)}:3: not valid JSON`));
    assert.match(lines.output(), new RegExp(`${literal(jsonl)}:4: email: invalid email`));
    assert.match(lines.output(), new RegExp(`${literal(jsonl)}:6: lists\\.0: list 'nope' does not exist`));

    const array = path.join(box.dir, 'people.json');
    fs.writeFileSync(
      array,
      '[\n  {"email": "vic@example.org",\n   "attributes": {"plan": "free"}},\n  {"email": "vic2@example.org", "attributes": {"email": "x"}},\n  {"email": "uma@example.org"}\n]\n',
    );
    const arr = spawnHerald(['recipients', 'add', '--json', array], box.env);
    assert.equal(await arr.exited, 1, arr.output());
    assert.match(arr.output(), new RegExp(`${literal(array)}:4: attributes\\.email: 'email' is a column of its own`));
    assert.match(arr.output(), /2 created/);

    assert.match(
      await herald('recipients', 'update', 'zoe@example.org', '--attr', 'city=Oslo', '--unset', 'plan'),
      /updated: name "Zoe", attributes \{"city":"Oslo","note":"a=b"\}/,
    );
    await assert.rejects(herald('recipients', 'update', 'nobody@example.org', '--attr', 'a=b'), /no recipient with the address "nobody@example.org"/);
    await assert.rejects(herald('recipients', 'add', 'q@example.org', '--attr', 'name=x'), /'name' is a column of its own/);

    assert.match(await herald('lists', 'remove', 'club', 'YAN@example.org'), /removed yan@example.org from 'club' \(2 members left\)/);
    await assert.rejects(herald('lists', 'remove', 'club', 'yan@example.org'), /is not in list 'club'/);

    const out = path.join(box.dir, 'club.csv');
    await herald('recipients', 'export', '--list', 'club', '--out', out, '--raw');
    assert.deepEqual(parse(fs.readFileSync(out, 'utf8'), { columns: true }), [
      { email: 'Zoe@example.org', name: 'Zoe', city: 'Oslo', note: 'a=b' },
      { email: 'xia@example.org', name: '', city: 'Lyon', note: '' },
    ]);

    await assert.rejects(herald('recipients', 'erase', 'zoe@example.org'), /cannot be undone: pass --yes/);
    assert.match(await herald('recipients', 'erase', 'zoe@example.org', '--yes'), /erased zoe@example.org .*\n {2}lists left: club\n {2}suppression: none/);
    assert.equal((await herald('recipients', 'show', 'ZOE@example.org')).trim(), 'erased');
    assert.match(await herald('recipients', 'count', '--list', 'club'), /^1\s*$/);
  });
});

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
