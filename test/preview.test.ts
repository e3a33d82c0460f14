import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { packageRoot } from '../src/config/paths.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { GMAIL_CLIP_BYTES, templateVariables } from '../src/domain/templateChecks.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { openCliSandbox, runHerald, spawnHerald, type CliSandbox } from './support/processes.js';
import { serverOptions } from './support/server.js';

/** What `campaign preview --format json` and the API's json format answer. */
interface Preview {
  campaignId: number;
  recipient: { email: string; name: string | null; source: 'audience' | 'given' | 'sample'; inAudience: boolean | null };
  notes: string[];
  subject: string;
  headers: Record<string, string>;
  html: string;
  text: string;
  checks: Array<{ code: string; severity: 'warning' | 'info'; message: string }>;
}

/**
 * A templates folder of the test's own: the shipped one (spring-sale, the clean example) and
 * a crafted template that trips every check.
 */
function templatesWithCrafted(dir: string): string {
  const root = path.join(dir, 'templates');
  fs.cpSync(path.join(packageRoot, 'templates'), root, { recursive: true });
  const crafted = path.join(root, 'checks-bad');
  fs.mkdirSync(crafted);
  // Over Gmail's 102 KB, no unsubscribe link, two images without alt (one with alt="" is
  // fine), plain-http links, and an attribute printed without a default.
  const padding = `<p>${'Spring is here and everything is on sale. '.repeat(Math.ceil((GMAIL_CLIP_BYTES + 4096) / 42))}</p>`;
  fs.writeFileSync(
    path.join(crafted, 'html.njk'),
    [
      '<html><body>',
      '<img src="https://cdn.example.com/hero.jpg"><img src="https://cdn.example.com/logo.png" alt="">',
      '<img src="http://cdn.example.com/plain.png" width="10">',
      '<a href="http://shop.example.com/sale">Sale</a> <a href="https://shop.example.com/ok">ok</a>',
      '<p>Your code: {{ recipient.coupon }}</p>',
      '{% if recipient.city %}<p>In {{ recipient.city }}</p>{% endif %}',
      padding,
      '</body></html>',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(crafted, 'text.njk'), 'Hello {{ name }}, your code is {{ recipient.coupon }}. See http://shop.example.com/sale\n');
  return root;
}

/** A multipart/form-data body split into its fields, as raw bytes (no decoder of Herald's). */
function rawFields(body: Buffer, contentType: string): Array<{ name: string; value: Buffer }> {
  const boundary = /boundary=([^;\s]+)/.exec(contentType)![1]!;
  const delimiter = Buffer.from(`--${boundary}`);
  const fields: Array<{ name: string; value: Buffer }> = [];
  let at = body.indexOf(delimiter);
  for (;;) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') return fields;
    const headersEnd = body.indexOf('\r\n\r\n', start);
    const name = /name="([^"]*)"/.exec(body.toString('utf8', start, headersEnd))![1]!;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headersEnd);
    fields.push({ name, value: body.subarray(headersEnd + 4, next) });
    at = next + 2;
  }
}

