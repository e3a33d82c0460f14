import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { packageRoot } from '../src/config/paths.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { serverOptions } from './support/server.js';

const TOKEN = 'api-compose-token';
const FROM = 'Shop <shop@example.org>';

interface FieldProblem {
  field: string;
  message: string;
}
interface Answer {
  status: number;
  body: {
    error?: string;
    fields?: FieldProblem[];
    [key: string]: unknown;
  };
}
interface CampaignBody {
  id: number;
  name: string;
  status: string;
  template: string;
  subject: string;
  from: string;
  replyTo: string | null;
  tags: string[];
  ratePerSecond: number | null;
  audience: { lists: string[]; excludeLists: string[]; segment: string | null; where: string | null; size: number | null };
}

/** A templates folder of its own: Herald's, plus folders a picker must and must not list. */
function templatesFixture(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-compose-templates-'));
  fs.cpSync(path.join(packageRoot, 'templates'), dir, { recursive: true });
  const folder = (name: string, files: Record<string, string>) => {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name, file), text);
  };
  folder('mjml-only', { 'html.mjml.njk': '<mjml><mj-body><mj-text>Hi {{ name }}</mj-text></mj-body></mjml>', 'text.njk': 'Hi {{ name }}' });
  folder('broken', { 'html.njk': '<p>\n<b>{{ name }}</b>\n{% endif %}\n', 'text.njk': 'Hi' });
  folder('text-only', { 'text.njk': 'Hi' });
  folder('notes', { 'README.md': 'not a template' });
  folder('bad name', { 'html.njk': '<p>x</p>', 'text.njk': 'x' });
  folder('_shared', { 'html.njk': '<p>x</p>' });
  return dir;
}

