/**
 * Contender 2, the NAIVE BASELINE: what a Node developer typically writes first. The official
 * mailgun.js client, p-limit(100), nunjucks.render on the main thread, and one INSERT per
 * result. Deliberately simple; it is the yardstick, not a way to send mail.
 *   node baseline.js DATABASE_URL MAILGUN_URL KEY DOMAIN TEMPLATES_DIR MESSAGES
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import Mailgun from 'mailgun.js';
import nunjucks from 'nunjucks';
import pLimit from 'p-limit';
import pg from 'pg';

const [databaseUrl, url, key, domain, templatesDir, messagesArg] = process.argv.slice(2) as [string, string, string, string, string, string];
const messages = Number(messagesArg);
const db = new pg.Pool({ connectionString: databaseUrl, max: 10 });
await db.query(
  'create table if not exists baseline_results (id serial primary key, email text, status text, provider_id text, error text, at timestamptz default now())',
);
const mg = new Mailgun(FormData).client({ username: 'api', key, url });
nunjucks.configure(templatesDir, { autoescape: true });
const globals = JSON.parse(fs.readFileSync(path.join(templatesDir, 'globals.json'), 'utf8')) as Record<string, unknown>;
const limit = pLimit(100);
const latency = createHistogram();
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
const cpuStart = process.cpuUsage();
const started = performance.now();
let accepted = 0;

await Promise.all(
  Array.from({ length: messages }, (_, i) =>
    limit(async () => {
      const email = `baseline${i}@example.com`;
      const recipient = { name: `Reader ${i}`, email, city: 'Oslo', products: i % 3 === 0 ? 'tent,lantern,boots,pack,stove,jacket' : '' };
      const context = { ...globals, name: recipient.name, email, recipient, campaign: { id: 1, name: 'baseline' }, unsubscribe_url: '#' };
      const html = nunjucks.render('spring-sale/html.njk', context);
      const text = nunjucks.render('spring-sale/text.njk', context);
      const t = performance.now();
      try {
        const res = await mg.messages.create(domain, {
          from: 'Shop <news@example.com>',
          to: [email],
          subject: `Spring sale, Reader ${i}`,
          html,
          text,
          'v:herald-delivery': `baseline.${i}`,
        });
        accepted++;
        await db.query('insert into baseline_results (email, status, provider_id) values ($1, $2, $3)', [email, 'sent', res.id]);
      } catch (err) {
        await db.query('insert into baseline_results (email, status, error) values ($1, $2, $3)', [email, 'failed', String(err)]);
      } finally {
        latency.record(Math.max(1, Math.round((performance.now() - t) * 1000)));
      }
    }),
  ),
);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStart);
loop.disable();
await db.end();
console.log(
  JSON.stringify({
    messagesPerSecond: Math.round(messages / seconds),
    accepted,
    seconds,
    latencyP50Ms: latency.percentile(50) / 1000,
    latencyP99Ms: latency.percentile(99) / 1000,
    eventLoopDelayP99Ms: loop.percentile(99) / 1e6,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  }),
);
