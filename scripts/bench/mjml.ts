/**
 * MJML vs plain HTML send rate, same content, same run (BENCHMARKS.md, "MJML vs plain HTML").
 *   DATABASE_URL=postgres://… npm run bench:mjml -- --recipients 20000 --pairs 3
 * Two template folders with the same content: `product-news` (html.mjml.njk) and a plain
 * `html.njk` holding exactly what MJML compiles it to; neither has text.njk, so both derive
 * their text part. Each pair sends one campaign of each, in alternating order, to the same
 * mock (50 ms ± 20 ms latency), each `herald campaign start ID --wait` in its own process on
 * a fresh database. Prints msgs/s per campaign and the median ratio MJML / plain. Writes
 * nothing to BENCHMARKS.md.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchList } from '../lib/fixtures.js';
import { MOCK_DOMAIN as DOMAIN, MOCK_KEY as KEY, startMockProcess, type MockProcess } from '../../test/support/processes.js';
import { createCampaign } from '../../src/campaigns/create.js';
import { loadConfig } from '../../src/config/config.js';
import { packageRoot, templatesDir } from '../../src/config/paths.js';
import { connect } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { buildContent } from '../../src/sender/render/content.js';
import { freshDatabase, machineLine, median } from '../lib/report.js';

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '5000' },
    pairs: { type: 'string', default: '2' },
  },
});
const recipients = Number(values.recipients);
const pairs = Number(values.pairs);
const cli = path.join(packageRoot, 'dist/src/cli/main.js');

function startMock(): Promise<MockProcess> {
  return startMockProcess(['--latency', '50', '--jitter', '20', '--record', 'deliveries']);
}

async function run(args: string[], env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}`);
}

/** The shipped templates plus `product-news-html`: what MJML makes of product-news, as plain html.njk. */
async function templatesFolder(work: string): Promise<string> {
  const dir = path.join(work, 'templates');
  fs.cpSync(templatesDir(), dir, { recursive: true });
  const mjml = await buildContent(dir, 'product-news', 'x');
  fs.mkdirSync(path.join(dir, 'product-news-html'));
  fs.writeFileSync(path.join(dir, 'product-news-html', 'html.njk'), mjml.sources.html.compiled!);
  return dir;
}

async function sendOnce(template: string, templates: string, mockUrl: string, work: string): Promise<number> {
  const fresh = await freshDatabase('herald_bench_mjml');
  const db = await connect({ databaseUrl: fresh.url });
  try {
    await migrateToLatest(db);
    await benchList(db, recipients);
    const env = {
      DATABASE_URL: fresh.url,
      MAILGUN_API_KEY: KEY,
      MAILGUN_DOMAIN: DOMAIN,
      MAILGUN_BASE_URL: mockUrl,
      HERALD_SECRET: 'bench-secret',
      HERALD_TEMPLATES_DIR: templates,
      LOG_LEVEL: 'warn',
    };
    const previous = process.env.HERALD_TEMPLATES_DIR;
    process.env.HERALD_TEMPLATES_DIR = templates;
    const id = await createCampaign(db, loadConfig({ ...process.env, ...env }), {
      name: template,
      list: 'bench',
      template,
      subject: 'Field notes for {{ name }}',
      from: `Shop <news@${DOMAIN}>`,
    });
    if (previous === undefined) delete process.env.HERALD_TEMPLATES_DIR;
    else process.env.HERALD_TEMPLATES_DIR = previous;
    const stats = path.join(work, `${template}.json`);
    await run([cli, 'campaign', 'start', String(id), '--wait', '--stats-json', stats], env);
    const result = JSON.parse(fs.readFileSync(stats, 'utf8')) as { status: string; messagesPerSecond: number };
    if (result.status !== 'finished') throw new Error(`campaign ended ${result.status}`);
    return result.messagesPerSecond;
  } finally {
    await db.close();
    await fresh.drop();
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-mjml-'));
const mock = await startMock();
const stop = async (): Promise<void> => {
  await mock.stop();
  fs.rmSync(work, { recursive: true, force: true });
};
process.once('SIGINT', () => void stop().then(() => process.exit(130)));
try {
  const templates = await templatesFolder(work);
  console.log(`${machineLine()}\n${recipients} recipients per campaign, ${pairs} pairs`);
  const ratios: number[] = [];
  for (let pair = 1; pair <= pairs; pair++) {
    // Alternate which goes first, so a drift of the machine over the run falls on both.
    const order = pair % 2 === 1 ? ['product-news', 'product-news-html'] : ['product-news-html', 'product-news'];
    const rate: Record<string, number> = {};
    for (const template of order) rate[template] = await sendOnce(template, templates, mock.url, work);
    ratios.push(rate['product-news']! / rate['product-news-html']!);
    console.log(
      `pair ${pair}: MJML ${Math.round(rate['product-news']!)}/s, plain HTML ${Math.round(rate['product-news-html']!)}/s, ratio ${ratios.at(-1)!.toFixed(3)}`,
    );
  }
  console.log(`median ratio MJML / plain: ${median(ratios).toFixed(3)}`);
} finally {
  await stop();
}
