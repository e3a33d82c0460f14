import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { openSendingStack, type SendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { Metrics } from '../src/sender/metrics.js';
import { packageRoot } from '../src/config/paths.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';
import { serverOptions } from './support/server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = 'dashboard-test-token';
const skip = fs.existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (Debian: apt-get install chromium; .ci/run installs it)`;
if (skip) console.log(`# dashboard browser test skipped: ${skip}`);

describe(`the dashboard in a real browser (${dbLabel})`, { skip }, () => {
  let db: TestDb;
  let mock: MockProcess;
  let server: RunningServer;
  let stack: SendingStack;
  let running: Promise<void>;
  let browser: Browser;

  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '20', '--record', 'counts']);
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url, HERALD_API_TOKEN: TOKEN });
    const metrics = new Metrics();
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config, metrics }));
    stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 20, metrics });
    running = stack.worker.runCampaigns(() => true, true);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As root in a sandboxed machine with no outside network: no sandbox, no background traffic.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
    await running;
    await server?.close();
    await mock?.stop();
    await db?.dispose();
  });

  it('signs in, starts a campaign, watches it progress, pauses it with the button, and looks up one address', async () => {
    const list = await seedList(db.kysely, 'browser', 3000);
    // 150/s keeps the campaign running for ~20 s: long enough to watch and pause.
    const id = await seedCampaign(db.kysely, list.listId, { rate: 150, status: 'draft' });

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Which of the campaign's endpoints the page asks: it follows the event stream, not polls.
    const asked: string[] = [];
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith(`/api/v1/campaigns/${id}`)) asked.push(`${r.method()} ${path}`);
    });
    await page.goto(server.url);
    await page.locator('#token').fill(TOKEN);
    await page.locator('#login button[type=submit]').click();
    await page.locator('[data-testid="live"][data-mode="live"]').waitFor({ timeout: 10_000 });
    await page.locator(`tr[data-campaign="${id}"]`).click();
    await page.waitForURL(new RegExp(`#/campaigns/${id}$`));
    assert.equal(await page.locator('h1 [data-testid="status"]').textContent(), 'draft');
    await page.locator('button[data-action="start"]').click();

    const sentCard = page.locator('[data-count="sent"] b');
    const sentShown = async () => Number(((await sentCard.textContent()) ?? '0').replace(/,/g, ''));
    const shownAbove = async (n: number) => {
      const deadline = Date.now() + 30_000;
      while ((await sentShown()) <= n) {
        assert.ok(Date.now() < deadline, `the page never showed more than ${n} sent`);
        await page.waitForTimeout(100);
      }
    };
    await shownAbove(0);
    const first = await sentShown();
    await shownAbove(first);
    const second = await sentShown();
    assert.ok(second > first, `progress moved on the page: ${first} → ${second}`);
    assert.equal(await page.locator('[data-testid="status"]').first().textContent(), 'running');
    assert.equal(await page.locator('[data-testid="live"]').getAttribute('data-mode'), 'live');
    assert.deepEqual(
      [...new Set(asked)].sort(),
      [`GET /api/v1/campaigns/${id}/events`, `POST /api/v1/campaigns/${id}/start`],
      'updates came through the event stream, with no polling',
    );

    await page.locator('button[data-action="pause"]').click();
    await page.locator('h1 [data-testid="status"]', { hasText: 'paused' }).waitFor();
    const campaign = await db.kysely.selectFrom('campaigns').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(campaign.status, 'paused');
    await page.locator('button[data-action="resume"]').waitFor();
    // The worker releases what it had claimed but not sent; the page follows.
    await page.locator('[data-count="queued"] b', { hasText: /^0$/ }).waitFor({ timeout: 15_000 });
    assert.doesNotMatch((await page.locator('main').textContent()) ?? '', /null|undefined|NaN/);

    const artifacts = path.join(packageRoot, 'test', 'artifacts');
    fs.mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'dashboard-campaign-paused.png'), fullPage: true });

    const counts = await countDeliveries(db.kysely, id);
    assert.ok(counts.sent > 0 && counts.sent < 3000, `paused part-way: ${counts.sent} sent`);

    await page.goto(`${server.url}/#/lookup`);
    await page.locator('#lookup-email').fill('browser-user1@example.test');
    await page.locator('#lookup button[type=submit]').click();
    const row = page.locator('[data-testid="lookup-results"] tbody tr');
    await row.first().waitFor();
    assert.match((await row.first().textContent()) ?? '', new RegExp(`#${id} test campaign`));
    await page.screenshot({ path: path.join(artifacts, 'dashboard-lookup.png'), fullPage: true });
    await page.close();
  });

  it('without the event stream polls instead, asks less often when answers are slow, and not at all while hidden', async () => {
    const list = await seedList(db.kysely, 'browser-polling', 2000);
    const id = await seedCampaign(db.kysely, list.listId, { rate: 100, status: 'running' });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // A proxy that will not pass event streams: the page must fall back to polling.
    await page.route('**/events', (r) => r.abort());
    let slowMs = 0;
    const polls: number[] = [];
    await page.route(`**/api/v1/campaigns/${id}`, async (r) => {
      polls.push(Date.now());
      if (slowMs) await new Promise((resolve) => setTimeout(resolve, slowMs));
      await r.continue();
    });
    await page.goto(server.url);
    await page.locator('#token').fill(TOKEN);
    await page.locator('#login button[type=submit]').click();
    await page.goto(`${server.url}/#/campaigns/${id}`);
    await page.locator('[data-testid="live"][data-mode="polling"]').waitFor({ timeout: 10_000 });
    const sentCard = page.locator('[data-count="sent"] b');
    const sentShown = async () => Number(((await sentCard.textContent()) ?? '0').replace(/,/g, ''));
    const before = await sentShown();
    const deadline = Date.now() + 20_000;
    while ((await sentShown()) <= before) {
      assert.ok(Date.now() < deadline, 'the polling page never showed progress');
      await page.waitForTimeout(100);
    }

    // Answers taking 700 ms or more: the page waits at least 4 times that between polls.
    const from = polls.length;
    slowMs = 700;
    const slowDeadline = Date.now() + 60_000;
    while (polls.length < from + 3) {
      assert.ok(Date.now() < slowDeadline, `polled a slow server ${polls.length - from} times in 60 s`);
      await page.waitForTimeout(200);
    }
    const slow = polls.slice(from);
    const gaps = slow.slice(1).map((t, i) => t - slow[i]!);
    assert.ok(
      gaps.every((g) => g >= 2800),
      `gaps between polls of a slow server: ${gaps.join(', ')} ms`,
    );
    slowMs = 0;

    // The browser's visibility as the page reads it (a headless tab is never hidden by itself).
    const setVisibility = (state: 'hidden' | 'visible') =>
      page.evaluate(`Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${state}' });
        document.dispatchEvent(new Event('visibilitychange'))`);
    // Hidden: nothing asked; shown again: asked at once.
    await setVisibility('hidden');
    await page.waitForTimeout(4000); // any poll in flight when it hid has answered by now
    const hiddenFrom = polls.length;
    await page.waitForTimeout(4000);
    assert.equal(polls.length, hiddenFrom, 'no request while the tab is hidden');
    await setVisibility('visible');
    const shownDeadline = Date.now() + 5000;
    while (polls.length === hiddenFrom) {
      assert.ok(Date.now() < shownDeadline, 'asked again once shown');
      await page.waitForTimeout(50);
    }
    await page.close();
  });
});