describe(`campaign preview: the CLI (${dbLabel})`, () => {
  let sandbox: CliSandbox;
  let env: Record<string, string>;
  let cleanId: string;
  let craftedId: string;

  const preview = async (id: string, extra: string[] = []): Promise<Preview> =>
    JSON.parse(await runHerald(['campaign', 'preview', id, '--format', 'json', ...extra], env)) as Preview;

  before(async () => {
    sandbox = await openCliSandbox('preview', ['--keep-bodies', '20']);
    env = {
      ...sandbox.env,
      HERALD_TEMPLATES_DIR: templatesWithCrafted(sandbox.dir),
      HERALD_PUBLIC_URL: 'https://herald.example.org',
    };
    const csv = path.join(sandbox.dir, 'people.csv');
    fs.writeFileSync(
      csv,
      [
        'email,name,products,city,coupon',
        'ann@example.org,"Doe, Ann","tent,lantern",Oslo,SPRING-A',
        'bo@example.org,Bø Åkesson,boots,,SPRING-B',
        'cy@example.org,Cy,,Lyon,',
      ].join('\n'),
    );
    await runHerald(['recipients', 'import', csv, '--list', 'people', '--create-list'], env);
    fs.writeFileSync(path.join(sandbox.dir, 'other.csv'), 'email,name\noutsider@example.org,Out Sider\n');
    await runHerald(['recipients', 'import', path.join(sandbox.dir, 'other.csv'), '--list', 'others', '--create-list'], env);
    await runHerald(['lists', 'create', 'empty'], env);
    const create = async (name: string, list: string, template: string, subject: string) =>
      (
        await runHerald(
          [
            'campaign',
            'create',
            '--name',
            name,
            '--list',
            list,
            '--template',
            template,
            '--subject',
            subject,
            '--from',
            'Northwind <news@mg.example.test>',
            '--reply-to',
            'help@example.org',
            '--tag',
            'spring',
            '--tag',
            'preview',
          ],
          env,
        )
      ).trim();
    cleanId = await create('clean', 'people', 'spring-sale', 'Spring sale for {{ name | default("you", true) }} ✿');
    craftedId = await create('crafted', 'people', 'checks-bad', 'Your code {{ recipient.coupon | default("") }}');
  });
  after(async () => {
    await sandbox?.close();
  });

  it('previews exactly what the provider receives for the same recipient, byte for byte', async () => {
    // Sent for real, to the mock, which keeps the raw request bodies.
    // One after the other: an embedded database (PGlite) is opened by one process at a time.
    const previews = [await preview(cleanId, ['--as', 'ann@example.org']), await preview(cleanId, ['--as', 'bo@example.org'])];
    await runHerald(['campaign', 'start', cleanId, '--wait'], env);
    const bodies = (await (await request(`${sandbox.mock!.url}/mock/bodies`)).body.json()) as Array<{ contentType: string; body: string }>;
    assert.equal(bodies.length, 3);
    for (const p of previews) {
      assert.equal(p.recipient.source, 'given');
      assert.equal(p.recipient.inAudience, true);
      const sent = bodies
        .map((b) => rawFields(Buffer.from(b.body, 'base64'), b.contentType))
        .find((fields) => fields.some((f) => f.name === 'to' && f.value.toString().includes(p.recipient.email)));
      assert.ok(sent, `the mock received a message to ${p.recipient.email}`);
      const field = (name: string): Buffer => sent.find((f) => f.name === name)!.value;
      assert.ok(field('html').equals(Buffer.from(p.html, 'utf8')), 'the HTML part, byte for byte');
      assert.ok(field('text').equals(Buffer.from(p.text, 'utf8')), 'the text part, byte for byte');
      assert.ok(field('subject').equals(Buffer.from(p.subject, 'utf8')), 'the subject, byte for byte');
      // Every other field the provider got is one of the preview's headers, in the same bytes.
      assert.equal(p.headers.From, field('from').toString('utf8'));
      assert.equal(p.headers.To, field('to').toString('utf8'));
      for (const name of ['Reply-To', 'List-Unsubscribe', 'List-Unsubscribe-Post']) assert.equal(p.headers[name], field(`h:${name}`).toString('utf8'), name);
      assert.equal(
        p.headers['X-Mailgun-Tag'],
        sent
          .filter((f) => f.name === 'o:tag')
          .map((f) => f.value.toString())
          .join(', '),
      );
      const variables = Object.fromEntries(sent.filter((f) => f.name.startsWith('v:')).map((f) => [f.name.slice(2), f.value.toString()]));
      assert.deepEqual(JSON.parse(p.headers['X-Mailgun-Variables']!), variables);
    }
    const bo = previews[1]!;
    assert.equal(bo.subject, 'Spring sale for Bø Åkesson ✿');
    assert.equal(bo.headers.To, '"Bø Åkesson" <bo@example.org>');
    assert.match(bo.headers['List-Unsubscribe']!, /^<https:\/\/herald\.example\.org\/u\/[\w.-]+>, <mailto:unsubscribe@/);
    assert.equal(previews[0]!.headers.To, '"Doe, Ann" <ann@example.org>');
  });

  it('the clean example raises no warning; the crafted template trips every check', async () => {
    const clean = await preview(cleanId);
    assert.equal(clean.recipient.email, 'ann@example.org');
    assert.equal(clean.recipient.source, 'audience');
    assert.deepEqual(
      clean.checks.filter((c) => c.severity === 'warning'),
      [],
    );
    // spring-sale reads products (behind a default) and city (under an if): worth knowing, no more.
    assert.deepEqual(
      clean.checks.map((c) => [c.code, c.severity, /^(\d+) of 3/.exec(c.message)?.[1]]),
      [
        ['missing_variable', 'info', '1'],
        ['missing_variable', 'info', '1'],
      ],
    );

    const crafted = await preview(craftedId);
    const byCode = new Map(crafted.checks.map((c) => [c.code, c]));
    assert.match(byCode.get('html_size')!.message, /the HTML part is 10[4-9]\.\d KB \(\d+ bytes\): Gmail clips messages over 102 KB/);
    assert.match(byCode.get('no_unsubscribe_link')!.message, /no unsubscribe link in the HTML part or the text part/);
    assert.match(
      byCode.get('img_without_alt')!.message,
      /^2 images have no alt text .*: https:\/\/cdn\.example\.com\/hero\.jpg, http:\/\/cdn\.example\.com\/plain\.png$/,
    );
    assert.match(
      byCode.get('insecure_links')!.message,
      /^2 plain http:\/\/ links or images .*: http:\/\/shop\.example\.com\/sale, http:\/\/cdn\.example\.com\/plain\.png$/,
    );
    const missing = crafted.checks.filter((c) => c.code === 'missing_variable');
    assert.deepEqual(
      missing.map((c) => c.severity),
      ['warning', 'info'],
    );
    assert.match(missing[0]!.message, /^1 of 3 recipients lack the attribute 'coupon' \(recipient\.coupon at templates\/checks-bad\/html\.njk:5:\d+\)/);
    assert.match(missing[1]!.message, /^1 of 3 recipients lack the attribute 'city'/);

    // The dry run reports the same checks, after its counts.
    const dry = await runHerald(['campaign', 'start', craftedId, '--dry-run'], env);
    assert.match(dry, /2 rendered, 1 failed/);
    for (const code of ['Gmail clips', 'no unsubscribe link', 'no alt text', 'plain http://', "lack the attribute 'coupon'"])
      assert.ok(dry.includes(code), code);
  });

  it('writes the html, text and eml formats, to standard output or a file, with the checks on standard error', async () => {
    const json = await preview(craftedId, ['--as', 'bo@example.org']);
    // By default the HTML goes to standard output, and nothing else does.
    const html = spawnHerald(['campaign', 'preview', craftedId, '--as', 'bo@example.org'], env);
    let stdout = '';
    html.process.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    assert.equal(await html.exited, 0);
    assert.equal(stdout, json.html);
    const out = path.join(sandbox.dir, 'bo.html');
    const written = spawnHerald(['campaign', 'preview', craftedId, '--as', 'bo@example.org', '--out', out], env);
    assert.equal(await written.exited, 0);
    assert.equal(fs.readFileSync(out, 'utf8'), json.html);
    assert.match(written.output(), new RegExp(`campaign ${craftedId} rendered as bo@example\\.org \\(given with --as\\), written to`));
    assert.match(written.output(), /warning: the HTML part is .* KB/);
    assert.match(written.output(), /warning: 2 images have no alt text/);

    const text = await runHerald(
      ['campaign', 'preview', craftedId, '--as', 'bo@example.org', '--format', 'text', '--out', path.join(sandbox.dir, 'bo.txt')],
      env,
    );
    assert.equal(fs.readFileSync(path.join(sandbox.dir, 'bo.txt'), 'utf8'), 'Hello Bø Åkesson, your code is SPRING-B. See http://shop.example.com/sale\n');
    assert.match(text, /rendered as bo@example\.org/);

    const emlFile = path.join(sandbox.dir, 'bo.eml');
    await runHerald(['campaign', 'preview', cleanId, '--as', 'bo@example.org', '--format', 'eml', '--out', emlFile], env);
    const eml = fs.readFileSync(emlFile, 'latin1');
    const [head] = eml.split('\r\n\r\n');
    assert.match(head!, /^From: Northwind <news@mg\.example\.test>$/m);
    assert.match(head!, /^To: =\?UTF-8\?.*\?= <bo@example\.org>$/m, 'a non-ASCII display name is encoded (RFC 2047)');
    assert.match(head!, /^Subject: =\?UTF-8\?/m);
    assert.match(head!, /^Reply-To: help@example\.org$/m);
    assert.match(head!, /^List-Unsubscribe:\s+<https:\/\/herald\.example\.org\/u\//m);
    assert.match(head!, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    assert.match(head!, /^X-Mailgun-Tag: spring$/m);
    assert.match(head!, /^X-Mailgun-Variables: \{"herald-campaign":"\d+","herald-delivery":"\d+\.\d+"\}$/m);
    assert.match(head!, /^Message-ID: <preview\.\d+\.\d+@mg\.example\.test>$/m);
    assert.match(head!, /^MIME-Version: 1\.0$/m);
    assert.match(head!, /^Content-Type: multipart\/alternative;\s+boundary="([^"]+)"$/m);
    const boundary = /boundary="([^"]+)"/.exec(head!)![1]!;
    const parts = eml.split(`--${boundary}`).slice(1, -1);
    assert.deepEqual(
      parts.map((p) => /Content-Type: ([^;\r\n]+)/.exec(p)?.[1]),
      ['text/plain', 'text/html'],
    );
    assert.ok(
      eml.split('\r\n').every((line) => line.length <= 998),
      'no line over the RFC 5322 limit',
    );
  });

  it('renders as a recipient outside the audience with a note, as sample data for an empty audience, and names an unknown address', async () => {
    const outsider = await preview(cleanId, ['--as', 'OUTSIDER@example.org']);
    assert.deepEqual(outsider.recipient, { email: 'outsider@example.org', name: 'Out Sider', source: 'given', inAudience: false });
    assert.match(outsider.notes[0]!, /outsider@example\.org is not in campaign \d+'s audience: rendered with their data all the same/);
    assert.match(outsider.html, /Hello Out Sider, spring is here/);

    const emptyId = (
      await runHerald(
        ['campaign', 'create', '--name', 'empty', '--list', 'empty', '--template', 'spring-sale', '--subject', 'Hi', '--from', 'a@mg.example.test'],
        env,
      )
    ).trim();
    const sample = await preview(emptyId);
    assert.equal(sample.recipient.source, 'sample');
    assert.match(sample.notes[0]!, /audience is empty: rendered with sample data/);
    assert.match(sample.html, /Hello Sample Recipient/);

    const unknown = spawnHerald(['campaign', 'preview', cleanId, '--as', 'nobody@example.org'], env);
    assert.equal(await unknown.exited, 1);
    assert.match(unknown.output(), /no recipient with address 'nobody@example\.org'/);
    const badFormat = spawnHerald(['campaign', 'preview', cleanId, '--format', 'pdf'], env);
    assert.equal(await badFormat.exited, 1);
    assert.match(badFormat.output(), /Allowed choices are html, text, eml, json/);
  });
});

