import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { templatesDir } from '../src/config/paths.js';
import { protectNunjucks, restoreNunjucks } from '../src/domain/content.js';
import { checkContent, compileContent } from '../src/sender/render/compile.js';
import { buildContent, compileMjml } from '../src/sender/render/content.js';
import { RenderPool } from '../src/sender/render/pool.js';
import type { RenderResult } from '../src/sender/render/types.js';
import { startBodyTap, type BodyTap } from './support/bodyTap.js';
import { dbLabel } from './support/db.js';
import { cliDatabaseEnv, MOCK_DOMAIN, MOCK_KEY, runHerald, spawnHerald, startMockProcess, type MockProcess } from './support/processes.js';

const context = (extra: Record<string, unknown> = {}) => ({
  name: 'Ann',
  email: 'ann@example.org',
  recipient: { email: 'ann@example.org', name: 'Ann' },
  campaign: { id: 9, name: 'x' },
  unsubscribe_url: 'https://h.example/u/tok',
  now: new Date(),
  ...extra,
});

async function fields(result: RenderResult, index: number): Promise<FormData> {
  const body = new Uint8Array(result.bodies, result.offsets[index]!, result.lengths[index]!).slice();
  return new Request('http://x/', { method: 'POST', body, headers: { 'content-type': result.contentType } }).formData();
}

