import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { dbLabel } from './support/db.js';
import { cliDatabaseEnv, MOCK_DOMAIN, MOCK_KEY, runHerald, spawnHerald, startMockProcess, type MockProcess } from './support/processes.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');

describe(`the herald command, start to report (${dbLabel})`, () => {
  let disposeDb: () => Promise<void> = async () => undefined;
  let mock: MockProcess;
  let env: Record<string, string>;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-cli-'));
    mock = await startMockProcess(['--latency', '5']);
    env = { MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url };
    const database = await cliDatabaseEnv(dir);
    disposeDb = database.dispose;
    env = { ...env, ...database.env };
  });
  after(async () => {
    await mock?.stop();
    await disposeDb();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('imports, creates, sends with --wait, and reports every recipient', async () => {
    const csv = path.join(dir, 'people.csv');
    fs.writeFileSync(csv, ['email,name,city', ...Array.from({ length: 300 }, (_, i) => `p${i}@example.org,Person ${i},Oslo`), 'broken,Nobody,Oslo'].join('\n'));
    assert.match(await runHerald(['lists', 'create', 'people'], env), /^\d+\s*$/);
    assert.match(await runHerald(['recipients', 'import', csv, '--list', 'people'], env), /read 301 rows .*300 new.*1 rejected/);
    const id = (await runHerald(['campaign', 'create', '--name', 'CLI', '--list', 'people', '--template', 'spring-sale', '--subject', 'Hi {{ name }}', '--from', 'Shop <shop@example.org>', '--tag', 'cli'], env)).trim();
    assert.match(id, /^\d+$/);
    const sent = await runHerald(['campaign', 'start', id, '--wait'], env);
    assert.match(sent, new RegExp(`campaign ${id} finished: sent 300, failed 0`));

    const status = JSON.parse(await runHerald(['campaign', 'status', id, '--json'], env)) as { status: string; counts: Record<string, number>; listSize: number };
    assert.equal(status.status, 'finished');
    assert.equal(status.counts.sent, 300);
    assert.equal(status.listSize, 300);

    const report = parse(await runHerald(['campaign', 'report', id], env), { columns: true }) as Array<Record<string, string>>;
    assert.equal(report.length, 300);
    assert.ok(report.every((r) => r.status === 'sent' && /^<.+>$/.test(r.provider_id!) && r.attempts === '1' && r.sent_at !== ''));
    assert.deepEqual(new Set(report.map((r) => r.email)).size, 300);
  });

  it('refuses a campaign whose template does not compile, naming file, line and column', async () => {
    await runHerald(['lists', 'create', 'tiny'], env);
    const p = spawnHerald(['campaign', 'create', '--name', 'x', '--list', 'tiny', '--template', 'broken-syntax', '--subject', 's', '--from', 'a@example.org'], { ...env, HERALD_TEMPLATES_DIR: path.join(fixtures, 'templates') });
    assert.equal(await p.exited, 1);
    assert.match(p.output(), /^herald: template error: templates\/broken-syntax\/html\.njk:2:\d+: expected variable end\s*$/m);
  });

  it('prints one clear line for a missing list and exits non-zero', async () => {
    const p = spawnHerald(['campaign', 'create', '--name', 'x', '--list', 'ghost', '--template', 'spring-sale', '--subject', 's', '--from', 'a@example.org'], env);
    assert.equal(await p.exited, 1);
    assert.equal(p.output().trim(), "herald: list 'ghost' does not exist (create it with: herald lists create ghost)");
  });
});