describe(`composing a campaign through the API: templates, drafts edited, fields named (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;
  let templates: string;
  const previousTemplates = process.env.HERALD_TEMPLATES_DIR;

  const call = async (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown): Promise<Answer> => {
    const res = await request(`${server.url}${url}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.statusCode, body: (await res.body.json()) as Answer['body'] };
  };
  const ok = async <T = CampaignBody>(method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown): Promise<T> => {
    const r = await call(method, url, body);
    assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as T;
  };
  /** The fields an answer names, sorted. */
  const fieldsOf = (r: Answer) => (r.body.fields ?? []).map((f) => f.field).sort();
  const importCsv = async (list: string, emails: string[]) => {
    await ok('POST', '/api/v1/lists', { name: list });
    const res = await request(`${server.url}/api/v1/lists/${list}/recipients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' },
      body: ['email,name,plan', ...emails.map((e, i) => `${e},Person ${i},${i % 2 ? 'pro' : 'free'}`)].join('\n'),
    });
    assert.equal(res.statusCode, 200, await res.body.text());
    await res.body.dump();
  };
  const draft = (extra: Record<string, unknown> = {}) =>
    ok('POST', '/api/v1/campaigns', { name: 'Draft', lists: ['customers'], template: 'spring-sale', subject: 'Hi {{ name }}', from: FROM, ...extra });

  before(async () => {
    templates = templatesFixture();
    process.env.HERALD_TEMPLATES_DIR = templates;
    db = await openTestDb();
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config: loadConfig({ ...process.env, HERALD_API_TOKEN: TOKEN }) }));
    await importCsv(
      'customers',
      Array.from({ length: 12 }, (_, i) => `c${i + 1}@example.org`),
    );
    await importCsv(
      'press',
      Array.from({ length: 3 }, (_, i) => `c${i + 1}@example.org`),
    );
    await importCsv(
      'trial',
      Array.from({ length: 5 }, (_, i) => `t${i + 1}@example.org`),
    );
    await ok('POST', '/api/v1/segments', { name: 'pro', where: 'plan = "pro"' });
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
    if (previousTemplates === undefined) delete process.env.HERALD_TEMPLATES_DIR;
    else process.env.HERALD_TEMPLATES_DIR = previousTemplates;
    fs.rmSync(templates, { recursive: true, force: true });
  });

  it('describes the new routes in the OpenAPI document, the PATCH body with every field', async () => {
    const spec = await ok<{
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } }>>;
    }>('GET', '/openapi.json');
    assert.ok(spec.paths['/api/v1/templates']?.get);
    const patch = spec.paths['/api/v1/campaigns/{id}']?.patch;
    assert.ok(patch?.requestBody);
    const properties = Object.keys(patch.requestBody.content['application/json']!.schema.properties).sort();
    const create = Object.keys(spec.paths['/api/v1/campaigns']!.post!.requestBody!.content['application/json']!.schema.properties).sort();
    assert.deepEqual(properties, create);
    assert.ok(properties.includes('replyTo') && properties.includes('ratePerSecond'), properties.join(', '));
  });

  it('lists the template folders a campaign can name, with their parts', async () => {
    const { items } = await ok<{ items: Array<{ name: string; parts: string[] }> }>('GET', '/api/v1/templates');
    assert.deepEqual(items, [
      { name: 'broken', parts: ['html.njk', 'text.njk'] },
      { name: 'mjml-only', parts: ['html.mjml.njk', 'text.njk'] },
      { name: 'product-news', parts: ['html.mjml.njk'] },
      { name: 'spring-sale', parts: ['html.njk', 'text.njk'] },
    ]);
  });

  it('creates a draft, not started, and names every wrong field in one answer', async () => {
    const created = await draft();
    assert.equal(created.status, 'draft');
    const row = await db.kysely
      .selectFrom('campaigns')
      .select(['status', 'started_at', 'audience_size'])
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { status: 'draft', started_at: null, audience_size: null });

    const wrong = await call('POST', '/api/v1/campaigns', {
      name: '',
      template: '../etc',
      subject: '',
      from: 'not an address',
      replyTo: 'Shop <nope>',
      tags: ['spring', 'x'.repeat(200)],
      ratePerSecond: 0,
      segment: 'pro',
      where: 'plan = "free"',
      colour: 'red',
    });
    assert.equal(wrong.status, 400);
    assert.deepEqual(fieldsOf(wrong), ['colour', 'from', 'lists', 'name', 'ratePerSecond', 'replyTo', 'subject', 'tags.1', 'template', 'where']);
    const message = (field: string) => wrong.body.fields!.find((f) => f.field === field)!.message;
    assert.match(message('from'), /addr@domain/);
    assert.match(message('subject'), /^required/);
    assert.match(message('name'), /^required/);
    assert.match(message('lists'), /at least one list/);
    assert.match(message('where'), /segment or where, not both/);
    // The summary names them too, for a client that shows one line.
    assert.match(wrong.body.error!, /^invalid request body: .*from: /);
    // Fields left out say so.
    const empty = await call('POST', '/api/v1/campaigns', {});
    assert.deepEqual(empty.body.fields, [
      { field: 'name', message: 'required' },
      { field: 'template', message: 'required' },
      { field: 'subject', message: 'required' },
      { field: 'from', message: 'required' },
      { field: 'lists', message: 'name at least one list (list or lists)' },
    ]);
    // A line break in a header field is refused before anything else is looked at.
    const header = await call('POST', '/api/v1/campaigns', {
      name: 'X',
      lists: ['customers'],
      template: 'spring-sale',
      subject: 'Hi\r\nBcc: all@example.org',
      from: FROM,
    });
    assert.equal(header.status, 400);
    assert.deepEqual(header.body.fields, [{ field: 'subject', message: 'must be one line: a line break (CR or LF) would start a new mail header' }]);
  });

  it('names the field of what the database or the templates refuse: lists, segment, template, subject', async () => {
    const base = { name: 'X', lists: ['customers'], template: 'spring-sale', subject: 'Hi', from: FROM };
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ lists: ['customers', 'nobody'] }, 'lists', /list 'nobody' does not exist/],
      [{ excludeLists: ['ghosts'] }, 'excludeLists', /excluded list 'ghosts' does not exist/],
      [{ excludeLists: ['customers'] }, 'excludeLists', /also included/],
      [{ segment: 'nope' }, 'segment', /segment 'nope' does not exist/],
      [{ where: 'plan = ' }, 'where', /expected a value/],
      [{ template: 'missing' }, 'template', /template 'missing' not found/],
      [{ template: 'text-only' }, 'template', /text-only\/html\.njk is missing/],
      [{ template: 'broken' }, 'template', /broken\/html\.njk:3:\d+: .*endif/],
      [{ subject: 'Hi {{ name ' }, 'subject', /^subject/],
    ];
    const wrong: string[] = [];
    for (const [change, field, pattern] of cases) {
      const r = await call('POST', '/api/v1/campaigns', { ...base, ...change });
      const f = r.body.fields ?? [];
      if (r.status !== 400 || f.length !== 1 || f[0]!.field !== field || !pattern.test(f[0]!.message))
        wrong.push(`${JSON.stringify(change)}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('edits a draft: the patch merged in, the whole checked as at create, the audience its start fixes', async () => {
    const created = await draft({ replyTo: 'Help <help@example.org>', tags: ['spring'], ratePerSecond: 50, segment: 'pro' });
    assert.equal(created.audience.segment, 'pro');

    // Settings and the lists; the segment stays as it was.
    const edited = await ok('PATCH', `/api/v1/campaigns/${created.id}`, {
      name: 'Spring, edited',
      subject: 'Hello {{ name }}',
      tags: ['spring', 'edited'],
      lists: ['customers', 'trial'],
      excludeLists: ['press'],
    });
    assert.equal(edited.id, created.id);
    assert.equal(edited.status, 'draft');
    assert.equal(edited.name, 'Spring, edited');
    assert.equal(edited.subject, 'Hello {{ name }}');
    assert.deepEqual(edited.tags, ['spring', 'edited']);
    assert.equal(edited.replyTo, 'Help <help@example.org>');
    assert.equal(edited.ratePerSecond, 50);
    assert.equal(edited.template, 'spring-sale');
    assert.deepEqual(edited.audience, { lists: ['customers', 'trial'], excludeLists: ['press'], segment: 'pro', where: null, size: null, fixed: false });

    // The filter: text replaces the segment; null clears an optional setting.
    const text = await ok('PATCH', `/api/v1/campaigns/${created.id}`, { where: 'plan = "free"', replyTo: null, ratePerSecond: null });
    assert.equal(text.audience.segment, null);
    assert.equal(text.audience.where, 'plan = "free"');
    assert.equal(text.replyTo, null);
    assert.equal(text.ratePerSecond, null);
    const row = await db.kysely
      .selectFrom('campaigns')
      .select(['segment_id', 'where_text', 'reply_to', 'rate_per_second', 'list_id'])
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(
      { ...row, list_id: undefined },
      { segment_id: null, where_text: 'plan = "free"', reply_to: null, rate_per_second: null, list_id: undefined },
    );

    // Wrong patches change nothing and name their field.
    const before = await ok('GET', `/api/v1/campaigns/${created.id}`);
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ from: 'nope', tags: ['x'.repeat(200)] }, ['from', 'tags.0']],
      [{ lists: [] }, ['lists']],
      [{ template: 'broken' }, ['template']],
      [{ subject: '{% if %}' }, ['subject']],
      [{ segment: 'pro', where: 'plan = "pro"' }, ['where']],
      [{ excludeLists: ['nobody'] }, ['excludeLists']],
      [{ status: 'running' }, ['status']],
    ];
    const wrong: string[] = [];
    for (const [patch, fields] of cases) {
      const r = await call('PATCH', `/api/v1/campaigns/${created.id}`, patch);
      if (r.status !== 400 || JSON.stringify(fieldsOf(r)) !== JSON.stringify(fields))
        wrong.push(`${JSON.stringify(patch)}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(await ok('GET', `/api/v1/campaigns/${created.id}`), before);

    // Started, the edited audience is what is fixed: customers and trial, less press, the free ones.
    const started = await ok('POST', `/api/v1/campaigns/${created.id}/start`);
    assert.equal(started.status, 'running');
    // customers c1..c12 and trial t1..t5 were imported with plan free at even positions.
    const free = [...Array.from({ length: 12 }, (_, i) => i), ...Array.from({ length: 5 }, (_, i) => i)].filter((i) => i % 2 === 0).length;
    const pressFree = [0, 1, 2].filter((i) => i % 2 === 0).length;
    assert.equal(started.audience.size, free - pressFree);
  });

  it("answers a draft's content as its files make it now, and 409 naming the file once they no longer do", async () => {
    fs.cpSync(path.join(templates, 'spring-sale'), path.join(templates, 'vanishing'), { recursive: true });
    const { id } = await draft({ template: 'vanishing' });
    const content = await ok<{ stored: boolean; hash: string; template: string; files: Record<string, string> }>('GET', `/api/v1/campaigns/${id}/content`);
    assert.equal(content.stored, false);
    assert.equal(content.template, 'vanishing');
    assert.match(content.hash, /^[0-9a-f]{64}$/);
    assert.ok('vanishing/html.njk' in content.files, Object.keys(content.files).join(', '));
    fs.rmSync(path.join(templates, 'vanishing', 'html.njk'));
    const gone = await call('GET', `/api/v1/campaigns/${id}/content`);
    assert.equal(gone.status, 409);
    assert.match(gone.body.error ?? '', /^template error: .*vanishing\/html\.njk is missing/);
  });

  it('refuses to edit a campaign that is not a draft (409), and a campaign that does not exist (404)', async () => {
    const scheduled = await draft();
    await ok('POST', `/api/v1/campaigns/${scheduled.id}/schedule`, { at: new Date(Date.now() + 86_400_000).toISOString() });
    const r = await call('PATCH', `/api/v1/campaigns/${scheduled.id}`, { name: 'Late change' });
    assert.equal(r.status, 409);
    assert.equal(r.body.error, `campaign ${scheduled.id} is scheduled: only a draft can be edited (create a new campaign, or cancel this one first)`);
    assert.equal((await ok('GET', `/api/v1/campaigns/${scheduled.id}`)).name, 'Draft');

    const running = await draft();
    await ok('POST', `/api/v1/campaigns/${running.id}/start`);
    const r2 = await call('PATCH', `/api/v1/campaigns/${running.id}`, { subject: 'Changed' });
    assert.equal(r2.status, 409);
    assert.match(r2.body.error!, /is running: only a draft can be edited/);
    assert.equal((await ok('GET', `/api/v1/campaigns/${running.id}`)).subject, 'Hi {{ name }}');

    assert.equal((await call('PATCH', '/api/v1/campaigns/987654', { name: 'x' })).status, 404);
  });
});
