/**
 * Contender 1, the wire ceiling: bare undici posting one prebuilt ~15 KB body to the mock at
 * a fixed number of requests in flight. No database, no rendering: the limit of this box
 * for this protocol. Prints one JSON line.
 *   node ceiling.js URL KEY DOMAIN MESSAGES CONCURRENCY BODY_FILE CONTENT_TYPE
 */
import fs from 'node:fs';
import { createHistogram } from 'node:perf_hooks';
import { Pool } from 'undici';

const [url, key, domain, messagesArg, concurrencyArg, bodyFile, contentType] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];
const messages = Number(messagesArg);
const concurrency = Number(concurrencyArg);
const body = fs.readFileSync(bodyFile);
const pool = new Pool(url, { connections: concurrency, keepAliveTimeout: 30_000 });
const authorization = `Basic ${Buffer.from(`api:${key}`).toString('base64')}`;
const latency = createHistogram();
let next = 0;
let accepted = 0;
const cpuStart = process.cpuUsage();
const started = performance.now();

async function loop(): Promise<void> {
  while (next < messages) {
    next++;
    const t = performance.now();
    const res = await pool.request({ path: `/v3/${domain}/messages`, method: 'POST', headers: { authorization, 'content-type': contentType }, body });
    await res.body.text();
    latency.record(Math.max(1, Math.round((performance.now() - t) * 1000)));
    if (res.statusCode === 200) accepted++;
  }
}

await Promise.all(Array.from({ length: concurrency }, loop));
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStart);
await pool.close();
console.log(
  JSON.stringify({
    messagesPerSecond: Math.round(messages / seconds),
    accepted,
    seconds,
    latencyP50Ms: latency.percentile(50) / 1000,
    latencyP99Ms: latency.percentile(99) / 1000,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  }),
);
