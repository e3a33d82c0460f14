import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { request } from 'undici';
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
    const id = (
      await runHerald(
        [
          'campaign',
          'create',
          '--name',
          'CLI',
          '--list',
          'people',
          '--template',
          'spring-sale',
          '--subject',
          'Hi {{ name }}',
          '--from',
          'Shop <shop@example.org>',
          '--tag',
          'cli',
        ],
        env,
      )
    ).trim();
    assert.match(id, /^\d+$/);
    const sent = await runHerald(['campaign', 'start', id, '--wait'], env);
    assert.match(sent, new RegExp(`campaign ${id} finished: sent 300, failed 0`));

    const status = JSON.parse(await runHerald(['campaign', 'status', id, '--json'], env)) as {
      status: string;
      counts: Record<string, number>;
      listSize: number;
    };
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
    const p = spawnHerald(['campaign', 'create', '--name', 'x', '--list', 'tiny', '--template', 'broken-syntax', '--subject', 's', '--from', 'a@example.org'], {
      ...env,
      HERALD_TEMPLATES_DIR: path.join(fixtures, 'templates'),
    });
    assert.equal(await p.exited, 1);
    assert.match(p.output(), /^herald: template error: templates\/broken-syntax\/html\.njk:2:\d+: expected variable end\s*$/m);
  });

  it('prints one clear line for a missing list and exits non-zero', async () => {
    const p = spawnHerald(
      ['campaign', 'create', '--name', 'x', '--list', 'ghost', '--template', 'spring-sale', '--subject', 's', '--from', 'a@example.org'],
      env,
    );
    assert.equal(await p.exited, 1);
    assert.equal(p.output().trim(), "herald: list 'ghost' does not exist (create it with: herald lists create ghost)");
  });

  it('manages sending domains: add, set, list, and one clear line for bad input', async () => {
    const fails = async (args: string[]) => {
      const p = spawnHerald(args, env);
      assert.equal(await p.exited, 1, p.output());
      return p.output().trim();
    };
    assert.match(
      await runHerald(['domains', 'add', 'mg.example.org', '--rate', '50', '--daily-cap', '1000', '--reset-hour', '6', '--time-zone', 'Europe/Berlin'], env),
      /added mg\.example\.org/,
    );
    assert.equal(
      await fails(['domains', 'add', 'mg.example.org']),
      "herald: domain 'mg.example.org' exists already (change it with: herald domains set mg.example.org …)",
    );
    await runHerald(['domains', 'set', 'mg.example.org', '--rate', 'none', '--warmup-start', '2026-12-01', '--warmup-caps', '100,200,400'], env);
    const [domain] = JSON.parse(await runHerald(['domains', 'ls', '--json'], env)) as Array<
      Record<string, unknown> & { today: { used: number; cap: number | null } }
    >;
    assert.deepEqual(
      {
        name: domain!.name,
        rate: domain!.ratePerSecond,
        cap: domain!.dailyCap,
        resetHour: domain!.resetHour,
        timeZone: domain!.timeZone,
        warmup: domain!.warmup,
        used: domain!.today.used,
      },
      {
        name: 'mg.example.org',
        rate: null,
        cap: 1000,
        resetHour: 6,
        timeZone: 'Europe/Berlin',
        warmup: { start: '2026-12-01', caps: [100, 200, 400] },
        used: 0,
      },
    );
    assert.match(
      await runHerald(['domains', 'ls'], env),
      /mg\.example\.org {2}rate -\/s {2}concurrency - {2}daily cap 1000 \(resets 06:00 Europe\/Berlin\) {2}warm-up from 2026-12-01: 100,200,400/,
    );
    assert.match(
      await fails(['domains', 'set', 'mg.example.org', '--time-zone', 'Berlin']),
      /option '--time-zone <zone>' argument 'Berlin' is invalid\. unknown time zone 'Berlin'/,
    );
    assert.match(await fails(['domains', 'set', 'mg.example.org', '--warmup-caps', '100,x']), /warm-up cap #2 \('x'\) is not a whole number/);
    assert.match(await fails(['domains', 'set', 'mg.example.org', '--reset-hour', '24']), /expected an hour from 0 to 23, got '24'/);
    assert.equal(
      await fails(['domains', 'set', 'nope.example.org', '--rate', '5']),
      "herald: no sending domain 'nope.example.org' (add it with: herald domains add nope.example.org)",
    );
    assert.equal(await fails(['domains', 'add', 'not a domain']), "herald: 'not a domain' is not a domain name");
  });

  it('serves a worker’s Prometheus metrics behind the API token', async () => {
    const port = await freePort();
    const worker = spawnHerald(['worker', '--watch', '--metrics-port', String(port)], { ...env, HERALD_API_TOKEN: 'metrics-token' });
    try {
      let res: Awaited<ReturnType<typeof request>> | undefined;
      for (let i = 0; i < 100 && !res; i++) {
        res = await request(`http://127.0.0.1:${port}/metrics`).catch(async () => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          return undefined;
        });
      }
      assert.ok(res, `the metrics port never opened: ${worker.output()}`);
      assert.equal(res.statusCode, 401);
      await res.body.dump();
      const ok = await request(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: 'Bearer metrics-token' } });
      assert.equal(ok.statusCode, 200);
      const text = await ok.body.text();
      assert.match(text, /^herald_requests_in_flight 0$/m);
      assert.match(text, /^nodejs_eventloop_lag_p99_seconds /m);
    } finally {
      worker.process.kill('SIGTERM');
      assert.equal(await worker.exited, 0, worker.output());
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}
