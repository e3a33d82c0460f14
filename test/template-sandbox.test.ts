import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { createCampaign } from '../src/campaigns/create.js';
import { testSend } from '../src/campaigns/testSend.js';
import { openMailgunClient } from '../src/provider/mailgun/openMailgunClient.js';
import { loadConfig, type Config } from '../src/config/config.js';
import type { MailgunClient } from '../src/provider/mailgun/client.js';
import { compileContent, describeError } from '../src/sender/render/compile.js';
import { RenderPool } from '../src/sender/render/pool.js';
import { campaignRenderSpec } from '../src/sender/render/campaignSpec.js';
import { findCampaign as getCampaign } from '../src/sql/findCampaign.js';
import { createLogger } from '../src/config/log.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { cliDatabaseEnv, MOCK_DOMAIN, MOCK_KEY, runHerald, spawnHerald, startMockProcess, type MockProcess } from './support/processes.js';
import { serverOptions } from './support/server.js';

/**
 * Known Nunjucks/Jinja escape payloads. `JS` stands for JavaScript that, if it ever ran,
 * would write a marker file, set a global, and return a secret from the environment.
 */
const PAYLOADS: Array<[label: string, template: string]> = [
  ['range.constructor', '{{ range.constructor("JS")() }}'],
  ['cycler.constructor', '{{ cycler.constructor("JS")() }}'],
  ['joiner() instance', '{{ joiner().constructor("JS")() }}'],
  ['cycler() method', '{{ cycler(1, 2).next.constructor("JS")() }}'],
  ['string literal', '{{ "".constructor.constructor("JS")() }}'],
  ['string method', '{{ name.toUpperCase.constructor("JS")() }}'],
  ['array literal', '{{ [].constructor.constructor("JS")() }}'],
  ['Date in the context', '{{ now.constructor.constructor("JS")() }}'],
  ['__proto__ chain', '{{ recipient.__proto__.constructor.constructor("JS")() }}'],
  ['computed name', '{{ range["constr" ~ "uctor"]("JS")() }}'],
  ['computed + concatenation', '{{ range["constr" + "uctor"]("JS")() }}'],
  ['{% set %} name alias', '{% set c = "constr" ~ "uctor" %}{{ range[c]("JS")() }}'],
  ['{% set %} function alias', '{% set f = joiner %}{% set g = f["con" ~ "structor"] %}{{ g("JS")() }}'],
  ['.call on a function', '{% set k = "constr" ~ "uctor" %}{{ range.call[k]("JS")() }}'],
  ['.call() of a global', '{{ range.call(null, 0, 3) }}'],
  ['.apply() of a global', '{{ joiner.apply(null, [","])() }}'],
  ['.bind() of a global', '{{ range.bind(null, 0, 3)() }}'],
  ['macro', '{% macro m() %}x{% endmacro %}{{ m["constr" ~ "uctor"]("JS")() }}'],
  ['caller in {% call %}', '{% macro m() %}{{ caller["constr" ~ "uctor"]("JS")() }}{% endmacro %}{% call m() %}x{% endcall %}'],
  ['bare constructor', '{{ constructor.constructor("JS")() }}'],
  ['bare __proto__', '{{ __proto__ }}'],
  ['valueOf() → Context → env', '{% set ctx = valueOf() %}{{ ctx.env.globals.range["constr" ~ "uctor"]("JS")() }}'],
  ['filter named valueOf', '{% set ctx = name | valueOf %}{{ ctx.env.globals.range["constr" ~ "uctor"]("JS")() }}'],
  ['sort(attribute=constructor)', '{{ [range] | sort(attribute="constructor") | first }}'],
  ['join with a computed attribute', '{{ [range] | join(",", "constr" ~ "uctor") }}'],
  ['groupby constructor', '{{ [range] | groupby("constructor") | dictsort | first | first }}'],
  ['__lookupGetter__', '{{ name.__lookupGetter__("length") }}'],
  ['prototype', '{{ joiner.prototype }}'],
  ['function caller', '{{ range.caller }}'],
  ['Jinja __class__.__mro__', '{{ "".__class__.__mro__[1].__subclasses__() }}'],
  ['Jinja self.__init__.__globals__', '{{ self.__init__.__globals__.__builtins__ }}'],
  ['Jinja lipsum os.popen', '{{ lipsum.__globals__["os"].popen("id").read() }}'],
  ['dict literal with a "__proto__" key', '{% set d = {"__proto__": range} %}{{ d["constr" ~ "uctor"]("JS")() }}'],
  ['include from a sibling folder', '{% include "DIR/templates-private/secret.njk" %}'],
];