describe('MJML, CSS inlining and the derived text part, made once per campaign', () => {
  let dir: string;
  const folder = (name: string, files: Record<string, string>): string => {
    for (const [file, text] of Object.entries(files)) {
      fs.mkdirSync(path.join(dir, name), { recursive: true });
      fs.writeFileSync(path.join(dir, name, file), text);
    }
    return name;
  };
  before(() => {
    dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'herald-mjml-')), 'templates');
    fs.mkdirSync(dir);
  });
  after(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

  it('passes Nunjucks tags through MJML untouched: in href, in text, in a typed attribute, and a loop making rows and sections', async () => {
    const source = [
      '{% set rows = [1, 2, 3] %}',
      '<mjml><mj-body>',
      '  <mj-section><mj-column>',
      '    <mj-text>Hello {{ name }} {# a comment #}</mj-text>',
      '    <mj-button href="{{ unsubscribe_url }}" background-color="{{ brand | default(\'#123456\') }}">Go</mj-button>',
      '    <mj-table>{% for r in rows %}<tr><td>row {{ r }}</td></tr>{% endfor %}</mj-table>',
      '  </mj-column></mj-section>',
      '  <mj-raw>{% for s in rows %}</mj-raw>',
      '  <mj-section><mj-column><mj-text>section {{ s }}</mj-text></mj-column></mj-section>',
      '  <mj-raw>{% endfor %}</mj-raw>',
      '</mj-body></mjml>',
    ].join('\n');
    const html = await compileMjml(source, 'templates/t/html.mjml.njk');
    for (const tag of [
      '{{ name }}',
      '{{ unsubscribe_url }}',
      "{{ brand | default('#123456') }}",
      '{% for r in rows %}',
      '{% endfor %}',
      '{{ r }}',
      '{% set rows = [1, 2, 3] %}',
    ])
      assert.ok(html.includes(tag), `${tag} kept`);
    assert.match(html, /href="\{\{ unsubscribe_url \}\}"/);
    assert.doesNotMatch(html, /<mj-/, 'compiled to HTML');
    const dirName = folder('loop', { 'html.mjml.njk': source, 'text.njk': 'x' });
    const content = await buildContent(dir, dirName, 'Hi');
    checkContent(content.sources);
    const out = compileContent(content.sources).html.render(context());
    assert.match(out, /Hello Ann/);
    assert.match(out, /<tr><td>row 1<\/td><\/tr><tr><td>row 2<\/td><\/tr><tr><td>row 3<\/td><\/tr>/);
    for (const s of [1, 2, 3]) assert.match(out, new RegExp(`section ${s}`));
    assert.match(out, /href="https:\/\/h\.example\/u\/tok"/);
    assert.match(out, /#123456/);
  });

  it('names the file and line of an MJML error, and of a tag MJML would drop', async () => {
    folder('bad-mjml', {
      'html.mjml.njk': '<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-texx>Hi {{ name }}</mj-texx>\n</mj-column></mj-section></mj-body></mjml>\n',
    });
    await assert.rejects(buildContent(dir, 'bad-mjml', 'x'), /^TemplateError: templates\/bad-mjml\/html\.mjml\.njk:5: MJML: Element mj-texx doesn't exist/);
    folder('lost-tag', {
      'html.mjml.njk': '<mjml><mj-body>\n{% if vip %}\n<mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section>\n{% endif %}\n</mj-body></mjml>',
    });
    await assert.rejects(buildContent(dir, 'lost-tag', 'x'), /html\.mjml\.njk:2: MJML dropped or repeated the Nunjucks tag \{% if vip %\}: .*<mj-raw>/);
    // A Nunjucks error in the MJML source is reported at its own line, before MJML.
    folder('njk-error', {
      'html.mjml.njk': '<mjml><mj-body>\n<mj-section><mj-column>\n<mj-text>{{ name </mj-text>\n</mj-column></mj-section></mj-body></mjml>',
    });
    await assert.rejects(async () => checkContent((await buildContent(dir, 'njk-error', 'x')).sources), /njk-error\/html\.mjml\.njk:3:\d+: /);
    assert.deepEqual(protectNunjucks('a\n{% if x\n %}b', 'zz').lines, [1, 2]);
    assert.throws(() => restoreNunjucks('gone', protectNunjucks('{% if x %}', 'zz')), /\{% if x %\} on line 1 was dropped/);
  });

  it('inlines the <style> CSS of a plain html.njk that opts in with template.json; media queries stay', async () => {
    const html = [
      '<html><head><style>p.lead { color: #123456; } a { color: #654321; } @media (max-width: 600px) { p.lead { font-size: 14px; } }</style></head>',
      '<body><p class="lead">Hi {{ name }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>',
    ].join('\n');
    folder('inlined', { 'html.njk': html, 'text.njk': 'Hi', 'template.json': '{"inlineCss": true}' });
    const content = await buildContent(dir, 'inlined', 'x');
    assert.equal(content.sources.html.via, 'inlined');
    const out = compileContent(content.sources).html.render(context());
    assert.match(out, /<p class="lead" style="color: #123456;">Hi Ann<\/p>/);
    assert.match(out, /<a href="https:\/\/h\.example\/u\/tok" style="color: #654321;">/);
    assert.match(out, /@media \(max-width: 600px\)/);
    folder('not-inlined', { 'html.njk': html, 'text.njk': 'Hi' });
    assert.equal((await buildContent(dir, 'not-inlined', 'x')).sources.html.compiled, null);
    folder('bad-options', { 'html.njk': html, 'template.json': '{"inlineCSS": true}' });
    await assert.rejects(buildContent(dir, 'bad-options', 'x'), /templates\/bad-options\/template\.json: unknown setting 'inlineCSS'/);
  });

  it('derives the text part from each rendered message when the template has no text.njk, links kept readable', async () => {
    folder('no-text', {
      'html.njk':
        '<h1>Spring</h1><p>Hello {{ name }}, see <a href="https://shop.example/sale?c={{ campaign.id }}">the sale</a>.</p><img src="https://cdn.example/x.png" alt="x"><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    });
    const content = await buildContent(dir, 'no-text', 'Hi {{ name }}');
    assert.equal(content.sources.text, null);
    checkContent(content.sources);
    const pool = new RenderPool({ threads: 1 });
    try {
      const result = await pool.render(
        {
          spec: {
            key: 'derived',
            campaignId: 4,
            campaignName: 'd',
            content: content.sources,
            from: 'a@example.org',
            replyTo: null,
            tags: [],
            unsubscribe: { baseUrl: 'https://h.example', mailto: 'u@example.org', secret: 's' },
          },
          recipients: [{ recipientId: 1, email: 'ann@example.org', name: 'Ann <A>', attributes: {} }],
        },
        { timeoutMs: 10_000 },
      );
      assert.deepEqual(result.failures, []);
      const text = String((await fields(result, 0)).get('text'));
      assert.match(text, /^Spring\n\nHello Ann <A>, see the sale \[https:\/\/shop\.example\/sale\?c=4\]\./);
      assert.match(text, /Unsubscribe \[https:\/\/h\.example\/u\/[^\]]+\]/);
      assert.doesNotMatch(text, /<p|<img|<a |cdn\.example/);
    } finally {
      await pool.close();
    }
  });
});

describe(`the MJML example sends through the mock (${dbLabel})`, () => {
  let dir: string;
  let env: Record<string, string>;
  let dispose: () => Promise<void> = async () => undefined;
  let mock: MockProcess;
  let tap: BodyTap;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-mjml-send-'));
    const database = await cliDatabaseEnv(dir);
    dispose = database.dispose;
    mock = await startMockProcess(['--latency', '1']);
    tap = await startBodyTap(mock.url);
    env = { ...database.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: tap.url, HERALD_TEMPLATES_DIR: templatesDir() };
  });
  after(async () => {
    await tap?.close();
    await mock?.stop();
    await dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('renders product-news (MJML, no text.njk) with each recipient’s values, and refuses a broken MJML template at create naming file and line', async () => {
    const csv = path.join(dir, 'people.csv');
    fs.writeFileSync(csv, 'email,name,products,city\nann@example.org,Ann,"tent,stove",Oslo\nbob@example.org,Bob,,\n');
    await runHerald(['recipients', 'import', csv, '--list', 'news', '--create-list'], env);
    const create = (template: string) =>
      spawnHerald(
        [
          'campaign',
          'create',
          '--name',
          template,
          '--list',
          'news',
          '--template',
          template,
          '--subject',
          'Field notes for {{ name }}',
          '--from',
          'a@example.org',
        ],
        env,
      );
    const created = create('product-news');
    assert.equal(await created.exited, 0, created.output());
    const id = created.output().trim();
    await runHerald(['campaign', 'start', id, '--wait'], env);
    assert.equal(tap.messages.length, 2);
    const ann = tap.messages.find((m) => m.to.includes('ann@'))!;
    const bob = tap.messages.find((m) => m.to.includes('bob@'))!;
    assert.equal(ann.subject, 'Field notes for Ann');
    assert.match(ann.html, /Hello Ann, here is what is new in the shop, and what our testers took out around Oslo\./);
    assert.match(ann.html, /Ridgeline 2-Person Tent/);
    assert.match(ann.html, /Pocket Rocket Camp Stove/);
    assert.doesNotMatch(ann.html, /Trailmark Waterproof Boots|\{\{|\{%|<mj-/);
    assert.match(bob.html, /Hello Bob, here is what is new in the shop\./);
    assert.match(bob.html, /Trailmark Waterproof Boots/, 'the default picks');
    const unsubscribe = /href="(http[^"]+\/u\/[^"]+)"/.exec(ann.html)?.[1];
    assert.ok(unsubscribe, 'the unsubscribe link');
    assert.ok(ann.text.includes(`Unsubscribe [${unsubscribe}]`), ann.text);
    assert.match(ann.text, /Ridgeline 2-Person Tent/);
    const shown = await runHerald(['campaign', 'show', id], env);
    assert.match(shown, /html: product-news\/html\.mjml\.njk \(MJML, compiled once\)/);
    assert.match(shown, /text: derived from the rendered HTML/);

    const broken = path.join(dir, 'templates');
    fs.cpSync(templatesDir(), broken, { recursive: true });
    const file = path.join(broken, 'product-news', 'html.mjml.njk');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes('<mj-button'));
    lines[at] = lines[at]!.replace('<mj-button', '<mj-buton').replace('</mj-button>', '</mj-buton>');
    fs.writeFileSync(file, lines.join('\n'));
    const refused = spawnHerald(
      ['campaign', 'create', '--name', 'broken', '--list', 'news', '--template', 'product-news', '--subject', 'x', '--from', 'a@example.org'],
      { ...env, HERALD_TEMPLATES_DIR: broken },
    );
    assert.equal(await refused.exited, 1);
    assert.match(refused.output(), new RegExp(`template error: templates/product-news/html\\.mjml\\.njk:${at + 1}: MJML: Element mj-buton doesn't exist`));
  });
});
