import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { request } from 'undici';
import { createCampaign } from '../campaigns/create.js';
import { controlCampaign, getCampaignOrThrow } from '../campaigns/control.js';
import { campaignStatusReport } from '../campaigns/status.js';
import { EventIngester } from '../events/ingester.js';
import { syncEventLog } from '../events/logSync.js';
import { MailgunClient } from '../provider/mailgun/client.js';
import { intArg } from './args.js';
import { sendAndWait } from './campaign.js';
import { withContext } from './context.js';
import { capYoungGenerationBeforeAction } from '../app/youngGeneration.js';
import { seedDemoList } from '../sql/seedDemoList.js';

const DEMO_KEY = 'key-demo';
const DEMO_DOMAIN = 'demo.herald.test';

export function registerDemoCommand(program: Command): void {
  capYoungGenerationBeforeAction(program.command('demo'), () => true)
    .description('send a 20,000-recipient campaign to a local Mailgun mock, end to end, and audit it')
    .option('--recipients <n>', 'size of the synthetic list', intArg(), 20_000)
    .option('--latency <ms>', "the mock's answer latency", intArg(0), 50)
    .action((o: { recipients: number; latency: number }) => {
      // The progress bar and the summary tell the story; routine log lines would drown them.
      process.env.LOG_LEVEL ??= 'warn';
      return withContext(async ({ db, config, log }) => {
        const mock = await startMockProcess(o.latency);
        try {
          const demoConfig = { ...config, mailgun: { apiKey: DEMO_KEY, domain: DEMO_DOMAIN, baseUrl: mock.url } };
          const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
          const listName = `demo-${stamp}`;
          console.log(`database: ${db.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}` : 'Postgres (DATABASE_URL)'}`);
          console.log(`mock Mailgun: ${mock.url} (latency ${o.latency} ms, 1% 503s, 0.5% 429s)`);
          const suppressed = await seedDemoList(db, listName, stamp, o.recipients);
          console.log(`list '${listName}': ${o.recipients} synthetic recipients, ${suppressed} of them suppressed`);
          const id = await createCampaign(db, demoConfig, {
            name: `Spring sale demo ${stamp}`,
            list: listName,
            template: 'spring-sale',
            subject: 'Spring sale: {{ name | default("friend", true) }}, your picks are 20% off',
            from: `Herald Demo <news@${DEMO_DOMAIN}>`,
            tags: ['demo'],
          });
          await controlCampaign(db, demoConfig, id, 'start');
          console.log(`campaign ${id} started\n`);
          await sendAndWait(db, demoConfig, log, id, { shutdownTimeout: 30_000 });
          const mockStats = async () =>
            (await (await request(`${mock.url}/mock/stats`)).body.json()) as { accepted: number; duplicates: number; eventsPending: number };
          const stats = await mockStats();
          console.log(`mock accepted ${stats.accepted} messages, ${stats.duplicates} duplicate deliveries`);
          // No `herald serve` receives webhooks here: what happened next is read from the
          // provider's event log, as the sync loop does for webhooks that never arrive.
          for (let i = 0; i < 100 && (await mockStats()).eventsPending > 0; i++) await new Promise((r) => setTimeout(r, 100));
          const provider = new MailgunClient({ apiKey: DEMO_KEY, domain: DEMO_DOMAIN, baseUrl: mock.url, connections: 2, timeoutMs: 30_000, log });
          const ingester = new EventIngester(db.kysely, log);
          try {
            const synced = await syncEventLog({ db: db.kysely, provider, ingester, log }, { days: 1, campaignId: id });
            console.log(`read ${synced.read} events from the provider's log (delivered, bounced, opened, clicked, …)`);
          } finally {
            await ingester.close();
            await provider.close();
          }
          const report = await campaignStatusReport(db, await getCampaignOrThrow(db, id));
          const f = report.funnel;
          console.log(
            [
              '',
              `What happened after the provider accepted them:`,
              `  accepted ${f.accepted} → delivered ${f.delivered} → opened ${f.opened} (${f.openRate ?? 0}%) → clicked ${f.clicked} (${f.clickRate ?? 0}%)`,
              `  bounced ${f.bouncedHard} hard, ${f.bouncedSoft} soft; ${f.complained} complained; ${f.unsubscribed} unsubscribed`,
            ].join('\n'),
          );
          console.log(
            [
              '',
              'Audit who got what:',
              `  herald campaign status ${id}`,
              `  herald recipients show ADDRESS            # one person's history`,
              `  herald campaign report ${id} --format csv > report.csv`,
              `  select status, error_code, count(*) from deliveries where campaign_id = ${id} group by 1, 2 order by 3 desc;`,
            ].join('\n'),
          );
        } finally {
          mock.process.kill('SIGTERM');
          await once(mock.process, 'exit');
        }
      });
    });
}

async function startMockProcess(latency: number): Promise<{ url: string; process: ChildProcess }> {
  const cli = fileURLToPath(new URL('./main.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      cli,
      'mock-mailgun',
      '--port',
      '0',
      '--latency',
      String(latency),
      '--jitter',
      String(Math.round(latency / 2)),
      '--fail-rate',
      '0.01',
      '--throttle-rate',
      '0.005',
      '--api-key',
      DEMO_KEY,
      '--domain',
      DEMO_DOMAIN,
      '--record',
      'counts',
      // What happens after acceptance, as the provider reports it (docs/operations.md, "Outcomes").
      '--seed',
      '7',
      '--bounce-rate',
      '0.02',
      '--temp-fail-rate',
      '0.03',
      '--open-rate',
      '0.45',
      '--click-rate',
      '0.3',
      '--complaint-rate',
      '0.002',
      '--unsubscribe-rate',
      '0.005',
      '--event-delay-ms',
      '200',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const match = /(http:\/\/\S+)/.exec(line);
    if (match) return { url: match[1]!.replace(/\/$/, ''), process: child };
  }
  throw new Error('the mock Mailgun process exited before it was listening');
}
