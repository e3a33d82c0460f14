/**
 * How fast Herald reads the provider's event log: the mock (`herald mock-mailgun`, its own
 * process) is given N/4 accepted messages whose recipients each get delivered, open and click
 * (four events each: accepted, delivered, opened, clicked), then the whole log is read through
 * the Mailgun client's `eventLog` (Logs API, 100 items a page, each item parsed) three times.
 * Prints events/s per read and the median, and the mock's resident memory holding the log.
 *   npm run bench:eventlog [-- --events 200000] [--no-write]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { MailgunClient } from '../../src/provider/mailgun/client.js';
import { MultipartWriter } from '../../src/provider/mailgun/multipart.js';
import { machineLine, median, writeBenchmarkSection } from '../lib/report.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const events = flag('--events', 200_000);
const runs = flag('--runs', 3);
const write = !args.includes('--no-write');
const KEY = 'key-bench-log';
const DOMAIN = 'mg.bench.test';
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

const mock = spawn(
  process.execPath,
  [cli, 'mock-mailgun', '--port', '0', '--api-key', KEY, '--record', 'counts', '--open-rate', '1', '--click-rate', '1', '--seed', '1'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let url = '';
for await (const line of createInterface({ input: mock.stdout! })) {
  const m = /(http:\/\/\S+)/.exec(line);
  if (m) {
    url = m[1]!.replace(/\/$/, '');
    break;
  }
}
if (!url) throw new Error('the mock did not start');

const client = new MailgunClient({ baseUrl: url, apiKey: KEY, domain: DOMAIN, connections: 64, timeoutMs: 30_000 });
try {
  const messages = Math.ceil(events / 4);
  const writer = new MultipartWriter([
    ['from', 'Shop <news@mg.bench.test>'],
    ['subject', 'Spring sale'],
    [
      'html',
      '<p><a href="https://shop.example.com/sale?utm_source=herald&amp;utm_content=hero">Sale</a> <a href="https://shop.example.com/journal">Journal</a></p>',
    ],
    ['v:herald-campaign', '1'],
  ]);
  const start = new Date(Date.now() - 1000);
  let next = 0;
  const sender = async (): Promise<void> => {
    const body = Buffer.alloc(4096);
    while (next < messages) {
      const i = next++;
      const fields = [
        ['to', `reader${i}@example.com`],
        ['v:herald-delivery', `1.${i}`],
      ] as const;
      const outcome = await client.send(body.subarray(0, writer.writeInto(body, 0, fields)), writer.contentType);
      if (outcome.kind !== 'accepted') throw new Error(`a send was not accepted: ${JSON.stringify(outcome)}`);
    }
  };
  await Promise.all(Array.from({ length: 64 }, sender));
  const end = new Date(Date.now() + 1000);
  const stats = (await (await request(`${url}/mock/stats`)).body.json()) as { events: Record<string, number> };
  const stored = Object.values(stats.events).reduce((a, b) => a + b, 0);
  const rssMb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${mock.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

  const rates: number[] = [];
  let pages = 0;
  for (let run = 1; run <= runs; run++) {
    let token: string | undefined;
    let read = 0;
    pages = 0;
    const t0 = process.hrtime.bigint();
    do {
      const page = await client.eventLog({ start, end, ...(token ? { token } : {}) });
      read += page.items.length;
      pages++;
      token = page.next;
    } while (token);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (read !== stored) throw new Error(`read ${read} events, the mock holds ${stored}`);
    rates.push(read / seconds);
    console.log(`run ${run}: ${read} events in ${pages} pages, ${seconds.toFixed(2)} s, ${Math.round(read / seconds)} events/s`);
  }
  const rate = Math.round(median(rates));
  console.log(`median: ${rate} events/s; mock RSS holding ${stored} events: ${rssMb.toFixed(0)} MB`);
  if (write) {
    const major = process.versions.node.split('.')[0];
    writeBenchmarkSection(
      `Provider event log read, Node ${major}`,
      [
        `${machineLine()}; median of ${runs} reads.`,
        '',
        `Command: \`npm run bench:eventlog -- --events ${events}\``,
        '',
        `Workload: the mock in its own process holds ${stored.toLocaleString('en-US')} events (${messages.toLocaleString('en-US')} accepted messages, each delivered, opened and clicked); the Mailgun client reads the whole window through the Logs API (\`POST /v1/analytics/logs\`, 100 items a page, one connection at a time), parsing every item into a ProviderEvent. Both processes share the machine's 2 cores.`,
        '',
        '| events | pages | events/s (median) | slowest / fastest read, events/s | mock RSS MB holding the log |',
        '|---:|---:|---:|---:|---:|',
        `| ${stored.toLocaleString('en-US')} | ${pages.toLocaleString('en-US')} | ${rate.toLocaleString('en-US')} | ${Math.round(Math.min(...rates)).toLocaleString('en-US')} / ${Math.round(Math.max(...rates)).toLocaleString('en-US')} | ${rssMb.toFixed(0)} |`,
      ].join('\n'),
    );
  }
} finally {
  await client.close();
  mock.kill('SIGTERM');
  await once(mock, 'exit');
}
