import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { onRealPostgres } from './support/db.js';
import { openCliSandbox, type CliSandbox, runHerald, spawnHerald } from './support/processes.js';

const skip = onRealPostgres ? false : 'two sending processes on one database: real Postgres only';
if (skip) console.log(`# concurrent start test skipped: ${skip}`);

describe('two `campaign start ID --wait` on one campaign (postgres)', { skip }, () => {
  let sandbox: CliSandbox;
  let env: Record<string, string>;
  let dir: string;
  before(async () => {
    sandbox = await openCliSandbox('cli-two', ['--latency', '5', '--record', 'counts']);
    ({ env, dir } = sandbox);
  });
  after(async () => {
    await sandbox?.close();
  });

  it('each reports what it sent itself, and the two add up to the campaign', async () => {
    const n = 3000;
    const csv = path.join(dir, 'two.csv');
    fs.writeFileSync(csv, ['email,name', ...Array.from({ length: n }, (_, i) => `two${i}@example.org,Two ${i}`)].join('\n'));
    await runHerald(['lists', 'create', 'two'], env);
    await runHerald(['recipients', 'import', csv, '--list', 'two'], env);
    const id = (
      await runHerald(
        ['campaign', 'create', '--name', 'two', '--list', 'two', '--template', 'spring-sale', '--subject', 'Hi', '--from', 'shop@example.org'],
        env,
      )
    ).trim();
    // Few requests in flight each, so that both are still sending when the other starts.
    const runs = [0, 1].map(() => spawnHerald(['campaign', 'start', id, '--wait', '--concurrency', '8', '--batch-size', '100'], env));
    const codes = await Promise.all(runs.map((r) => r.exited));
    const sent = runs.map((r, i) => {
      assert.equal(codes[i], 0, r.output());
      const m = /this run: (\d+) sent/.exec(r.output());
      assert.ok(m, r.output());
      return Number(m[1]);
    });
    assert.equal(sent[0]! + sent[1]!, n, `this run: ${sent.join(' and ')}`);
    const status = JSON.parse(await runHerald(['campaign', 'status', id, '--json'], env)) as { counts: Record<string, number> };
    assert.equal(status.counts.sent, n);
  });
});