describe(`campaign preview: the API (${dbLabel})`, () => {
  const TOKEN = 'preview-token';
  let db: TestDb;
  let server: RunningServer;
  let dir: string;
  let savedTemplates: string | undefined;

  const call = async (path: string) => {
    const res = await request(`${server.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-preview-api-'));
    savedTemplates = process.env.HERALD_TEMPLATES_DIR;
    process.env.HERALD_TEMPLATES_DIR = templatesWithCrafted(dir);
    db = await openTestDb();
    const config = loadConfig({
      ...process.env,
      MAILGUN_API_KEY: '',
      MAILGUN_DOMAIN: '',
      HERALD_API_TOKEN: TOKEN,
      HERALD_PUBLIC_URL: 'https://herald.example.org',
    });
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config }));
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
    if (savedTemplates === undefined) delete process.env.HERALD_TEMPLATES_DIR;
    else process.env.HERALD_TEMPLATES_DIR = savedTemplates;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers json, html under a CSP that runs nothing, text and eml; the dry run carries the checks', async () => {
    const list = await seedList(db.kysely, 'api', 3, { coupon: 'C1' });
    const id = await seedCampaign(db.kysely, list.listId, { status: 'draft', template: 'checks-bad', subject: 'Code {{ recipient.coupon }}' });

    const json = await call(`/api/v1/campaigns/${id}/preview`);
    assert.equal(json.status, 200, json.text);
    assert.match(String(json.headers['content-type']), /^application\/json/);
    const p = JSON.parse(json.text) as Preview;
    assert.equal(p.recipient.email, 'api-user1@example.test');
    assert.equal(p.recipient.source, 'audience');
    assert.equal(p.subject, 'Code C1');
    assert.equal(p.headers['List-Unsubscribe-Post'], 'List-Unsubscribe=One-Click');
    assert.deepEqual([...new Set(p.checks.map((c) => c.code))].sort(), [
      'html_size',
      'img_without_alt',
      'insecure_links',
      'missing_variable',
      'no_unsubscribe_link',
    ]);
    // Everyone has a coupon; the city is under an if.
    assert.deepEqual(
      p.checks.filter((c) => c.code === 'missing_variable').map((c) => c.severity),
      ['info'],
    );

    const html = await call(`/api/v1/campaigns/${id}/preview?format=html&as=API-USER2@example.test`);
    assert.equal(html.status, 200);
    assert.match(String(html.headers['content-type']), /^text\/html; charset=utf-8/);
    const csp = String(html.headers['content-security-policy']);
    assert.match(csp, /(^|; )sandbox(;|$)/);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /script-src/);
    assert.match(String(html.headers['content-disposition']), /^inline/);
    assert.equal(html.headers['x-content-type-options'], 'nosniff');
    assert.match(html.text, /^<html><body>/);
    assert.match(html.text, /Your code: C1/);

    const text = await call(`/api/v1/campaigns/${id}/preview?format=text`);
    assert.equal(text.status, 200);
    assert.match(String(text.headers['content-type']), /^text\/plain/);
    assert.equal(text.text, 'Hello User 1, your code is C1. See http://shop.example.com/sale\n');

    const eml = await call(`/api/v1/campaigns/${id}/preview?format=eml`);
    assert.equal(eml.status, 200);
    assert.match(String(eml.headers['content-type']), /^message\/rfc822/);
    assert.match(String(eml.headers['content-disposition']), /^attachment; filename="campaign-\d+-preview\.eml"/);
    assert.match(eml.text, /^Subject: Code C1$/m);
    assert.match(eml.text, /Content-Type: multipart\/alternative/);

    const dry = await request(`${server.url}/api/v1/campaigns/${id}/dry-run`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    const report = (await dry.body.json()) as { rendered: number; checkedAs: string; checks: Preview['checks'] };
    assert.equal(dry.statusCode, 200);
    assert.equal(report.rendered, 3);
    assert.equal(report.checkedAs, 'api-user1@example.test');
    assert.deepEqual(
      report.checks.map((c) => c.code),
      p.checks.map((c) => c.code),
    );
  });

  it('refuses an unknown recipient, a bad address or format, and a campaign that does not exist', async () => {
    const list = await seedList(db.kysely, 'api-errors', 1);
    const id = await seedCampaign(db.kysely, list.listId, { status: 'draft' });
    const unknown = await call(`/api/v1/campaigns/${id}/preview?as=nobody@example.org`);
    assert.equal(unknown.status, 400);
    const body = JSON.parse(unknown.text) as { error: string; fields: Array<{ field: string }> };
    assert.match(body.error, /no recipient with address 'nobody@example\.org'/);
    assert.deepEqual(
      body.fields.map((f) => f.field),
      ['as'],
    );
    const bad = await call(`/api/v1/campaigns/${id}/preview?as=not-an-address`);
    assert.equal(bad.status, 400);
    assert.match(bad.text, /as: expected an email address/);
    const format = await call(`/api/v1/campaigns/${id}/preview?format=pdf`);
    assert.equal(format.status, 400);
    assert.match(format.text, /format/);
    assert.equal((await call('/api/v1/campaigns/999999/preview')).status, 404);
    const openApi = JSON.parse((await call('/openapi.json')).text) as { paths: Record<string, { get?: { parameters?: Array<{ name: string }> } }> };
    assert.deepEqual(openApi.paths['/api/v1/campaigns/{id}/preview']?.get?.parameters?.map((p) => p.name).sort(), ['as', 'format', 'id']);
  });
});

describe('template variables from the parse tree', () => {
  it('finds recipient and attributes reads, follows if tests and defaults, skips email and name', () => {
    const vars = templateVariables([
      {
        name: 't.njk',
        source: [
          '{{ recipient.email }} {{ recipient.name }} {{ recipient["plan"] }}',
          '{% if attributes.vip %}{{ attributes.vip }}{% else %}{{ recipient.tier | default("basic") }}{% endif %}',
          '{{ recipient.plan | upper }}',
          '{% if recipient.city %}{{ recipient.city }}{% endif %}{{ recipient.city }}',
        ].join('\n'),
      },
    ]);
    assert.deepEqual(
      vars.map((v) => [v.attribute, v.guarded, v.at]),
      [
        ['plan', false, 't.njk:1:47'],
        ['vip', true, 't.njk:2:7'],
        ['tier', true, 't.njk:2:57'],
        ['city', false, 't.njk:4:58'],
      ],
    );
  });
});
