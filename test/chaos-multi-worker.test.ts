import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runMultiWorkerChaos } from '../scripts/chaos/multiWorker.js';
import { PrivatePostgres } from './support/privatePostgres.js';
import { PrivateRedis } from './support/privateRedis.js';

// It brings its own Postgres and Redis (both are restarted under it), so it runs once, in
// the suite on real Postgres; `npm run chaos -- --recipients 200000` runs it at scale.
const skip = !process.env.DATABASE_URL
  ? 'runs with the real-Postgres suite (it starts a private Postgres of its own)'
  : (PrivatePostgres.unavailableReason() ?? PrivateRedis.unavailableReason() ?? false);
if (skip) console.log(`# multi-worker chaos test skipped: ${skip}`);

describe('three workers through kills, pause, a Redis restart, a Postgres restart, an outage and stalls', { skip }, () => {
  it('finishes the campaign with nobody sent twice, nobody lost, nobody failed, every row settled', async () => {
    const result = await runMultiWorkerChaos({
      recipients: 20_000,
      workers: 3,
      rate: 1500,
      outageMs: 10_000,
      pgPort: 57_432 + (process.pid % 1000),
      log: (line) => console.log(`# chaos: ${line}`),
    });
    console.log(`# chaos result: ${JSON.stringify(result)}`);
    assert.equal(result.duplicates, 0, 'nobody was sent twice');
    assert.equal(result.lost, 0, 'nobody was left out');
    assert.equal(result.sent, 20_000);
    assert.equal(result.failed, 0, 'nobody failed for an outage');
    assert.equal(result.open, 0, 'every row settled');
    assert.deepEqual(result.countDifferences, [], 'the kept counts equal count(*) of the rows');
    assert.equal(result.bytesAfterPauseNoticed, 0, 'no request started once the pause was noticed');
    assert.equal(result.killed, 2);
    assert.deepEqual(result.workerExitCodes, [0, 0, 0], 'the surviving workers stopped cleanly');
  });
});
