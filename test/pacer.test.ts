import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Pacer } from '../src/sender/send/pacer.js';

/**
 * Feeds `accepted` 2xx answers, then 429s until a throttling episode starts; the provider
 * asks for a 50 ms pause, so later 429s of the same burst do not start another one.
 */
async function throttlingEpisode(pacer: Pacer, accepted: number): Promise<void> {
  const before = pacer.currentLimit();
  for (let i = 0; i < accepted; i++) pacer.record('accepted');
  while (pacer.currentLimit() === before) pacer.record('throttled', 50);
  await sleep(60);
}

/** What `work` settles to, or 'stuck' if that takes longer than `ms`. */
async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | 'stuck'> {
  const timer = new AbortController();
  const deadline = sleep(ms, 'stuck' as const, { signal: timer.signal }).catch(() => 'stuck' as const);
  try {
    return await Promise.race([work, deadline]);
  } finally {
    timer.abort();
  }
}

const modes = [
  { name: 'in process', redisUrl: undefined },
  { name: 'shared through Redis', redisUrl: process.env.REDIS_URL },
];

for (const mode of modes)
  describe(`pacer (${mode.name})`, { skip: mode.name !== 'in process' && !mode.redisUrl ? 'needs REDIS_URL' : false }, () => {
    it('lets senders already waiting for permits go on at a lowered throttle cap', async () => {
      const id = `pacer-test-${process.pid}-${Date.now()}`;
      const pacer = new Pacer({ ratePerSecond: null, id, adaptive: true, ...(mode.redisUrl ? { redisUrl: mode.redisUrl } : {}) });
      try {
        // A first throttling episode caps the rate at thousands per second: permits come in
        // chunks of hundreds.
        await throttlingEpisode(pacer, 1000);
        const high = pacer.currentLimit();
        assert.ok(high !== null && high >= 3000, `first cap ${high}`);

        let granted = 0;
        const senders = Array.from({ length: 1000 }, () => pacer.acquire().then(() => granted++));
        // The first chunk's arrival, not a fixed wait: in Redis mode the new limiter connects first,
        // which took over 20 ms on a loaded machine.
        assert.equal(
          await withDeadline(
            Promise.race(senders).then(() => 'granted' as const),
            5_000,
          ),
          'granted',
          'no permit within 5 s',
        );
        assert.ok(granted > 0 && granted < 1000, `some permits granted before the second episode (${granted})`);

        // A second episode lowers the cap far below one chunk of the first rate.
        await throttlingEpisode(pacer, 30);
        const low = pacer.currentLimit();
        assert.ok(low !== null && low <= 300, `second cap ${low}`);
        // Senders keep arriving, as they do after every message.
        senders.push(pacer.acquire().then(() => granted++));

        const outcome = await withDeadline(
          Promise.all(senders).then(() => 'done' as const),
          15_000,
        );
        assert.equal(outcome, 'done', `senders still waiting after 15 s: ${senders.length - granted} of ${senders.length}`);
      } finally {
        await pacer.close();
      }
    });

    it('keeps the configured rate while the event loop is busy, and never runs ahead of it', async () => {
      // Bottleneck's own local heartbeat dated each increase at the tick that noticed it, so a
      // process busy elsewhere 12 ms of every 20 (rendering, parsing answers, a loaded machine)
      // got ~85% of the configured rate; whole intervals are now counted (pacer.ts).
      const rate = 2000;
      const seconds = 4;
      const pacer = new Pacer({
        ratePerSecond: rate,
        id: `pacer-busy-${process.pid}-${Date.now()}`,
        adaptive: false,
        ...(mode.redisUrl ? { redisUrl: mode.redisUrl } : {}),
      });
      try {
        // Registration with Redis takes a moment: count from the first permit.
        await pacer.acquire();
        const start = Date.now();
        const busy = setInterval(() => {
          const until = Date.now() + 12;
          while (Date.now() < until);
        }, 20);
        let granted = 0;
        let stop = false;
        const senders = Array.from({ length: 100 }, async () => {
          while (!stop) {
            await pacer.acquire();
            if (stop) return;
            granted++;
            await sleep(20);
          }
        });
        await sleep(seconds * 1000);
        stop = true;
        clearInterval(busy);
        const elapsed = (Date.now() - start) / 1000;
        // One interval's worth granted at the start, one chunk and a half fetched ahead and one
        // chunk carried over (a chunk is at most 50 ms worth) may come on top of rate × time.
        assert.ok(granted <= rate * elapsed + rate / 10 + (rate / 20) * 2.5, `${granted} permits in ${elapsed.toFixed(2)} s at ${rate}/s`);
        // Shared, each chunk takes several Redis round trips, which a loaded machine stretches;
        // how close the shared rate comes is measured by `npm run bench:pacer`, not here.
        if (!mode.redisUrl)
          assert.ok(
            granted >= rate * elapsed * 0.95,
            `${granted} permits in ${elapsed.toFixed(2)} s: ${((granted / elapsed / rate) * 100).toFixed(1)}% of ${rate}/s`,
          );
        await pacer.close();
        await Promise.all(senders);
      } finally {
        await pacer.close();
      }
    });
  });
