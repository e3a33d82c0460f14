import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { chromiumSkip, launchChromium } from './support/browser.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { packageRoot } from '../src/config/paths.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { serverOptions } from './support/server.js';

const TOKEN = 'dashboard-preview-token';
// Screenshots for people to look at (test/artifacts/README.md); written on every run.
const artifacts = path.join(packageRoot, 'test', 'artifacts');
const skip = chromiumSkip;
if (skip) console.log(`# dashboard browser test skipped: ${skip}`);

describe(`the dashboard's preview panel in a real browser (${dbLabel})`, { skip }, () => {
  let db: TestDb;
  let server: RunningServer;
  let browser: Browser;
  let dir: string;
  let savedTemplates: string | undefined;

  before(async () => {
    // The shipped templates, and one whose HTML carries a script: the preview must not run it.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-dashboard-preview-'));
    const templates = path.join(dir, 'templates');
    fs.cpSync(path.join(packageRoot, 'templates'), templates, { recursive: true });
    fs.mkdirSync(path.join(templates, 'scripted'));
    fs.writeFileSync(
      path.join(templates, 'scripted', 'html.njk'),
      '<html><body><p id="hello">Hello {{ name }}</p><img src="https://cdn.example.com/x.png"><script>document.body.setAttribute("data-ran", "yes")</script>' +
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>',
    );
    fs.writeFileSync(path.join(templates, 'scripted', 'text.njk'), 'Hello {{ name }}\nUnsubscribe: {{ unsubscribe_url }}\n');
    savedTemplates = process.env.HERALD_TEMPLATES_DIR;
    process.env.HERALD_TEMPLATES_DIR = templates;
    db = await openTestDb();
    const config = loadConfig({
      ...process.env,
      MAILGUN_API_KEY: '',
      MAILGUN_DOMAIN: '',
      HERALD_API_TOKEN: TOKEN,
      HERALD_PUBLIC_URL: 'https://herald.example.org',
    });
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config }));
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await db?.dispose();
    if (savedTemplates === undefined) delete process.env.HERALD_TEMPLATES_DIR;
    else process.env.HERALD_TEMPLATES_DIR = savedTemplates;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows the message at desktop and mobile widths in frames that run nothing, with headers, text part and checks', async () => {
    const list = await seedList(db.kysely, 'spring', 5, { products: 'tent,lantern,boots,stove', city: 'Portland' });
    const id = await seedCampaign(db.kysely, list.listId, { status: 'draft', subject: 'Spring sale for {{ name }}' });

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const asked: string[] = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.pathname.endsWith('/preview')) asked.push(url.pathname + url.search);
    });
    await page.goto(`${server.url}/#/campaigns/${id}`);
    await page.locator('#token').fill(TOKEN);
    await page.locator('#login button[type=submit]').click();
    await page.locator('h1 [data-testid="status"]').waitFor();
    assert.deepEqual(asked, [], 'nothing is rendered until the panel is opened');

    await page.locator('[data-testid="preview"] > summary').click();
    await page.locator('[data-testid="preview-desktop"]').waitFor();
    assert.match(
      (await page.locator('[data-testid="preview-recipient"]').textContent()) ?? '',
      /Rendered for spring-user1@example\.test \(the first recipient of the audience\)/,
    );
    assert.equal(await page.locator('[data-testid="preview-subject"]').textContent(), 'Spring sale for User 1');
    const headers = (await page.locator('[data-testid="preview-headers"]').textContent()) ?? '';
    assert.match(headers, /List-Unsubscribe<https:\/\/herald\.example\.org\/u\//);
    assert.match(headers, /List-Unsubscribe-PostList-Unsubscribe=One-Click/);
    assert.match(headers, /FromHerald Test <news@example\.test>/);
    assert.match((await page.locator('[data-testid="preview-text"]').textContent()) ?? '', /Hello User 1, spring is here\./);
    assert.match((await page.locator('.preview h3').first().textContent()) ?? '', /Checks: nothing to report/);

    for (const [kind, width] of [
      ['desktop', 620],
      ['mobile', 375],
    ] as const) {
      const frame = page.locator(`[data-testid="preview-${kind}"]`);
      assert.equal(await frame.getAttribute('sandbox'), '', 'an empty sandbox: no scripts, no forms, an origin of its own');
      const box = (await frame.boundingBox())!;
      assert.ok(Math.abs(box.width - width) <= 2, `${kind} frame is ${box.width} px wide`);
      const inside = page.frameLocator(`[data-testid="preview-${kind}"]`);
      await inside.locator('h1.hero-title').waitFor();
      assert.match((await inside.locator('h1.hero-title').textContent()) ?? '', /Hello User 1, spring is here\./);
    }
    // The mobile frame is narrow enough for the template's media query: its product cards stack.
    const stacked = await page
      .frameLocator('[data-testid="preview-mobile"]')
      .locator('td.stack')
      .first()
      .evaluate((td) => (globalThis as unknown as { getComputedStyle(e: unknown): { display: string } }).getComputedStyle(td).display);
    assert.equal(stacked, 'block');
    await page.locator('[data-testid="preview-desktop"]').screenshot({ path: path.join(artifacts, 'dashboard-preview-desktop.png') });
    await page.locator('[data-testid="preview-mobile"]').screenshot({ path: path.join(artifacts, 'dashboard-preview-mobile.png') });
    await page.locator('[data-testid="preview"]').screenshot({ path: path.join(artifacts, 'dashboard-preview-panel.png') });

    // Another recipient; then one that does not exist, named in the error.
    await page.locator('[data-testid="preview-as"]').fill('spring-user3@example.test');
    await page.locator('.preview-as button[type=submit]').click();
    await page.locator('[data-testid="preview-subject"]', { hasText: 'Spring sale for User 3' }).waitFor();
    assert.match((await page.locator('[data-testid="preview-recipient"]').textContent()) ?? '', /spring-user3@example\.test \(as asked\)/);
    await page.locator('[data-testid="preview-as"]').fill('nobody@example.test');
    await page.locator('.preview-as button[type=submit]').click();
    await page.locator('[data-testid="preview-error"]', { hasText: "no recipient with address 'nobody@example.test'" }).waitFor();
    assert.deepEqual(asked, [
      `/api/v1/campaigns/${id}/preview`,
      `/api/v1/campaigns/${id}/preview?as=spring-user3%40example.test`,
      `/api/v1/campaigns/${id}/preview?as=nobody%40example.test`,
    ]);
    await page.close();
  });

  it('runs no script of the template, and lists the checks that fire', async () => {
    const list = await seedList(db.kysely, 'scripted', 2);
    const id = await seedCampaign(db.kysely, list.listId, { status: 'draft', template: 'scripted', subject: 'Hi {{ name }}' });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${server.url}/#/campaigns/${id}`);
    await page.locator('#token').fill(TOKEN);
    await page.locator('#login button[type=submit]').click();
    await page.locator('[data-testid="preview"] > summary').click();
    const inside = page.frameLocator('[data-testid="preview-desktop"]');
    await inside.locator('#hello').waitFor();
    assert.equal(await inside.locator('#hello').textContent(), 'Hello User 1');
    // Give a script every chance to have run.
    await page.waitForTimeout(300);
    assert.equal(await inside.locator('body').getAttribute('data-ran'), null, "the template's script did not run");
    assert.deepEqual(dialogs, []);
    const checks = await page
      .locator('[data-testid="preview-checks"] li')
      .evaluateAll((lis) => lis.map((li) => `${li.getAttribute('data-code')} ${li.className}`));
    assert.deepEqual(checks, ['img_without_alt warning']);
    assert.match((await page.locator('.preview h3').first().textContent()) ?? '', /Checks: 1 warning/);
    await page.close();
  });
});
