import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import nunjucks from 'nunjucks';
import { verifyUnsubscribeToken } from '../src/domain/unsubscribeToken.js';
import { templatesDir } from '../src/config/paths.js';
import { checkContent } from '../src/sender/render/compile.js';
import { buildContent } from '../src/sender/render/content.js';
import { RenderPool } from '../src/sender/render/pool.js';
import type { CampaignRenderSpec, RenderRecipient, RenderResult } from '../src/sender/render/types.js';

// Fixtures are read from the source tree, next to the compiled tests' origin.
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');

interface SpecOptions {
  templatesDir?: string;
  template?: string;
  subject?: string;
  unsubscribe?: CampaignRenderSpec['unsubscribe'];
}

/** A spec as the send path makes one: content from the template files (buildContent), then the rest. */
async function spec(o: SpecOptions = {}): Promise<CampaignRenderSpec> {
  const content = await buildContent(o.templatesDir ?? templatesDir(), o.template ?? 'spring-sale', o.subject ?? 'Hi {{ name | default("there", true) }}');
  return {
    key: `k-${Math.random()}`,
    campaignId: 7,
    campaignName: 'Spring',
    content: content.sources,
    from: 'Shop <news@example.com>',
    replyTo: 'help@example.com',
    tags: ['spring', 'sale'],
    unsubscribe: o.unsubscribe === undefined ? { baseUrl: 'https://herald.example.com', mailto: 'unsubscribe@example.com', secret: 's3cret' } : o.unsubscribe,
  };
}

/** The create/start check: the content made from the files, compiled whole. */
async function checkTemplates(o: SpecOptions = {}): Promise<void> {
  checkContent((await buildContent(o.templatesDir ?? templatesDir(), o.template ?? 'spring-sale', o.subject ?? 'Hi {{ name }}')).sources);
}

const recipient = (i: number, attributes: Record<string, unknown> = {}, name: string | null = `Reader ${i}`): RenderRecipient => ({
  recipientId: i,
  email: `reader${i}@example.com`,
  name,
  attributes,
});

async function fields(result: RenderResult, index: number): Promise<FormData> {
  // A copy: the batch buffer is resizable, which the fetch API's body checks refuse.
  const body = new Uint8Array(result.bodies, result.offsets[index]!, result.lengths[index]!).slice();
  return new Request('http://x/', { method: 'POST', body, headers: { 'content-type': result.contentType } }).formData();
}

