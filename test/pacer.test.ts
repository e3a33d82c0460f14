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
  });
