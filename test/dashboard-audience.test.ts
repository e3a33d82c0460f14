import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from './support/browser.js';
import { request } from 'undici';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { packageRoot } from '../src/config/paths.js';
import { parseSegment } from '../src/domain/segment/index.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { serverOptions } from './support/server.js';

const TOKEN = 'dashboard-audience-token';
// Screenshots for people to look at (test/artifacts/README.md); written on every run.
const artifacts = path.join(packageRoot, 'test', 'artifacts');
const skip = chromiumSkip;
if (skip) console.log(`# dashboard audience browser test skipped: ${skip}`);

/** A recipient as the test imports it, and as the expected counts are worked out from. */
interface Person {
  email: string;
  name: string;
  plan: string;
  score: number;
  city: string;
  note: string;
}

// Markup in recipient data: the page must show it as text.
const PWN_NAME = '<img src=x onerror="window.__pwned=1">';
const customers: Person[] = Array.from({ length: 30 }, (_, k) => {
  const i = k + 1;
  return {
    email: `c${i}@example.test`,
    name: i === 7 ? PWN_NAME : `Customer ${i}`,
    plan: i % 3 === 0 ? 'free' : 'pro',
    score: i * 3,
    city: i % 2 ? 'Berlin' : 'Paris',
    note: i === 7 ? '<b>bold</b>' : '',
  };
});
const trial: Person[] = Array.from({ length: 10 }, (_, k) => ({
  email: `t${k + 1}@example.test`,
  name: `Trial ${k + 1}`,
  plan: 'pro',
  score: 90,
  city: 'Rome',
  note: '',
}));
const press: Person[] = [...customers.slice(0, 5), { email: 'p1@example.test', name: 'Press 1', plan: 'free', score: 0, city: 'Paris', note: '' }];
const SUPPRESSED = 'c20@example.test';
const everyone = [...new Map([...customers, ...trial, ...press].map((p) => [p.email, p])).values()];

/** Who an audience holds now, as the preview counts it: members, less excluded, less suppressed. */
function audience(include: Person[] | null, exclude: Person[], match: (p: Person) => boolean): { sent: Person[]; suppressed: number } {
  const out = new Set(exclude.map((p) => p.email));
  const inside = (include ?? everyone).filter((p) => !out.has(p.email) && match(p));
  return { sent: inside.filter((p) => p.email !== SUPPRESSED), suppressed: inside.filter((p) => p.email === SUPPRESSED).length };
}
const recipients = (n: number) => `${n.toLocaleString('en')} recipient${n === 1 ? '' : 's'}`;
/** What the editor's count line says, exactly. */
const countText = (a: { sent: Person[]; suppressed: number }) =>
  new RegExp(`^${recipients(a.sent.length)}${a.suppressed > 0 ? ` \\(${a.suppressed} suppressed left out\\)` : ''}$`);

function csv(people: Person[]): string {
  const q = (v: string | number) => `"${String(v).replace(/"/g, '""')}"`;
  return ['email,name,plan,score,city,note', ...people.map((p) => [p.email, p.name, p.plan, p.score, p.city, p.note].map(q).join(','))].join('\n');
}