describe('rendering on worker threads', () => {
  let pool: RenderPool;
  before(() => {
    pool = new RenderPool({ threads: 1 });
  });
  after(() => pool.close());

  it('renders the shipped template into a complete Mailgun message per recipient', async () => {
    const result = await pool.render(
      { spec: await spec(), recipients: [recipient(1, { products: 'tent,boots', city: 'Oslo' }), recipient(2, {}, null)] },
      { timeoutMs: 10_000 },
    );
    assert.deepEqual(result.failures, []);
    const first = await fields(result, 0);
    assert.equal(first.get('to'), 'Reader 1 <reader1@example.com>');
    assert.equal(first.get('from'), 'Shop <news@example.com>');
    assert.equal(first.get('subject'), 'Hi Reader 1');
    assert.deepEqual(first.getAll('o:tag'), ['spring', 'sale']);
    assert.equal(first.get('h:Reply-To'), 'help@example.com');
    assert.equal(first.get('v:herald-campaign'), '7');
    assert.equal(first.get('v:herald-delivery'), '7.1');
    const html = String(first.get('html'));
    assert.match(html, /Hello Reader 1, spring is here/);
    assert.match(html, /Ridgeline 2-Person Tent/);
    assert.match(html, /the weather in Oslo/);
    assert.ok(html.length > 10_000 && html.length < 20_000, `html is ${html.length} bytes`);
    assert.match(String(first.get('text')), /Trailmark Waterproof Boots/);
    const second = await fields(result, 1);
    assert.equal(second.get('to'), 'reader2@example.com');
    assert.match(String(second.get('html')), /Hello there, spring is here/);
  });

  it('hands back bodies in a buffer of exactly their size, also when it reuses a larger one', async () => {
    const exact = (result: RenderResult): void => {
      const used = Array.from(result.lengths).reduce((sum, n) => sum + n, 0);
      assert.equal(result.bodies.byteLength, used, 'no headroom carried to the send queue');
      assert.ok(result.bodies.resizable, 'page-backed, so a shrink gives memory back');
    };
    const large = await pool.render(
      { spec: await spec(), recipients: Array.from({ length: 20 }, (_, i) => recipient(i + 1, { products: 'tent,boots' })) },
      { timeoutMs: 10_000 },
    );
    exact(large);
    pool.recycle(large.bodies);
    const small = await pool.render({ spec: await spec(), recipients: [recipient(30)] }, { timeoutMs: 10_000 });
    assert.equal(large.bodies.byteLength, 0, 'the spare went back to the render thread');
    exact(small);
    assert.match(String((await fields(small, 0)).get('html')), /Hello Reader 30/);
  });

  it('puts a verifiable one-click unsubscribe link in the headers and the footer', async () => {
    const result = await pool.render({ spec: await spec(), recipients: [recipient(3)] }, { timeoutMs: 10_000 });
    const f = await fields(result, 0);
    assert.equal(f.get('h:List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');
    const header = String(f.get('h:List-Unsubscribe'));
    const match = /^<(https:\/\/herald\.example\.com\/u\/([^>]+))>, <mailto:unsubscribe@example\.com\?subject=unsubscribe-[^>]+>$/.exec(header);
    assert.ok(match, header);
    assert.deepEqual(verifyUnsubscribeToken(match[2]!, 's3cret'), { campaignId: 7, recipientId: 3, email: 'reader3@example.com' });
    assert.ok(String(f.get('html')).includes(match[1]!), 'the footer links to the same URL');
  });

  it('escapes recipient data in HTML but not in the text part', async () => {
    const result = await pool.render({ spec: await spec(), recipients: [recipient(4, {}, 'Tom & <Jerry>')] }, { timeoutMs: 10_000 });
    const f = await fields(result, 0);
    assert.match(String(f.get('html')), /Hello Tom &amp; &lt;Jerry&gt;/);
    assert.match(String(f.get('text')), /Hello Tom & <Jerry>/);
    assert.equal(f.get('to'), '"Tom & <Jerry>" <reader4@example.com>');
  });

  it("gives templates a recipient's attributes under its own email and name, and a __proto__ attribute as plain data", async () => {
    const attributes = JSON.parse('{"city": "Oslo", "email": "spoof@evil.test", "name": "Spoof", "__proto__": {"polluted": "yes"}}') as Record<string, unknown>;
    const result = await pool.render(
      {
        spec: await spec({ templatesDir: path.join(fixtures, 'templates'), template: 'recipient-fields', subject: 'x' }),
        recipients: [recipient(5, attributes)],
      },
      { timeoutMs: 10_000 },
    );
    assert.deepEqual(result.failures, []);
    const f = await fields(result, 0);
    assert.equal(String(f.get('html')).trim(), '<p>Oslo|reader5@example.com|Reader 5|none</p>');
    assert.equal(String(f.get('text')).trim(), 'Oslo|reader5@example.com|Reader 5|none');
  });

  it('renders byte for byte what stock Nunjucks renders, though the render threads replace parts of its runtime', async () => {
    // This process runs Nunjucks unmodified; the render threads run it with fasterRuntime.ts.
    const attributes = {
      city: `O'Neil & "Sons" <b>\\`,
      quote: `<a href="x?a=1&b='2'">it's</a>`,
      words: ' tent ,boots,<pack>,"stove"',
      count: 7,
      apostrophe: "it's",
      backslash: 'a\\b',
      doubleQuote: 'say "hi"',
      nested: { list: [1, 2, 3], map: { a: '<1>', b: 2 } },
      products: 'tent,boots,nope',
    };
    const cases: Array<[string, string]> = [
      ['spring-sale', templatesDir()],
      ['runtime-parity', path.join(fixtures, 'templates')],
    ];
    for (const [template, dir] of cases) {
      const plainAttributes = { city: 'Oslo', quote: 'plain', apostrophe: 'a', backslash: 'b', doubleQuote: 'c', count: 0, nested: { list: [], map: {} } };
      const recipients = [recipient(1, attributes, `Ann "A" <ann> & co`), recipient(2, template === 'spring-sale' ? {} : plainAttributes, null)];
      const result = await pool.render({ spec: await spec({ template, templatesDir: dir, unsubscribe: null }), recipients }, { timeoutMs: 10_000 });
      assert.deepEqual(result.failures, [], template);
      const globalsFile = path.join(dir, 'globals.json');
      const globals = fs.existsSync(globalsFile) ? (JSON.parse(fs.readFileSync(globalsFile, 'utf8')) as Record<string, unknown>) : {};
      const stock = (autoescape: boolean): nunjucks.Environment =>
        new nunjucks.Environment(new nunjucks.FileSystemLoader(dir), { autoescape, throwOnUndefined: true });
      const [html, plain] = [stock(true), stock(false)];
      for (const [i, r] of recipients.entries()) {
        const context = {
          ...globals,
          recipient: { ...r.attributes, email: r.email, name: r.name },
          name: r.name,
          email: r.email,
          attributes: r.attributes,
          campaign: { id: 7, name: 'Spring' },
          unsubscribe_url: '#',
          now: new Date(),
        };
        const f = await fields(result, i);
        assert.equal(f.get('html'), html.render(`${template}/html.njk`, context), `${template} html, recipient ${r.recipientId}`);
        assert.equal(f.get('text'), plain.render(`${template}/text.njk`, context), `${template} text, recipient ${r.recipientId}`);
        assert.equal(f.get('subject'), plain.renderString('Hi {{ name | default("there", true) }}', context).trim());
      }
    }
  });

  it('fails only the recipients whose data leaves a variable undefined', async () => {
    const recipients = Array.from({ length: 10 }, (_, i) => recipient(i, i % 3 === 0 ? {} : { coupon: `C${i}` }));
    const result = await pool.render(
      { spec: await spec({ templatesDir: path.join(fixtures, 'templates'), template: 'strict', subject: 'x' }), recipients },
      { timeoutMs: 10_000 },
    );
    assert.deepEqual(
      result.failures.map((f) => f.index),
      [0, 3, 6, 9],
    );
    for (const f of result.failures) {
      assert.equal(f.code, 'render_error');
      assert.match(f.message, /strict\/html\.njk:1:\d+: attempted to output null or undefined value/);
    }
    assert.match(String((await fields(result, 1)).get('html')), /C1/);
  });

  it('aborts a batch that renders too long, fails it with render_timeout, and keeps working', async () => {
    const slow = await pool.render(
      { spec: await spec({ templatesDir: path.join(fixtures, 'templates'), template: 'slow', subject: 'x' }), recipients: [recipient(1), recipient(2)] },
      { timeoutMs: 300 },
    );
    assert.deepEqual(
      slow.failures.map((f) => [f.index, f.code]),
      [
        [0, 'render_timeout'],
        [1, 'render_timeout'],
      ],
    );
    const fine = await pool.render({ spec: await spec(), recipients: [recipient(5)] }, { timeoutMs: 10_000 });
    assert.deepEqual(fine.failures, []);
  });

  it('fails only the recipient that renders too long; the rest of its batch renders on a new thread', async () => {
    const recipients = Array.from({ length: 6 }, (_, i) => recipient(i + 1, i === 3 ? { loops: 100_000 } : {}));
    const result = await pool.render(
      { spec: await spec({ templatesDir: path.join(fixtures, 'templates'), template: 'slow-for-one', subject: 'Hi {{ name }}' }), recipients },
      { timeoutMs: 300 },
    );
    assert.deepEqual(
      result.failures.map((f) => [f.index, f.code]),
      [[3, 'render_timeout']],
    );
    assert.match(result.failures[0]!.message, /longer than 300 ms/);
    // Bodies from the aborted thread's replacement and the re-rendered parts share one Content-Type.
    for (const i of [0, 1, 2, 4, 5]) {
      const f = await fields(result, i);
      assert.equal(f.get('to'), `Reader ${i + 1} <reader${i + 1}@example.com>`);
      assert.equal(String(f.get('html')).trim(), `Hello Reader ${i + 1}`);
    }
    assert.equal(result.offsets[3], -1);
  });

  it('keeps the main event loop free while a large batch renders', async () => {
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const recipients = Array.from({ length: 2000 }, (_, i) => recipient(i, { products: 'tent,lantern,boots,pack,stove,jacket' }));
    await pool.render({ spec: await spec(), recipients }, { timeoutMs: 60_000 });
    delay.disable();
    assert.ok(delay.max / 1e6 < 200, `event loop blocked for ${delay.max / 1e6} ms`);
  });
});

describe('template checks at create and start', () => {
  it('names file, line and column of a syntax error', async () => {
    await assert.rejects(
      () => checkTemplates({ templatesDir: path.join(fixtures, 'templates'), template: 'broken-syntax' }),
      /templates\/broken-syntax\/html\.njk:2:\d+: expected variable end/,
    );
  });
  it('names the partial when the error is inside it', async () => {
    await assert.rejects(
      () => checkTemplates({ templatesDir: path.join(fixtures, 'templates-broken-partial'), template: 'uses-broken-partial' }),
      /templates-broken-partial\/_partials\/bad\.njk:3:\d+: expected variable end/,
    );
  });
  it('names the subject when the subject is broken', async () => {
    await assert.rejects(() => checkTemplates({ subject: 'Hi {{ name ' }), /^TemplateError: subject: expected variable end/);
  });
  it('refuses a template folder that does not exist', async () => {
    await assert.rejects(() => checkTemplates({ template: 'nope' }), /template 'nope' not found/);
  });
  it('accepts the shipped templates', async () => {
    await checkTemplates();
    await checkTemplates({ template: 'product-news' });
  });
});