const FIELDS = ['subject', 'html', 'text'] as const;
type Field = (typeof FIELDS)[number];

describe(`templates cannot reach JavaScript (${dbLabel})`, () => {
  let db: TestDb;
  let mock: MockProcess;
  let config: Config;
  let pool: RenderPool;
  let client: MailgunClient;
  let dir: string;
  let templates: string;
  let marker: string;
  let listName: string;
  let server: RunningServer;
  const secret = `sandbox-secret-${randomBytes(6).toString('hex')}`;
  const previousTemplatesDir = process.env.HERALD_TEMPLATES_DIR;

  /** A template folder for one payload in one part, with the payload on a known line. */
  const folderFor = (index: number, field: Field, source: string): string => {
    const name = `p${index}-${field}`;
    const folder = path.join(templates, name);
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'html.njk'), field === 'html' ? `<p>Hello {{ name }}</p>\n${source}\n` : '<p>Hello {{ name }}</p>\n');
    fs.writeFileSync(path.join(folder, 'text.njk'), field === 'text' ? `Hello {{ name }}\n\n${source}\n` : 'Hello {{ name }}\n');
    return name;
  };
  /** Where the error must point: the part, and the line the payload is on. */
  const whereFor = (index: number, field: Field): RegExp =>
    field === 'subject' ? /subject:1:\d+: / : new RegExp(`p${index}-${field}/${field}\\.njk:${field === 'html' ? 2 : 3}:\\d+: `);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-sandbox-'));
    templates = path.join(dir, 'templates');
    fs.mkdirSync(templates);
    // A folder next to the templates whose name starts with theirs: not the templates' to read.
    fs.mkdirSync(path.join(dir, 'templates-private'));
    fs.writeFileSync(path.join(dir, 'templates-private', 'secret.njk'), secret);
    marker = path.join(dir, 'pwned');
    process.env.HERALD_TEMPLATES_DIR = templates;
    // Render threads take their environment from this process when they start.
    process.env.HERALD_SANDBOX_SECRET = secret;
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '1']);
    config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url });
    listName = 'sandbox';
    await seedList(db.kysely, listName, 1, { call: 'plain data', tier: 'gold' });
    pool = new RenderPool({ threads: 1 });
    client = openMailgunClient(config);
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: 'sandbox-token', config }));
  });
  after(async () => {
    await server?.close();
    await pool?.close();
    await client?.close();
    await mock?.stop();
    await db?.dispose();
    if (previousTemplatesDir === undefined) delete process.env.HERALD_TEMPLATES_DIR;
    else process.env.HERALD_TEMPLATES_DIR = previousTemplatesDir;
    delete process.env.HERALD_SANDBOX_SECRET;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const messages = async (): Promise<unknown[]> => (await (await request(`${mock.url}/mock/messages`)).body.json()) as unknown[];

  it('still renders and sends ordinary templates that use globals, macros, filters and data named like function members', async () => {
    const name = 'benign';
    fs.mkdirSync(path.join(templates, name));
    fs.writeFileSync(
      path.join(templates, name, 'html.njk'),
      [
        '{% macro box(title) %}<b>{{ title }}</b>{{ caller() }}{% endmacro %}',
        '{% call box(name) %}[{{ recipient.call }}]{% endcall %}',
        '{% set sep = joiner("|") %}{% for i in range(3) %}{{ sep() }}{{ i }}{% endfor %}',
        '{% set c = cycler("a", "b") %}{{ c.next() }}{{ c.next() }}',
        '{{ [{n: "b"}, {n: "a"}] | sort(attribute="n") | join(",", "n") }} {{ name.toUpperCase() }} {{ recipient.hasOwnProperty("tier") }}',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(templates, name, 'text.njk'), 'Hi {{ name }} ({{ recipient.tier }})');
    const id = await createCampaign(db, config, { name, list: listName, template: name, subject: 'Hi {{ name | upper }}', from: 'news@example.org' });
    const campaign = (await getCampaign(db.kysely, id))!;
    const { outcome } = await testSend(
      db,
      campaign,
      await campaignRenderSpec(db.kysely, campaign, config, templates, 'benign'),
      pool,
      client,
      'qa@example.org',
      undefined,
    );
    assert.equal(outcome.kind, 'accepted');
    const sent = (await messages()) as Array<{ subject: string }>;
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.subject, '[TEST] Hi USER 1');
    // The mock keeps only the parts' sizes: the body itself, from the same render threads.
    const rendered = await pool.render(
      {
        spec: await campaignRenderSpec(db.kysely, campaign, config, templates, 'benign'),
        recipients: [{ recipientId: 1, email: 'u@example.org', name: 'User 1', attributes: { call: 'plain data', tier: 'gold' } }],
      },
      { timeoutMs: 30_000 },
    );
    assert.deepEqual(rendered.failures, []);
    const body = Buffer.from(rendered.bodies, rendered.offsets[0]!, rendered.lengths[0]!).toString('utf8');
    assert.ok(body.includes('<b>User 1</b>[plain data]\n0|1|2\nab\na,b USER 1 true'), body);
    assert.ok(body.includes('Hi User 1 (gold)'), body);
  });

  it('refuses payloads through the CLI: create, dry run and test send', async () => {
    const before = (await messages()).length;
    const database = await cliDatabaseEnv(path.join(dir, 'cli'));
    const env = {
      MAILGUN_API_KEY: MOCK_KEY,
      MAILGUN_DOMAIN: MOCK_DOMAIN,
      MAILGUN_BASE_URL: mock.url,
      HERALD_TEMPLATES_DIR: templates,
      HERALD_SANDBOX_SECRET: secret,
      ...database.env,
    };
    try {
      await runHerald(['lists', 'create', 'cli'], env);
      fs.mkdirSync(path.join(templates, 'cli-ok'), { recursive: true });
      fs.writeFileSync(path.join(templates, 'cli-ok', 'html.njk'), '<p>Hi {{ name }}</p>');
      fs.writeFileSync(path.join(templates, 'cli-ok', 'text.njk'), 'Hi {{ name }}');
      const create = (subject: string) => [
        'campaign',
        'create',
        '--name',
        'cli',
        '--list',
        'cli',
        '--template',
        'cli-ok',
        '--subject',
        subject,
        '--from',
        'news@example.org',
      ];
      const written = spawnHerald(create('{{ range.constructor("return process.env.HERALD_SANDBOX_SECRET")() }}'), env);
      assert.equal(await written.exited, 1);
      assert.match(written.output(), /^herald: template error: subject:1:10: 'constructor' is not allowed in a template/m);
      // Computed: passes the compiler, refused where it renders.
      const id = (await runHerald(create('{{ range["constr" ~ "uctor"]("return process.env.HERALD_SANDBOX_SECRET")() }}'), env)).trim();
      const csv = path.join(dir, 'cli.csv');
      fs.writeFileSync(csv, 'email,name\nreader@example.org,Reader\n');
      await runHerald(['recipients', 'import', csv, '--list', 'cli'], env);
      const dry = await runHerald(['campaign', 'start', id, '--dry-run'], env);
      assert.match(dry, /0 rendered, 1 failed/);
      assert.match(dry, /reader@example\.org .*render_error: subject:1:\d+: 'constructor' is not allowed in a template/);
      const test = spawnHerald(['campaign', 'test-send', id, '--to', 'qa@example.org'], env);
      assert.equal(await test.exited, 1);
      assert.match(test.output(), /rendering for reader@example\.org failed: subject:1:\d+: 'constructor' is not allowed in a template/);
      assert.equal(test.output().includes(secret), false);
      assert.equal((await messages()).length, before);
    } finally {
      await database.dispose();
    }
  });

  it(`refuses every payload as a subject through the HTTP API: at create (400) and at test send (400), and sends nothing`, async () => {
    const before = (await messages()).length;
    const listId = (await db.kysely.selectFrom('lists').select('id').where('name', '=', listName).executeTakeFirstOrThrow()).id;
    const post = async (url: string, body: unknown): Promise<{ status: number; error: string; id?: number }> => {
      const res = await request(`${server.url}${url}`, {
        method: 'POST',
        headers: { authorization: 'Bearer sandbox-token', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = (await res.body.json()) as { error?: string; id?: number };
      return { status: res.statusCode, error: answer.error ?? JSON.stringify(answer), ...(answer.id !== undefined ? { id: answer.id } : {}) };
    };
    const problems: string[] = [];
    for (const [label, payload] of PAYLOADS) {
      const subject = payload.replaceAll('JS', 'return process.env.HERALD_SANDBOX_SECRET').replaceAll('DIR', dir);
      const created = await post('/api/v1/campaigns', { name: label, list: listName, template: 'benign', subject, from: 'news@example.org' });
      // Names written out are refused at create; computed ones pass the compiler and are
      // refused when they render, so the campaign created then is test-sent too.
      const ids = [await seedCampaign(db.kysely, listId, { template: 'benign', subject, status: 'draft' })];
      if (created.status === 201) ids.push(created.id!);
      else if (created.status !== 400 || !/^template error: subject:1:\d+: /.test(created.error))
        problems.push(`${label}: create answered ${created.status} ${created.error}`);
      for (const id of ids) {
        const sent = await post(`/api/v1/campaigns/${id}/test-send`, { to: 'qa@example.org' });
        if (sent.status !== 400 || !/^rendering for .* failed: subject:1:\d+: /.test(sent.error))
          problems.push(`${label}: test send answered ${sent.status} ${sent.error}`);
      }
    }
    assert.deepEqual(problems, []);
    assert.equal((await messages()).length, before);
  });

  it(`refuses ${PAYLOADS.length} escape payloads in subject, html and text on every path, naming the part and line, with no side effect`, async () => {
    const js = `process.getBuiltinModule('fs').writeFileSync('${marker}', 'pwned'); globalThis.heraldPwned = 1; return process.env.HERALD_SANDBOX_SECRET`;
    const problems: string[] = [];
    for (const [index, [label, payload]] of PAYLOADS.entries()) {
      const source = payload.replaceAll('JS', js).replaceAll('DIR', dir);
      for (const field of FIELDS) {
        const template = folderFor(index, field, source);
        const subject = field === 'subject' ? source : 'Hello {{ name }}';
        const where = whereFor(index, field);
        const what = `${label} in ${field}`;

        // 1. The real create path (CLI and API both call it): refused now, or at render below.
        try {
          await createCampaign(db, config, { name: what, list: listName, template, subject, from: 'news@example.org' });
        } catch (err) {
          if (!/^template error: /.test((err as Error).message) || !where.test((err as Error).message))
            problems.push(`${what}: create said ${(err as Error).message}`);
        }

        // 2. A test send through the render threads, for a campaign stored without the create
        // check (as one created before this guard existed would be).
        const id = await seedCampaign(db.kysely, (await db.kysely.selectFrom('lists').select('id').where('name', '=', listName).executeTakeFirstOrThrow()).id, {
          template,
          subject,
          status: 'draft',
        });
        const campaign = (await getCampaign(db.kysely, id))!;
        const spec = await campaignRenderSpec(db.kysely, campaign, config, templates, `p${index}`);
        try {
          await testSend(db, campaign, spec, pool, client, 'qa@example.org', undefined);
          problems.push(`${what}: test send went out`);
        } catch (err) {
          const message = (err as Error).message;
          if (!/^rendering for .* failed: /.test(message) || !where.test(message)) problems.push(`${what}: test send said ${message}`);
        }

        // 3. This thread: compile and render the way the main thread's checks and tools do.
        try {
          const compiled = compileContent(spec.content!);
          const context = {
            ...compiled.globals,
            recipient: { email: 'a@example.org', name: 'A' },
            name: 'A',
            email: 'a@example.org',
            attributes: {},
            campaign: { id, name: what },
            unsubscribe_url: '#',
            now: new Date(),
          };
          let output = '';
          try {
            output = compiled[field]!.render(context);
          } catch (err) {
            const message = describeError(err, field);
            if (!where.test(message)) problems.push(`${what}: main-thread render said ${message}`);
            continue;
          }
          problems.push(`${what}: main-thread render produced ${JSON.stringify(output.slice(0, 80))}`);
        } catch (err) {
          if (!where.test((err as Error).message)) problems.push(`${what}: main-thread compile said ${(err as Error).message}`);
        }
      }
    }
    const sent = JSON.stringify((await messages()).slice(1));
    // (the first message is the benign test send above)
    assert.deepEqual(problems, [], `${problems.length} refusals missing or unlocated:\n${problems.join('\n')}`);
    assert.equal(fs.existsSync(marker), false, 'a payload wrote a file');
    assert.equal((globalThis as { heraldPwned?: unknown }).heraldPwned, undefined, 'a payload set a global');
    assert.equal(sent.includes(secret), false, 'the secret was sent');
    assert.equal(sent, '[]', 'a payload sent a message');
  });
});