describe(`the audience on the dashboard in a real browser (${dbLabel})`, { skip }, () => {
  let db: TestDb;
  let server: RunningServer;
  let browser: Browser;

  const call = async (method: 'GET' | 'POST', url: string, body?: unknown, contentType = 'application/json') => {
    const res = await request(`${server.url}${url}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.body.text();
    assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${text}`);
    return JSON.parse(text);
  };

  const signIn = async (page: Page) => {
    await page.goto(server.url);
    await page.locator('#token').fill(TOKEN);
    await page.locator('#login button[type=submit]').click();
    await page.locator('#login').waitFor({ state: 'hidden' });
  };

  before(async () => {
    db = await openTestDb();
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: 'key-test', MAILGUN_DOMAIN: 'mg.example.test', HERALD_API_TOKEN: TOKEN });
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config }));
    for (const [name, people] of [
      ['customers', customers],
      ['trial', trial],
      ['press', press],
    ] as const) {
      await call('POST', '/api/v1/lists', { name });
      const imported = await call('POST', `/api/v1/lists/${name}/recipients`, csv(people), 'text/csv');
      assert.equal(imported.addedToList, people.length, JSON.stringify(imported));
    }
    await call('POST', '/api/v1/suppressions', { emails: [SUPPRESSED], reason: 'manual' });
    await call('POST', '/api/v1/segments', { name: 'berliners', where: 'city = "Berlin"' });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await db?.dispose();
  });

  it('builds a segment as you type (count, samples, warnings, errors at their place), saves it, and creates a campaign from it', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    // Every count the page asks for, and how many are in flight at once.
    const previews: string[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const isPreview = (url: string) => new URL(url).pathname === '/api/v1/audience/preview';
    page.on('request', (r) => {
      if (!isPreview(r.url())) return;
      previews.push(r.postData() ?? '');
      mostInFlight = Math.max(mostInFlight, ++inFlight);
    });
    const done = (r: { url(): string }) => {
      if (isPreview(r.url())) inFlight--;
    };
    page.on('requestfinished', done);
    page.on('requestfailed', done);

    await signIn(page);
    await page.locator('header nav a[href="#/audience"]').click();
    await page.locator('[data-testid="new-segment"]').click();
    await page.waitForURL(/#\/audience\/new$/);
    const count = page.locator('[data-testid="preview-count"]');
    // Nothing chosen yet: every recipient, the suppressed one left out.
    await count.filter({ hasText: countText(audience(null, [], () => true)) }).waitFor();

    await page.locator('select[data-list="customers"]').selectOption('include');
    await page.locator('select[data-list="press"]').selectOption('exclude');
    await count.filter({ hasText: countText(audience(customers, press, () => true)) }).waitFor();

    // Everything the count line shows from here on.
    await page.evaluate(`window.__shown = [];
      new MutationObserver(() => window.__shown.push(document.querySelector('[data-testid="preview-count"]').textContent))
        .observe(document.querySelector('[data-testid="preview-count"]'), { childList: true, characterData: true, subtree: true })`);
    // The answer for `plan = "free"` comes late; by then the text says `plan = "pro"`: the late
    // answer is dropped, and the newer text is asked for only once it came (one at a time).
    const SLOW = 'plan = "free"';
    await page.route('**/api/v1/audience/preview', async (route) => {
      if (JSON.parse(route.request().postData() ?? '{}').where === SLOW) await new Promise((resolve) => setTimeout(resolve, 1500));
      await route.continue();
    });
    const expr = page.locator('#segment-expression');
    await expr.fill(SLOW);
    const asked = Date.now();
    while (JSON.parse(previews.at(-1) ?? '{}').where !== SLOW) {
      assert.ok(Date.now() - asked < 5000, 'the slow text was asked for');
      await page.waitForTimeout(20);
    }
    await expr.fill('plan = "pro"');
    const pro = audience(customers, press, (p) => p.plan === 'pro');
    await count.filter({ hasText: countText(pro) }).waitFor();
    const free = countText(audience(customers, press, (p) => p.plan === 'free'));
    const shown: string[] = await page.evaluate('window.__shown');
    assert.ok(!shown.some((t) => free.test(t)), `the late answer was never shown: ${JSON.stringify(shown)}`);
    assert.deepEqual(JSON.parse(previews.at(-1)!), { lists: ['customers'], excludeLists: ['press'], where: 'plan = "pro"' });
    await page.unroute('**/api/v1/audience/preview');

    // Samples: up to ten recipients of the audience, as text (one of them is named with markup).
    const sampleEmails = () => page.locator('[data-testid="preview-samples"] tbody tr td:first-child').allTextContents();
    const samples = await sampleEmails();
    assert.equal(samples.length, Math.min(10, pro.sent.length));
    assert.ok(
      samples.every((e) => pro.sent.some((p) => p.email === e)),
      samples.join(', '),
    );
    assert.ok(samples.includes('c7@example.test'));
    assert.equal(await page.locator('[data-testid="preview-samples"] td', { hasText: PWN_NAME }).count(), 1);
    assert.equal(await page.locator('[data-testid="preview-samples"] img, [data-testid="preview-samples"] b').count(), 0);

    // Typing: asked for once typing pauses, not on every keystroke.
    const before = previews.length;
    await expr.pressSequentially(' and score >= 50', { delay: 30 });
    const proHigh = audience(customers, press, (p) => p.plan === 'pro' && p.score >= 50);
    await count.filter({ hasText: countText(proHigh) }).waitFor();
    const typed = previews.length - before;
    assert.ok(typed >= 1 && typed <= 4, `${typed} counts asked for while typing 16 characters`);
    assert.deepEqual((await sampleEmails()).sort(), proHigh.sent.map((p) => p.email).sort());

    // An attribute nobody has: nobody matches, and the page says why.
    await expr.fill('plan = "pro" and colour = "red"');
    await count.filter({ hasText: /^0 recipients$/ }).waitFor();
    assert.match((await page.locator('[data-testid="preview-warnings"]').textContent()) ?? '', /no recipient has an attribute 'colour'/);
    assert.equal(await page.locator('[data-testid="preview-samples"]').textContent(), 'Nobody matches.');

    // A syntax error: shown at its place, with what was expected there.
    const broken = 'plan = "pro" city = "Paris"';
    const parsed = parseSegment(broken);
    assert.ok(!parsed.ok);
    await expr.fill(broken);
    const error = page.locator('[data-testid="syntax-error"]');
    await error.waitFor();
    assert.equal(await error.getAttribute('data-position'), String(parsed.error.position));
    assert.equal(await error.locator('[data-testid="error-spot"]').textContent(), broken[parsed.error.position]);
    assert.equal(await error.locator('[data-testid="error-caret"]').textContent(), `${' '.repeat(parsed.error.position)}^`);
    assert.equal(await error.locator('[data-testid="syntax-message"]').textContent(), parsed.error.message);
    assert.match(parsed.error.message, /^at 1:14: expected 'and', 'or'/);
    assert.equal(await count.textContent(), 'No count: fix the expression or the lists.');
    assert.equal(await page.locator('[data-testid="preview-samples"]').textContent(), '');
    // The caret lines up with the spot (monospace): same left edge.
    const spot = await error.locator('[data-testid="error-spot"]').boundingBox();
    const caret = await error.locator('[data-testid="error-caret"]').boundingBox();
    assert.ok(spot && caret && Math.abs(caret.x + caret.width - (spot.x + spot.width)) < 2, `spot ${JSON.stringify(spot)}, caret ${JSON.stringify(caret)}`);
    fs.mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'dashboard-segment-error.png'), fullPage: true });

    // On a second line, at the end of the text: the line it is on, the end marked.
    const unfinished = 'plan = "pro"\nand score >=';
    const parsed2 = parseSegment(unfinished);
    assert.ok(!parsed2.ok);
    await expr.fill(unfinished);
    await error.and(page.locator(`[data-position="${parsed2.error.position}"]`)).waitFor();
    assert.equal(parsed2.error.position, unfinished.length);
    assert.equal(await error.locator('pre').textContent(), `2 │ and score >= \n  │ ${' '.repeat('and score >='.length)}^`);
    assert.match((await error.locator('[data-testid="syntax-message"]').textContent()) ?? '', /^at 2:13: expected a value/);

    // Fixed again; saved under a name the rules refuse, one that is taken, then a good one.
    const text = 'plan = "pro" and score >= 50';
    await expr.fill(text);
    await count.filter({ hasText: countText(proHigh) }).waitFor();
    assert.equal(await error.count(), 0);
    const nameError = page.locator('[data-testid="segment-name-error"]');
    await page.locator('#segment-name').fill('pro people');
    await page.locator('#save-segment button[type=submit]').click();
    await nameError.filter({ hasText: /letters, digits/ }).waitFor();
    await page.locator('#segment-name').fill('berliners');
    await page.locator('#save-segment button[type=submit]').click();
    await nameError.filter({ hasText: /already exists/ }).waitFor();
    await page.locator('#segment-name').fill('active-pro');
    await page.locator('#save-segment button[type=submit]').click();
    await page.locator('[data-testid="segment-saved"]', { hasText: 'Saved as active-pro' }).waitFor();
    assert.equal(await nameError.textContent(), '');
    const savedRow = await db.kysely.selectFrom('segments').select(['id', 'expression']).where('name', '=', 'active-pro').executeTakeFirstOrThrow();
    assert.equal(savedRow.expression, text);
    await page.screenshot({ path: path.join(artifacts, 'dashboard-segment-editor.png'), fullPage: true });

    // A campaign for this audience: a missing field is named next to it; then created.
    await page.locator('#campaign-name').fill('Pro push');
    await page.locator('#campaign-template').fill('spring-sale');
    await page.locator('#campaign-subject').fill('Hi {{ name }}');
    await page.locator('#create-campaign button[type=submit]').click();
    await page.locator('[data-field-error="from"]').filter({ hasText: /./ }).waitFor();
    await page.locator('#campaign-from').fill('Herald Test <news@example.test>');
    await page.locator('#create-campaign button[type=submit]').click();
    await page.waitForURL(/#\/campaigns\/\d+$/);
    const id = Number(/(\d+)$/.exec(page.url())![1]);
    const campaign = await db.kysely
      .selectFrom('campaigns')
      .select(['name', 'segment_id', 'where_text', 'status'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(campaign, { name: 'Pro push', segment_id: savedRow.id, where_text: null, status: 'draft' });

    // Its page: lists, minus the excluded list, the segment and its expression, the size now.
    const size = page.locator('[data-testid="audience-size"]');
    await size.filter({ hasText: /now/ }).waitFor();
    assert.equal(await page.locator('[data-testid="audience-lists"]').textContent(), 'customers');
    assert.equal(await page.locator('[data-testid="audience-exclude"]').textContent(), 'press');
    assert.equal(await page.locator('[data-testid="audience-segment"]').textContent(), 'active-pro');
    await page.locator('[data-testid="audience-expression"]').filter({ hasText: text }).waitFor();
    assert.equal(await size.textContent(), `${proHigh.sent.length} now (after exclusions and suppressions); fixed when it starts`);
    await page.screenshot({ path: path.join(artifacts, 'dashboard-campaign-audience.png'), fullPage: true });

    // Started: the audience is fixed, the suppressed member in it (skipped when claimed).
    await page.locator('button[data-action="start"]').click();
    await size.filter({ hasText: /fixed when it started/ }).waitFor();
    const fixed = await db.kysely.selectFrom('campaigns').select('audience_size').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(Number(fixed.audience_size), proHigh.sent.length + proHigh.suppressed);
    assert.equal(await size.textContent(), `${recipients(proHigh.sent.length + proHigh.suppressed)}, fixed when it started`);
    assert.equal(await page.locator('[data-testid="audience-expression"]').textContent(), text);
    assert.doesNotMatch((await page.locator('main').textContent()) ?? '', /null|undefined|NaN/);

    // The campaign list says whom each campaign is for.
    await page.locator('header nav a[href="#/"]').click();
    assert.equal(await page.locator(`tr[data-campaign="${id}"] td.audience-cell`).textContent(), 'customers − press · segment active-pro');
    assert.equal(await page.evaluate('window.__pwned'), undefined);
    assert.equal(mostInFlight, 1, 'one count in flight at a time');
    await page.close();
  });

  it('lists every list and saved segment with its size, counting each segment once when shown', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const previews: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/v1/audience/preview') previews.push(r.postData() ?? '');
    });
    await signIn(page);
    await page.goto(`${server.url}/#/audience`);
    const listSize = (name: string) => page.locator(`[data-testid="lists"] tr[data-list="${name}"] td.num`).textContent();
    await page.locator('[data-testid="lists"]').waitFor();
    assert.equal(await listSize('customers'), String(customers.length));
    assert.equal(await listSize('trial'), String(trial.length));
    assert.equal(await listSize('press'), String(press.length));

    const segment = (name: string) => page.locator(`[data-testid="segments"] tr[data-segment="${name}"]`);
    const expected = {
      'active-pro': audience(null, [], (p) => p.plan === 'pro' && p.score >= 50).sent.length,
      berliners: audience(null, [], (p) => p.city === 'Berlin').sent.length,
    };
    for (const [name, n] of Object.entries(expected)) {
      await segment(name)
        .locator('[data-testid="segment-size"]')
        .filter({ hasText: new RegExp(`^${n}$`) })
        .waitFor();
    }
    assert.equal(await segment('active-pro').locator('code.expr').textContent(), 'plan = "pro" and score >= 50');
    assert.equal(await segment('berliners').locator('code.expr').textContent(), 'city = "Berlin"');
    // Each counted once, by name; nothing asked again while the page stays open.
    await page.waitForTimeout(2500);
    assert.deepEqual(
      previews.map((p) => JSON.parse(p)).sort((a, b) => a.segment.localeCompare(b.segment)),
      [{ segment: 'active-pro' }, { segment: 'berliners' }],
    );
    await page.screenshot({ path: path.join(artifacts, 'dashboard-lists-segments.png'), fullPage: true });

    // A saved segment's page: the campaigns that use it; the editor starts from its text.
    await segment('active-pro').locator('a').click();
    await page.waitForURL(/#\/segments\/active-pro$/);
    await page.locator('[data-testid="segment-campaigns"]', { hasText: 'Pro push' }).waitFor();
    assert.equal(await page.locator('#segment-expression').inputValue(), 'plan = "pro" and score >= 50');
    await page
      .locator('[data-testid="preview-count"]')
      .filter({ hasText: countText(audience(null, [], (p) => p.plan === 'pro' && p.score >= 50)) })
      .waitFor();
    await page.close();
  });

  it("shows an ad-hoc where text as the campaign's audience, as text", async () => {
    const where = 'note contains "<b>bold</b>" or name starts with "<img"';
    const created = await call('POST', '/api/v1/campaigns', {
      name: 'Markup',
      lists: ['customers', 'trial'],
      where,
      template: 'spring-sale',
      subject: 'Hi',
      from: 'Herald Test <news@example.test>',
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page);
    await page.goto(`${server.url}/#/campaigns/${created.id}`);
    const size = page.locator('[data-testid="audience-size"]');
    await size.filter({ hasText: /now/ }).waitFor();
    assert.equal(await page.locator('[data-testid="audience-lists"]').textContent(), 'customers, trial');
    assert.equal(await page.locator('[data-testid="audience-exclude"]').count(), 0);
    assert.equal(await page.locator('[data-testid="audience-expression"]').textContent(), where);
    assert.equal(await page.locator('[data-testid="audience"] b, [data-testid="audience"] img').count(), 0);
    assert.equal(await size.textContent(), '1 now (after exclusions and suppressions); fixed when it starts');
    assert.equal(await page.evaluate('window.__pwned'), undefined);
    await page.close();
  });
});
