/**
 * One campaign's whole event stream, recorded through the event ingester (the path of the
 * log sync: `EventIngester.record`, batches of its maxBatch, one transaction each), in a
 * process of its own so that its memory is the ingestion's alone. Run by
 * scripts/bench/events.ts:
 *   node dist/scripts/bench/eventStream.js DATABASE_URL CAMPAIGN_ID FIRST_RECIPIENT_ID COUNT
 * For each recipient of [FIRST, FIRST + COUNT): a delivery; half of them open (1 to 6 opens),
 * a fifth click (1 to 4 clicks, those who open). Events are made a chunk at a time, never all
 * at once: position p brings the delivery of recipient p and the opens and clicks of a
 * recipient far from p (a fixed permutation), so a batch mixes new outcome rows with updates
 * scattered over the campaign. Prints a JSON line of progress every 2 s on stderr and a
 * JSON summary on stdout.
 */
import { createLogger } from '../../src/config/log.js';
import { connect } from '../../src/db/connect.js';
import { incomingFrom } from '../../src/events/incoming.js';
import { EventIngester } from '../../src/events/ingester.js';
import type { IncomingEvent } from '../../src/events/recordEvents.js';
import { parseMailgunEvent } from '../../src/provider/mailgun/parseEvent.js';
import { median } from '../lib/report.js';
import { type BenchEventType, clicksOf, eventData, opensOf, spread } from './providerEvents.js';

const [url, campaignArg, firstArg, countArg] = process.argv.slice(2);
if (!url || !campaignArg || !firstArg || !countArg) throw new Error('usage: eventStream.js DATABASE_URL CAMPAIGN_ID FIRST_RECIPIENT_ID COUNT');
const campaignId = Number(campaignArg);
const first = Number(firstArg);
const count = Number(countArg);
const CHUNK = 10_000;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
// A multiplier coprime to count: p -> (p * step) mod count is a permutation of the positions.
let step = Math.max(1, Math.floor(count * 0.618_034));
while (gcd(step, count) !== 1) step++;

const db = await connect({ databaseUrl: url, poolSize: 2 });
const ingester = new EventIngester(db.kysely, createLogger('warn'));
const base = Date.now() - 48 * 3_600_000;
const toIncoming = (type: BenchEventType, recipientId: number, atMs: number, link: number): IncomingEvent => {
  const data = eventData(type, campaignId, recipientId, atMs, link);
  const parsed = parseMailgunEvent(data, 'webhook');
  if ('error' in parsed) throw new Error(parsed.error);
  return incomingFrom(parsed, 'log', JSON.stringify(data));
};

const samples: number[] = [];
const timeline: Array<{ s: number; events: number; rssMb: number }> = [];
const mb = (n: number): number => Math.round(n / 2 ** 20);
let events = 0;
let recorded = 0;
const t0 = performance.now();
samples.push(process.memoryUsage.rss());
const sampler = setInterval(() => samples.push(process.memoryUsage.rss()), 200);
const reporter = setInterval(() => {
  const line = { s: Math.round((performance.now() - t0) / 1000), events, rssMb: mb(process.memoryUsage.rss()) };
  timeline.push(line);
  process.stderr.write(`${JSON.stringify(line)}\n`);
}, 2000);

let chunk: IncomingEvent[] = [];
const flush = async (): Promise<void> => {
  const statuses = await ingester.record(chunk);
  for (const s of statuses) if (s === 'recorded') recorded++;
  events += chunk.length;
  chunk = [];
};
for (let p = 0; p < count; p++) {
  const delivered = first + p;
  chunk.push(toIncoming('delivered', delivered, base + Math.floor((p / count) * 2 * 3_600_000), 0));
  const other = first + ((p * step) % count);
  // Opens and clicks over the 45 hours after the deliveries.
  for (let k = 0; k < opensOf(other); k++) chunk.push(toIncoming('opened', other, base + (3 + (spread(other + k) % 45)) * 3_600_000, 0));
  for (let k = 0; k < clicksOf(other); k++) chunk.push(toIncoming('clicked', other, base + (3 + (spread(other * 3 + k) % 45)) * 3_600_000, k + other));
  if (chunk.length >= CHUNK) await flush();
}
if (chunk.length > 0) await flush();
const seconds = (performance.now() - t0) / 1000;
clearInterval(sampler);
clearInterval(reporter);
samples.push(process.memoryUsage.rss());
await ingester.close();
await db.close();
const quarter = Math.max(1, Math.floor(samples.length / 4));
console.log(
  JSON.stringify({
    events,
    recorded,
    seconds,
    eventsPerSecond: events / seconds,
    rss: {
      startMb: mb(samples[0]!),
      peakMb: mb(Math.max(...samples)),
      endMb: mb(samples.at(-1)!),
      firstQuarterMb: mb(median(samples.slice(0, quarter))),
      lastQuarterMb: mb(median(samples.slice(-quarter))),
    },
    timeline,
  }),
);
