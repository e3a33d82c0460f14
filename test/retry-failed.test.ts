import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dbLabel } from './support/db.js';
import { cliDatabaseEnv, MOCK_DOMAIN, MOCK_KEY, runHerald, startMockProcess, type MockProcess } from './support/processes.js';

describe(`retrying failed deliveries (${dbLabel})`, () => {
  let disposeDb: () => Promise<void> = async () => undefined;
  let env: Record<string, string>;
  let dir: string;
  const mocks: MockProcess[] = [];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-retry-'));
    const database = await cliDatabaseEnv(dir);
    disposeDb = database.dispose;
    env = { ...database.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN };
  });
  after(async () => {
    for (const m of mocks) await m.stop();
    await disposeDb();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('re-sends exactly the deliveries whose transient failures were exhausted, and nobody on a second run', async () => {
    const csv = path.join(dir, 'people.csv');
    fs.writeFileSync(csv, ['email,name', ...Array.from({ length: 600 }, (_, i) => `r${i}@example.org,R ${i}`)].join('\n'));
    await runHerald(['recipients', 'import', csv, '--list', 'retry', '--create-list'], env);
    const id = (
      await runHerald(
        ['campaign', 'create', '--name', 'retry', '--list', 'retry', '--template', 'spring-sale', '--subject', 'Hi', '--from', 'a@example.org'],
        env,
      )
    ).trim();

    // About 5% of deliveries get 503 on every attempt, and a few are refused permanently.
    const flaky = await startMockProcess(['--latency', '1', '--stuck-rate', '0.05', '--permanent-fail-rate', '0.02', '--seed', '3']);
    mocks.push(flaky);
    await runHerald(['campaign', 'start', id, '--wait', '--max-attempts', '2'], { ...env, MAILGUN_BASE_URL: flaky.url });
    const first = JSON.parse(await runHerald(['campaign', 'status', id, '--json'], env)) as {
      status: string;
      counts: Record<string, number>;
      notSent: Array<{ status: string; reason: string; count: number }>;
    };
    assert.equal(first.status, 'finished');
    const exhausted = first.notSent.find((n) => n.reason === 'transient_exhausted')?.count ?? 0;
    const permanent = first.notSent.find((n) => n.reason === 'http_400')?.count ?? 0;
    assert.ok(exhausted > 10 && permanent > 0, JSON.stringify(first.notSent));
    const firstAccepted = await flaky.deliveries();
    await flaky.stop();

    const healthy = await startMockProcess(['--latency', '1']);
    mocks.push(healthy);
    assert.match(
      await runHerald(['campaign', 'retry-failed', id], env),
      new RegExp(`re-queued ${exhausted} deliveries of campaign ${id}; it is running again`),
    );
    await runHerald(['campaign', 'start', id, '--wait'], { ...env, MAILGUN_BASE_URL: healthy.url });
    const retried = await healthy.deliveries();
    assert.equal(Object.keys(retried).length, exhausted, 'exactly the exhausted deliveries were sent again');
    for (const [key, count] of Object.entries(retried)) {
      assert.equal(count, 1);
      assert.equal(firstAccepted[key], undefined, `${key} had not been accepted before`);
    }
    const second = JSON.parse(await runHerald(['campaign', 'status', id, '--json'], env)) as { status: string; counts: Record<string, number> };
    assert.equal(second.status, 'finished');
    assert.equal(second.counts.sent, 600 - permanent);

    assert.match(await runHerald(['campaign', 'retry-failed', id], env), /re-queued 0 deliveries .* unchanged/);
    await runHerald(['worker'], { ...env, MAILGUN_BASE_URL: healthy.url });
    assert.equal(Object.keys(await healthy.deliveries()).length, exhausted, 'the second retry sent nothing');
  });
});
