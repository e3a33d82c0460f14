import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from './support/browser.js';
import { request } from 'undici';
import { openSendingStack, type SendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { packageRoot } from '../src/config/paths.js';
import { SENDER_ADDRESS_RULE } from '../src/domain/validation.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { Metrics } from '../src/sender/metrics.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';
import { serverOptions } from './support/server.js';

const TOKEN = 'dashboard-compose-token';
// Screenshots for people to look at (test/artifacts/README.md); written on every run.
const artifacts = path.join(packageRoot, 'test', 'artifacts');
const skip = chromiumSkip;
if (skip) console.log(`# dashboard composer browser test skipped: ${skip}`);

interface Person {
  email: string;
  name: string;
  plan: string;
}
const customers: Person[] = Array.from({ length: 24 }, (_, k) => ({
  email: `c${k + 1}@example.test`,
  name: `Customer ${k + 1}`,
  plan: k % 3 === 0 ? 'free' : 'pro',
}));
const press: Person[] = [...customers.slice(0, 4), { email: 'p1@example.test', name: 'Press 1', plan: 'pro' }];
/** Who the composed campaign goes to: customers on the pro plan, less the press list. */
const expected = customers.filter((p) => p.plan === 'pro' && !press.some((q) => q.email === p.email));

function csv(people: Person[]): string {
  return ['email,name,plan', ...people.map((p) => `${p.email},${p.name},${p.plan}`)].join('\n');
}

interface MockMessage {
  id: string;
  to: string[];
  subject: string;
  from: string;
  tags: string[];
  headers: Record<string, string>;
  userVariables: Record<string, string>;
}

describe(`composing a campaign on the dashboard in a real browser (${dbLabel})`, { skip }, () => {
  let db: TestDb;
  let mock: MockProcess;
  let server: RunningServer;
  let stack: SendingStack;
  let running: Promise<void>;
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
  const mockMessages = async () => (await (await request(`${mock.url}/mock/messages`)).body.json()) as MockMessage[];

  const signIn = async (page: Page) => {
    await page.goto(server.url);
    await page.locator('#token').fill(TOKEN);
    await page.locator('#login button[type=submit]').click();
    await page.locator('#login').waitFor({ state: 'hidden' });
  };

  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '5', '--record', 'full']);
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url, HERALD_API_TOKEN: TOKEN });
    const metrics = new Metrics();
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config, metrics }));
    stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 10, metrics });
    running = stack.worker.runCampaigns(() => true, true);
    for (const [name, people] of [
      ['customers', customers],
      ['press', press],
    ] as const) {
      await call('POST', '/api/v1/lists', { name });
      await call('POST', `/api/v1/lists/${name}/recipients`, csv(people), 'text/csv');
    }
    await call('POST', '/api/v1/segments', { name: 'free-plan', where: 'plan = "free"' });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
    await running;
    await server?.close();
    await mock?.stop();
    await db?.dispose();
  });

  it('creates a draft (a wrong field shown next to it, then fixed), edits it, sends a test, starts it and sees it finish', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await signIn(page);
    await page.locator('[data-testid="new-campaign"]').click();
    await page.waitForURL(/#\/campaigns\/new$/);

    // Every control is found by its label, as a screen reader would name it.
    const sendTo = page.getByRole('group', { name: 'Send to the members of' });
    const leaveOut = page.getByRole('group', { name: 'Leave out the members of' });
    await sendTo.getByRole('checkbox', { name: /^customers/ }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Spring for pros');
    await sendTo.getByRole('checkbox', { name: /^customers/ }).check();
    const count = page.locator('[data-testid="compose-count"]');
    await count.filter({ hasText: /^24 recipients$/ }).waitFor();
    await leaveOut.getByRole('checkbox', { name: /^press/ }).check();
    await count.filter({ hasText: /^20 recipients$/ }).waitFor();
    // A saved segment, then text in its place: the count follows each.
    await page.getByRole('combobox', { name: /^Saved segment/ }).selectOption('free-plan');
    await count.filter({ hasText: new RegExp(`^${customers.filter((p) => p.plan === 'free').length - 2} recipients$`) }).waitFor();
    await page.getByRole('textbox', { name: /^Expression/ }).fill('plan = "pro"');
    await count.filter({ hasText: new RegExp(`^${expected.length} recipients$`) }).waitFor();
    assert.equal(await page.getByRole('radio', { name: 'Only those who match' }).isChecked(), true);

    const templates = await page.getByLabel('Template').locator('option').allTextContents();
    assert.ok(templates.includes('spring-sale (html.njk, text.njk)'), templates.join(' | '));
    await page.getByLabel('Template').selectOption('spring-sale');
    await page.getByLabel('Subject').fill('Hi {{ name }}');
    await page.getByLabel('From').fill('Herald News');
    await page.getByLabel('Reply-to (optional)').fill('Help <help@example.test>');
    await page.getByLabel('Tags (optional)').fill('spring, composer');
    await page.getByLabel('Rate (optional)').fill('40');
    await page.getByRole('button', { name: 'Save draft' }).click();

    // The API refused the sender: said next to it, the control marked, nothing stored.
    const fromError = page.locator('[data-field-error="from"]');
    await fromError.filter({ hasText: SENDER_ADDRESS_RULE }).waitFor();
    assert.equal(await page.getByLabel('From').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('[data-testid="compose-error"]').textContent(), 'Not saved: 1 field needs a change (shown next to each).');
    assert.equal(await page.locator('[data-field-error="subject"]').textContent(), '');
    assert.equal((await db.kysely.selectFrom('campaigns').select('id').execute()).length, 0);
    assert.equal(await page.locator('#compose-next').isVisible(), false);
    fs.mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'dashboard-compose-error.png'), fullPage: true });

    await page.getByLabel('From').fill('Herald News <news@example.test>');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page
      .locator('[data-testid="compose-saved"]')
      .filter({ hasText: /^Saved: draft #\d+ Spring for pros/ })
      .waitFor();
    await page.waitForURL(/#\/campaigns\/\d+\/edit$/);
    const id = Number(/campaigns\/(\d+)\/edit$/.exec(page.url())![1]);
    assert.equal(await fromError.textContent(), '');
    assert.equal(await page.getByLabel('From').getAttribute('aria-invalid'), null);
    const stored = await db.kysely
      .selectFrom('campaigns')
      .select(['name', 'status', 'template', 'subject', 'from_address', 'reply_to', 'tags', 'rate_per_second', 'where_text', 'segment_id'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(stored, {
      name: 'Spring for pros',
      status: 'draft',
      template: 'spring-sale',
      subject: 'Hi {{ name }}',
      from_address: 'Herald News <news@example.test>',
      reply_to: 'Help <help@example.test>',
      tags: ['spring', 'composer'],
      rate_per_second: 40,
      where_text: 'plan = "pro"',
      segment_id: null,
    });
    const roles = await db.kysely
      .selectFrom('campaign_lists')
      .innerJoin('lists', 'lists.id', 'campaign_lists.list_id')
      .select(['lists.name', 'campaign_lists.role'])
      .where('campaign_id', '=', id)
      .orderBy('lists.name')
      .execute();
    assert.deepEqual(roles, [
      { name: 'customers', role: 'include' },
      { name: 'press', role: 'exclude' },
    ]);

    // Edited again: the next steps wait until the change is saved (they use the saved draft).
    const next = page.locator('#compose-next');
    assert.equal(await next.getByRole('link', { name: 'Preview' }).getAttribute('href'), `#/campaigns/${id}`);
    await page.getByLabel('Subject').fill('Spring for you, {{ name }}');
    await page
      .locator('[data-testid="compose-unsaved"]')
      .filter({ hasText: /save the draft first/ })
      .waitFor();
    assert.equal(await next.getByRole('button', { name: 'Start now' }).isDisabled(), true);
    assert.equal(await page.locator('[data-testid="compose-saved"]').textContent(), '');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page
      .locator('[data-testid="compose-saved"]')
      .filter({ hasText: /^Saved: draft/ })
      .waitFor();
    assert.equal(await page.locator('[data-testid="compose-unsaved"]').textContent(), '');
    assert.equal(await next.getByRole('button', { name: 'Start now' }).isDisabled(), false);
    const edited = await db.kysely.selectFrom('campaigns').select(['subject', 'status']).where('id', '=', id).executeTakeFirstOrThrow();
    assert.deepEqual(edited, { subject: 'Spring for you, {{ name }}', status: 'draft' });
    assert.equal((await db.kysely.selectFrom('campaigns').select('id').execute()).length, 1, 'the edit changed the draft, made no second one');

    // A test: the mock receives it; the page shows the provider's answer.
    await next.getByLabel('Send a test to').fill('qa@example.test');
    await next.getByRole('button', { name: 'Send test' }).click();
    const testResult = page.locator('[data-testid="test-result"]');
    await testResult.filter({ hasText: /^Accepted by the provider/ }).waitFor();
    const tests = await mockMessages();
    assert.equal(tests.length, 1);
    assert.deepEqual(tests[0]!.to, ['qa@example.test']);
    assert.equal(tests[0]!.subject, `[TEST] Spring for you, ${expected[0]!.name}`);
    assert.equal(tests[0]!.userVariables['herald-delivery'], `${id}.test`);
    assert.equal(await testResult.textContent(), `Accepted by the provider for qa@example.test (rendered as ${expected[0]!.email}): ${tests[0]!.id}`);
    assert.equal((await countDeliveries(db.kysely, id)).sent, 0, 'a test records no delivery');
    await page.screenshot({ path: path.join(artifacts, 'dashboard-compose-draft.png'), fullPage: true });

    // Previewed from the composer's link: the campaign page's panel renders the saved draft for
    // its first recipient, at desktop and mobile widths.
    await next.getByRole('link', { name: 'Preview' }).click();
    await page.waitForURL(new RegExp(`#/campaigns/${id}$`));
    await page.locator('[data-testid="preview"] > summary').click();
    await page.locator('[data-testid="preview-desktop"]').waitFor();
    assert.equal(await page.locator('[data-testid="preview-subject"]').textContent(), `Spring for you, ${expected[0]!.name}`);
    for (const kind of ['desktop', 'mobile']) {
      const frame = page.frameLocator(`[data-testid="preview-${kind}"]`);
      await frame.locator('body').filter({ hasText: expected[0]!.name }).waitFor();
      await page.locator(`[data-testid="preview-${kind}"]`).screenshot({ path: path.join(artifacts, `dashboard-compose-preview-${kind}.png`) });
    }
    await page.locator('[data-testid="edit-draft"]').click();
    await page.waitForURL(new RegExp(`#/campaigns/${id}/edit$`));
    await next.getByRole('button', { name: 'Start now' }).waitFor();

    // Started: the campaign page follows it to the end.
    await next.getByRole('button', { name: 'Start now' }).click();
    await page.waitForURL(new RegExp(`#/campaigns/${id}$`));
    await page.locator('h1 [data-testid="status"]', { hasText: 'finished' }).waitFor({ timeout: 60_000 });
    await page.locator('[data-count="sent"] b', { hasText: new RegExp(`^${expected.length}$`) }).waitFor();
    assert.equal((await countDeliveries(db.kysely, id)).sent, expected.length);
    const sent = (await mockMessages()).filter((m) => m.userVariables['herald-delivery'] !== `${id}.test`);
    assert.deepEqual(sent.flatMap((m) => m.to).sort(), expected.map((p) => p.email).sort());
    for (const m of sent) {
      const person = expected.find((p) => p.email === m.to[0])!;
      assert.equal(m.subject, `Spring for you, ${person.name}`);
      assert.deepEqual(m.tags, ['spring', 'composer']);
    }
    assert.equal(await page.locator('[data-testid="edit-draft"]').count(), 0, 'no edit link once it started');
    await page.screenshot({ path: path.join(artifacts, 'dashboard-compose-finished.png'), fullPage: true });

    // Its composer address now says it cannot be edited.
    await page.goto(`${server.url}/#/campaigns/${id}/edit`);
    await page.locator('[data-testid="compose-not-draft"]').filter({ hasText: 'This campaign is finished: only a draft can be edited.' }).waitFor();
    await page.close();
  });

  it('opens a draft from its page, keeps what it had, and schedules it', async () => {
    const created = await call('POST', '/api/v1/campaigns', {
      name: 'Later',
      lists: ['customers'],
      segment: 'free-plan',
      template: 'spring-sale',
      subject: 'Hi',
      from: 'Herald News <news@example.test>',
      tags: ['later'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await signIn(page);
    await page.goto(`${server.url}/#/campaigns/${created.id}`);
    await page.locator('[data-testid="edit-draft"]').click();
    await page.waitForURL(new RegExp(`#/campaigns/${created.id}/edit$`));
    await page
      .locator('[data-testid="compose-count"]')
      .filter({ hasText: new RegExp(`^${customers.filter((p) => p.plan === 'free').length} recipients$`) })
      .waitFor();
    assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'Later');
    assert.equal(await page.getByRole('combobox', { name: /^Saved segment/ }).inputValue(), 'free-plan');
    assert.equal(await page.getByRole('radio', { name: 'A saved segment' }).isChecked(), true);
    assert.equal(
      await page
        .getByRole('group', { name: 'Send to the members of' })
        .getByRole('checkbox', { name: /^customers/ })
        .isChecked(),
      true,
    );
    assert.equal(await page.getByLabel('Tags (optional)').inputValue(), 'later');

    // A time the API refuses is shown by the field; then a good one.
    const next = page.locator('#compose-next');
    await next.getByRole('button', { name: 'Schedule' }).click();
    await page.locator('[data-field-error="at"]').filter({ hasText: 'choose a date and time' }).waitFor();
    const at = new Date(Date.now() + 3 * 86_400_000);
    at.setSeconds(0, 0);
    const local = new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await next.getByLabel('Or start it at (your local time)').fill(local);
    await next.getByRole('button', { name: 'Schedule' }).click();
    await page.waitForURL(new RegExp(`#/campaigns/${created.id}$`));
    await page.locator('h1 [data-testid="status"]', { hasText: 'scheduled' }).waitFor();
    const row = await db.kysely.selectFrom('campaigns').select(['status', 'scheduled_at']).where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.equal(row.status, 'scheduled');
    assert.equal(row.scheduled_at?.getTime(), at.getTime());
    await page.close();
  });
});
