/**
 * How close the pacer comes to a campaign's configured rate, in process and shared through
 * Redis, with the event loop idle and with most of it taken by other work (12 ms of every
 * 20 ms busy, as when the process also renders and parses answers on a loaded machine).
 *   npm run bench:pacer -- --rate 2500 --seconds 6 --runs 3 [--write]
 *
 * 200 senders each take a permit, "send" for 30 ms (a timer), and ask again: more than enough
 * to use every permit. The rate is counted from the first permit granted (registration with
 * Redis is not part of it). Nothing else runs: the numbers are the pacer's own.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { assertRedisReachable, Pacer } from '../../src/sender/send/pacer.js';
import { machineLine, median, writeBenchmarkSection } from '../lib/report.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '2500' },
    seconds: { type: 'string', default: '6' },
    runs: { type: 'string', default: '3' },
    /** Records the table in BENCHMARKS.md ("Pacing"), replacing the section's before/after comparison. */
    write: { type: 'boolean', default: false },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// A shared pacer waits for Redis however long it is gone: say so now instead of hanging.
await assertRedisReachable(redisUrl);

async function measure(shared: boolean, busyMs: number): Promise<number> {
  const pacer = new Pacer({ ratePerSecond: rate, id: `bench-pacer-${process.pid}-${Date.now()}`, adaptive: false, ...(shared ? { redisUrl } : {}) });
  await pacer.acquire();
  const start = Date.now();
  const busy = busyMs
    ? setInterval(() => {
        const until = Date.now() + busyMs;
        while (Date.now() < until);
      }, 20)
    : null;
  let granted = 0;
  let stop = false;
  const senders = Array.from({ length: 200 }, async () => {
    while (!stop) {
      await pacer.acquire();
      if (stop) return;
      granted++;
      await sleep(30);
    }
  });
  await sleep(seconds * 1000);
  stop = true;
  if (busy) clearInterval(busy);
  const perSecond = granted / ((Date.now() - start) / 1000);
  await pacer.close();
  await Promise.all(senders);
  return perSecond;
}

const cases = [
  { name: 'in process, event loop idle', shared: false, busy: 0 },
  { name: 'in process, 12 ms of every 20 ms busy', shared: false, busy: 12 },
  { name: 'shared through Redis, event loop idle', shared: true, busy: 0 },
  { name: 'shared through Redis, 12 ms of every 20 ms busy', shared: true, busy: 12 },
];
const results = new Map<string, number[]>(cases.map((c) => [c.name, []]));
for (let run = 1; run <= runs; run++) {
  for (const c of cases) {
    const r = await measure(c.shared, c.busy);
    results.get(c.name)!.push(r);
    console.log(`run ${run} · ${c.name}: ${r.toFixed(0)} permits/s (${((r / rate) * 100).toFixed(1)}% of ${rate}/s)`);
  }
}
const rows = cases.map((c) => {
  const rs = results.get(c.name)!;
  return `| ${c.name} | ${((median(rs) / rate) * 100).toFixed(1)}% | ${rs.map((r) => `${((r / rate) * 100).toFixed(1)}%`).join(', ')} |`;
});
const body = [
  `${machineLine()}; median of ${runs} runs of ${seconds} s each.`,
  '',
  `Command: \`npm run bench:pacer -- --rate ${rate} --seconds ${seconds} --runs ${runs}\``,
  '',
  `Permits granted per second by one Pacer configured at ${rate}/s, as a share of that rate, counted from the first permit; 200 senders each holding a permit for 30 ms. "Busy": a timer spends 12 ms of every 20 ms in a loop, as other work in the same process would.`,
  '',
  '| case | median | runs |',
  '|---|---:|---|',
  ...rows,
].join('\n');
console.log(`\n${body}`);
if (values.write) writeBenchmarkSection('Pacing: the configured rate while the process is busy', body);
process.exit(0);
