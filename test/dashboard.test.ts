import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from './support/browser.js';
import { request } from 'undici';
import { openSendingStack, type SendingStack } from '../src/app/sendingStack.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { Metrics } from '../src/sender/metrics.js';
import { packageRoot } from '../src/config/paths.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { signWebhook } from '../src/provider/mailgun/webhookSignature.js';
import { countDeliveries } from '../src/sql/countDeliveries.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';
import { serverOptions } from './support/server.js';

const TOKEN = 'dashboard-test-token';
const SIGNING_KEY = 'dashboard-signing-key';
// Screenshots for people to look at (test/artifacts/README.md); written on every run.
const artifacts = path.join(packageRoot, 'test', 'artifacts');
const skip = chromiumSkip;
if (skip) console.log(`# dashboard browser test skipped: ${skip}`);

describe(`the dashboard in a real browser (${dbLabel})`, { skip }, () => {
  let db: TestDb;
  let mock: MockProcess;
  let server: RunningServer;
  let stack: SendingStack;
  let running: Promise<void>;
  let browser: Browser;

  const signIn = async (page: Page) => {
    await page.goto(server.url);
    await page.locator('#token').fill(TOKEN);
    await page.locator('#login button[type=submit]').click();
    await page.locator('#login').waitFor({ state: 'hidden' });
  };

  before(async () => {
    db = await openTestDb();
    mock = await startMockProcess(['--latency', '20', '--record', 'counts']);
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url, HERALD_API_TOKEN: TOKEN });
    const metrics = new Metrics();
    server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: TOKEN, config, metrics, webhookSigningKey: SIGNING_KEY }));
    stack = await openSendingStack(config, db, createLogger('silent'), { concurrency: 20, metrics });
    running = stack.worker.runCampaigns(() => true, true);
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
    const openedAt = Date.now();
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
      [`GET /api/v1/campaigns/${id}/events`, `GET /api/v1/campaigns/${id}/timeline`, `POST /api/v1/campaigns/${id}/start`],
      'updates came through the event stream, with no polling; the time series are read apart',
    );
    // The time series are read on opening, every 20 s after, and at once when the campaign
    // starts and when its first messages go out; not on each of the stream's updates (about
    // one a second while the campaign runs).
    const timelineReads = asked.filter((a) => a.endsWith('/timeline')).length;
    const openFor = Date.now() - openedAt;
    assert.ok(timelineReads >= 1 && timelineReads <= 3 + Math.ceil(openFor / 20_000), `${timelineReads} time-series reads in ${openFor} ms`);

    await page.locator('button[data-action="pause"]').click();
    await page.locator('h1 [data-testid="status"]', { hasText: 'paused' }).waitFor();
    const campaign = await db.kysely.selectFrom('campaigns').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(campaign.status, 'paused');
    await page.locator('button[data-action="resume"]').waitFor();
    // The worker releases what it had claimed but not sent; the page follows.
    await page.locator('[data-count="queued"] b', { hasText: /^0$/ }).waitFor({ timeout: 15_000 });
    assert.doesNotMatch((await page.locator('main').textContent()) ?? '', /null|undefined|NaN/);
    // What was sent shows in the per-minute chart (read again when the campaign paused).
    await page.locator('[data-testid="chart-sent"] [data-series="sent"] rect').first().waitFor({ timeout: 30_000 });
    const perMinute = await page
      .locator('[data-testid="chart-sent"] [data-series="sent"] rect')
      .evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-n'))));
    assert.ok(perMinute.reduce((a, b) => a + b, 0) > 0, `sent per minute: ${perMinute.join(', ')}`);

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

  it("shows a campaign's funnel, its time series and top links from the database, and one person's history", async () => {
    // Two finished campaigns to the same 40 people: "Autumn news" on 20 November, "Winter sale"
    // on 30 November, each with its delivery records and the provider's events (signed webhooks).
    const list = await seedList(db.kysely, 'history', 40);
    const r = list.recipientIds;
    const autumn = await seedCampaign(db.kysely, list.listId, { status: 'draft' });
    const winter = await seedCampaign(db.kysely, list.listId, { status: 'draft' });
    const t = (day: number, hour: number, minute = 0, second = 0) => Date.UTC(2026, 10, day, hour, minute, second);
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts, sent_at, provider_id)
      select ${autumn}, recipient_id, 'sent', 1, ${new Date(t(20, 9)).toISOString()}::timestamptz + (row_number() over (order by recipient_id)) * interval '1 second',
        '<autumn.' || recipient_id || '@mg.example.test>'
      from list_members where list_id = ${list.listId}
    `.execute(db.kysely);
    // Winter sale: 30 sent 09:30–09:34 (six a minute), none for two minutes, 6 at 09:37; 4 refused before acceptance.
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts, sent_at, provider_id, error_code)
      select ${winter}, recipient_id, case when rn > 36 then 'failed' else 'sent' end, 1,
        case when rn <= 30 then ${new Date(t(30, 9, 30)).toISOString()}::timestamptz + (rn - 1) * interval '10 seconds'
             when rn <= 36 then ${new Date(t(30, 9, 37)).toISOString()}::timestamptz + (rn - 31) * interval '5 seconds' end,
        case when rn <= 36 then '<winter.' || recipient_id || '@mg.example.test>' end,
        case when rn > 36 then 'http_400' end
      from (select recipient_id, row_number() over (order by recipient_id) as rn from list_members where list_id = ${list.listId}) m
    `.execute(db.kysely);
    for (const [id, name, day] of [
      [autumn, 'Autumn news', 20],
      [winter, 'Winter sale', 30],
    ] as const) {
      await db.kysely
        .updateTable('campaigns')
        .set({ name, status: 'finished', started_at: new Date(t(day, 9)), finished_at: new Date(t(day, 10)) })
        .where('id', '=', id)
        .execute();
    }

    const hook = async (campaign: number, i: number, event: string, at: number, extra: Record<string, unknown> = {}) => {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const token = randomBytes(25).toString('hex');
      const body = JSON.stringify({
        signature: { timestamp, token, signature: signWebhook(SIGNING_KEY, timestamp, token) },
        'event-data': {
          id: randomBytes(10).toString('hex'),
          event,
          timestamp: at / 1000,
          recipient: `history-user${i + 1}@example.test`,
          'user-variables': { 'herald-delivery': `${campaign}.${r[i]}` },
          ...extra,
        },
      });
      const res = await request(`${server.url}/webhooks/mailgun`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      assert.equal(res.statusCode, 200, await res.body.text());
    };
    const SALE = 'https://shop.example/winter-sale';
    // A link as recipients' clicks report it: whatever it holds is text on the page, never markup.
    const ODD = 'https://shop.example/p?q=<img src=x onerror="window.__pwned=1">&b=<b>bold</b>';
    // Person 31 was delivered the autumn news, opened it twice and clicked once; the winter sale bounced hard.
    await hook(autumn, 30, 'delivered', t(20, 9, 1));
    await hook(autumn, 30, 'opened', t(20, 10, 5));
    await hook(autumn, 30, 'opened', t(20, 18, 40));
    await hook(autumn, 30, 'clicked', t(20, 18, 41), { url: SALE });
    for (let i = 0; i < 30; i++) await hook(winter, i, 'delivered', t(30, 9, 31));
    await hook(winter, 30, 'failed', t(30, 9, 40), { severity: 'permanent', reason: 'bounce', 'delivery-status': { code: 550 } });
    await hook(winter, 31, 'failed', t(30, 9, 40), { severity: 'permanent', reason: 'suppress-bounce', 'delivery-status': { code: 605 } });
    await hook(winter, 32, 'failed', t(30, 9, 41), { severity: 'temporary', reason: 'generic', 'delivery-status': { code: 452 } });
    await hook(winter, 33, 'failed', t(30, 9, 41), { severity: 'temporary', reason: 'generic', 'delivery-status': { code: 421 } });
    // 12 people open (13 opens): 6 at 10:xx, 4 at 11:xx, none at 12:xx, 3 at 13:xx.
    for (let i = 0; i < 12; i++) await hook(winter, i, 'opened', t(30, i < 6 ? 10 : i < 10 ? 11 : 13, 5 + i));
    await hook(winter, 0, 'opened', t(30, 13, 50));
    // 6 people click (7 clicks): 3 at 10:xx, 3 at 11:xx, and one again at 14:xx.
    for (let i = 0; i < 6; i++) await hook(winter, i, 'clicked', t(30, i < 3 ? 10 : 11, 30 + i), { url: i < 4 ? SALE : ODD });
    await hook(winter, 0, 'clicked', t(30, 14, 2), { url: SALE });
    await hook(winter, 7, 'complained', t(30, 12, 0));
    await hook(winter, 8, 'unsubscribed', t(30, 12, 10));

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: 'UTC' });
    await signIn(page);
    await page.goto(`${server.url}/#/campaigns/${winter}`);
    await page.locator('[data-testid="funnel"]').waitFor();
    await page.locator('[data-testid="chart-sent"] rect').first().waitFor();

    // The funnel: each stage's number and its share (of accepted, or of delivered).
    const stage = async (key: string) =>
      [await page.locator(`[data-stage="${key}"] .n`).textContent(), await page.locator(`[data-stage="${key}"] .share`).textContent()] as const;
    assert.deepEqual(await stage('accepted'), ['36', '']);
    assert.deepEqual(await stage('delivered'), ['30', '83.3% of accepted']);
    assert.deepEqual(await stage('opened'), ['12', '40% of delivered']);
    assert.deepEqual(await stage('clicked'), ['6', '20% of delivered']);
    assert.deepEqual(await stage('bouncedHard'), ['2', '5.6% of accepted']);
    assert.deepEqual(await stage('bouncedSoft'), ['2', '5.6% of accepted']);
    assert.deepEqual(await stage('complained'), ['1', '3.3% of delivered']);
    assert.deepEqual(await stage('unsubscribed'), ['1', '3.3% of delivered']);
    assert.match((await page.locator('[data-testid="funnel-no-word"]').textContent()) ?? '', /^2 accepted with no word yet/);
    // What the numbers mean: on each row's tooltip, and in the footnote.
    assert.match((await page.locator('[data-stage="opened"]').getAttribute('title')) ?? '', /Apple Mail Privacy Protection.*clicks are the reliable signal/);
    assert.match((await page.locator('[data-stage="bouncedSoft"]').getAttribute('title')) ?? '', /temporary failure .* with no delivery since/);
    const note = (await page.locator('[data-testid="funnel-note"]').textContent()) ?? '';
    assert.match(note, /Apple Mail Privacy Protection/);
    assert.match(note, /clicks are the reliable signal/);

    // The time series, one bar per minute (sent) and per hour (opens and clicks), empty steps included.
    const bars = async (chart: string, series: string) => {
      const rects = page.locator(`[data-testid="${chart}"] [data-series="${series}"] rect`);
      return { n: await rects.evaluateAll((rs) => rs.map((x) => Number(x.getAttribute('data-n')))), first: await rects.first().getAttribute('data-at') };
    };
    assert.deepEqual(await bars('chart-sent', 'sent'), { n: [6, 6, 6, 6, 6, 0, 0, 6], first: '2026-11-30T09:30:00.000Z' });
    assert.deepEqual(await bars('chart-engagement', 'opens'), { n: [6, 4, 0, 3, 0], first: '2026-11-30T10:00:00.000Z' });
    assert.deepEqual(await bars('chart-engagement', 'clicks'), { n: [3, 3, 0, 0, 1], first: '2026-11-30T10:00:00.000Z' });
    assert.match((await page.locator('[data-testid="chart-sent"] figcaption').textContent()) ?? '', /^Messages sent per minute/);
    assert.match((await page.locator('[data-testid="chart-engagement"] figcaption').textContent()) ?? '', /^Opens and clicks per hour/);

    // The most clicked links, the recipient-made one as plain text.
    const linkRows = async () =>
      page.locator('[data-testid="top-links"] tbody tr').evaluateAll((rows) => rows.map((row) => [...row.children].map((td) => td.textContent)));
    assert.deepEqual(await linkRows(), [
      [SALE, '4', '5'],
      [ODD, '2', '2'],
    ]);
    assert.equal(await page.locator('[data-testid="top-links"] img, [data-testid="top-links"] b').count(), 0);
    assert.equal(await page.evaluate('window.__pwned'), undefined);
    assert.doesNotMatch((await page.locator('main').textContent()) ?? '', /null|undefined|NaN/);
    fs.mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'dashboard-funnel.png'), fullPage: true });

    // The time series are read again while the page is open: a new click shows within the 20 s refresh.
    await hook(winter, 9, 'clicked', t(30, 15, 5), { url: ODD });
    const deadline = Date.now() + 60_000;
    while ((await bars('chart-engagement', 'clicks')).n.length !== 6) {
      assert.ok(Date.now() < deadline, 'the time series never showed the new click');
      await page.waitForTimeout(250);
    }
    assert.deepEqual((await bars('chart-engagement', 'clicks')).n, [3, 3, 0, 0, 1, 1]);
    assert.deepEqual((await linkRows())[1], [ODD, '3', '3']);
    assert.deepEqual(await stage('clicked'), ['7', '23.3% of delivered']);

    // One person: both campaigns, newest first, with the bounce and the suppression it caused.
    await page.locator('header nav a[href="#/lookup"]').click();
    await page.locator('#lookup-email').fill('HISTORY-USER31@example.test');
    await page.locator('#lookup button[type=submit]').click();
    await page.locator('[data-testid="person"]').waitFor();
    assert.match((await page.locator('[data-testid="person"] h2').textContent()) ?? '', /^history-user31@example\.test · User 31$/);
    assert.equal(await page.locator('[data-testid="person-lists"]').textContent(), 'Lists: history');
    assert.match(
      (await page.locator('[data-testid="suppression"]').textContent()) ?? '',
      new RegExp(`^Suppressed: bounced \\(webhook:failed, campaign #${winter}\\) since `),
    );
    const rows = page.locator('[data-testid="lookup-results"] tbody tr');
    assert.deepEqual(await rows.evaluateAll((rs) => rs.map((row) => row.getAttribute('data-campaign'))), [String(winter), String(autumn)]);
    const cell = (campaign: number, col: string) => page.locator(`tr[data-campaign="${campaign}"] td[data-col="${col}"]`);
    assert.match((await page.locator(`tr[data-campaign="${winter}"] td`).first().textContent()) ?? '', new RegExp(`^#${winter} Winter sale$`));
    assert.equal(await cell(winter, 'sent').locator('[data-testid="status"]').textContent(), 'sent');
    assert.equal(await cell(winter, 'outcome').locator('[data-testid="outcome"]').textContent(), 'bounced hard');
    assert.match((await cell(winter, 'outcome').locator('[data-testid="failure"]').textContent()) ?? '', /^permanent failure bounce 550 · /);
    assert.equal(await cell(winter, 'opens').locator('b').textContent(), '0');
    assert.equal(await cell(autumn, 'outcome').locator('[data-testid="outcome"]').textContent(), 'delivered');
    assert.equal(await cell(autumn, 'opens').locator('b').textContent(), '2');
    assert.equal(await cell(autumn, 'clicks').locator('b').textContent(), '1');
    assert.match((await cell(autumn, 'opens').textContent()) ?? '', /first /);
    // The provider's id, from the delivery records.
    assert.equal(await page.locator(`tr[data-campaign="${autumn}"] td`).last().textContent(), `<autumn.${r[30]}@mg.example.test>`);
    assert.doesNotMatch((await page.locator('main').textContent()) ?? '', /null|undefined|NaN/);
    await page.screenshot({ path: path.join(artifacts, 'dashboard-person.png'), fullPage: true });

    // Someone soft-bounced: not suppressed; and an address nobody knows.
    await page.locator('#lookup-email').fill('history-user33@example.test');
    await page.locator('#lookup button[type=submit]').click();
    await page.locator('[data-testid="person"] h2', { hasText: 'history-user33@' }).waitFor();
    assert.equal(await page.locator('[data-testid="suppression"]').textContent(), 'Not suppressed.');
    assert.equal(await cell(winter, 'outcome').locator('[data-testid="outcome"]').textContent(), 'bounced soft');
    await page.locator('#lookup-email').fill('nobody@example.test');
    await page.locator('#lookup button[type=submit]').click();
    await page.locator('[data-testid="person-unknown"]').waitFor();
    await page.close();
  });
});
