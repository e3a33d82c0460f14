import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { dbLabel } from './support/db.js';
import { cliDatabaseEnv, MOCK_DOMAIN, MOCK_KEY, runHerald, spawnHerald, startMockProcess, type MockProcess } from './support/processes.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');

describe(`dry runs and test sends (${dbLabel})`, () => {
  let disposeDb: () => Promise<void> = async () => undefined;
  let mock: MockProcess;
  let env: Record<string, string>;
  let dir: string;
  let campaignId: string;
  const deliveryCount = async (): Promise<string> => runHerald(['campaign', 'report', campaignId, '--format', 'jsonl'], env);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-tools-'));
    mock = await startMockProcess(['--latency', '1']);
    env = { MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url, HERALD_TEMPLATES_DIR: path.join(fixtures, 'templates') };
    const database = await cliDatabaseEnv(dir);
    disposeDb = database.dispose;
    env = { ...env, ...database.env };
    const csv = path.join(dir, 'people.csv');
    // Every fourth recipient has no coupon: the strict template fails for them.
    fs.writeFileSync(csv, ['email,name,coupon', ...Array.from({ length: 40 }, (_, i) => `t${i}@example.org,T ${i},${i % 4 === 0 ? '' : `C${i}`}`)].join('\n'));
    await runHerald(['recipients', 'import', csv, '--list', 'tools', '--create-list'], env);
    campaignId = (
      await runHerald(
        ['campaign', 'create', '--name', 'tools', '--list', 'tools', '--template', 'strict', '--subject', 'Coupon for {{ name }}', '--from', 'a@example.org'],
        env,
      )
    ).trim();
  });
  after(async () => {
    await mock?.stop();
    await disposeDb();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a dry run renders everyone, names each render failure, and sends and records nothing', async () => {
    const out = await runHerald(['campaign', 'start', campaignId, '--dry-run'], env);
    assert.match(out, /30 rendered, 10 failed/);
    const failures = out.split('\n').filter((l) => l.startsWith('render failed for'));
    assert.equal(failures.length, 10);
    assert.ok(
      failures.some((l) => /t0@example\.org .*render_error: templates\/strict\/html\.njk:1:\d+/.test(l)),
      failures[0],
    );
    assert.equal(await deliveryCount(), '');
    assert.equal((await mock.stats()).accepted, 0);
    const status = JSON.parse(await runHerald(['campaign', 'status', campaignId, '--json'], env)) as { status: string };
    assert.equal(status.status, 'draft');
  });

  it('a test send delivers one message to the given address and leaves the deliveries untouched', async () => {
    const out = await runHerald(['campaign', 'test-send', campaignId, '--to', 'qa@example.org', '--as', 't5@example.org'], env);
    assert.match(out, /sent a test of campaign \d+ to qa@example\.org, rendered as t5@example\.org: <.+>/);
    const messages = (await (await request(`${mock.url}/mock/messages`)).body.json()) as Array<{
      to: string[];
      subject: string;
      userVariables: Record<string, string>;
    }>;
    assert.equal(messages.length, 1);
    assert.deepEqual(messages[0]!.to, ['qa@example.org']);
    assert.equal(messages[0]!.subject, '[TEST] Coupon for T 5');
    assert.equal(messages[0]!.userVariables['herald-delivery'], `${campaignId}.test`);
    assert.equal(await deliveryCount(), '');
    const failing = spawnHerald(['campaign', 'test-send', campaignId, '--to', 'qa@example.org', '--as', 't4@example.org'], env);
    assert.equal(await failing.exited, 1);
    assert.match(failing.output(), /rendering for t4@example\.org failed: .*attempted to output null or undefined value/);
  });

  it('refuses a schedule time that is not ISO 8601', async () => {
    const p = spawnHerald(['campaign', 'schedule', campaignId, '--at', 'tomorrow'], env);
    assert.equal(await p.exited, 1);
    assert.match(p.output(), /--at 'tomorrow' is not an ISO 8601 time/);
  });
});
