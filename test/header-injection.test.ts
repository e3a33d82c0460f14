import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/log.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedList } from './support/fixtures.js';
import { cliDatabaseEnv, MOCK_DOMAIN, MOCK_KEY, runHerald, spawnHerald, startMockProcess, type MockProcess } from './support/processes.js';
import { serverOptions } from './support/server.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');

describe(`CR/LF in mail headers (${dbLabel})`, () => {
  describe('the CLI', () => {
    let dir: string;
    let env: Record<string, string>;
    let disposeDb: () => Promise<void> = async () => undefined;
    let mock: MockProcess;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-crlf-'));
      mock = await startMockProcess(['--latency', '1']);
      const database = await cliDatabaseEnv(dir);
      disposeDb = database.dispose;
      env = {
        MAILGUN_API_KEY: MOCK_KEY,
        MAILGUN_DOMAIN: MOCK_DOMAIN,
        MAILGUN_BASE_URL: mock.url,
        HERALD_TEMPLATES_DIR: path.join(fixtures, 'templates'),
        ...database.env,
      };
      const csv = path.join(dir, 'people.csv');
      // One name carries a header injection; CSV allows line breaks inside a quoted field.
      fs.writeFileSync(csv, ['email,name', 'ann@example.org,Ann', '"bob@example.org","Bob\r\nBcc: victim@example.net"', 'cat@example.org,Cat'].join('\n'));
      await runHerald(['recipients', 'import', csv, '--list', 'crlf', '--create-list'], env);
    });
    after(async () => {
      await mock?.stop();
      await disposeDb();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const create = (overrides: Record<string, string>): string[] => {
      const options = { '--name': 'crlf', '--list': 'crlf', '--template': 'ok', '--subject': 'Hello {{ name }}', '--from': 'news@example.org', ...overrides };
      return ['campaign', 'create', ...Object.entries(options).flat()];
    };

    it('refuses a line break in --subject, --from, --reply-to and --tag at create, naming the option', async () => {
      const cases: Array<[string, string]> = [
        ['--subject', 'Hello\r\nBcc: victim@example.net'],
        ['--subject', 'Hello {{ name }}\n'],
        ['--from', 'Shop\r\nBcc: victim@example.net <news@example.org>'],
        ['--from', 'news@example.org\r\n'],
        ['--reply-to', 'help@example.org\nBcc: victim@example.net'],
        ['--tag', 'spring\r\nBcc: victim@example.net'],
      ];
      for (const [option, value] of cases) {
        const p = spawnHerald(create({ [option]: value }), env);
        assert.equal(await p.exited, 1, `${option} ${JSON.stringify(value)}: ${p.output()}`);
        assert.match(
          p.output(),
          new RegExp(`^herald: ${option} ".*" must be one line: a line break \\(CR or LF\\) would start a new mail header\\s*$`, 'm'),
          p.output(),
        );
      }
    });

    it('fails only the recipient whose data puts a line break in the subject, with render_error naming the header; the others are sent', async () => {
      const id = (await runHerald(create({}), env)).trim();
      const dry = await runHerald(['campaign', 'start', id, '--dry-run'], env);
      assert.match(dry, /2 rendered, 1 failed/);
      assert.match(dry, /bob@example\.org .*render_error: subject: the rendered Subject header contains a line break \(CR or LF\)/);

      await runHerald(['campaign', 'start', id, '--wait'], env);
      const rows = (await runHerald(['campaign', 'report', id, '--format', 'jsonl'], env))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const byEmail = new Map(rows.map((r) => [r.email as string, r]));
      assert.equal(byEmail.get('ann@example.org')?.status, 'sent');
      assert.equal(byEmail.get('cat@example.org')?.status, 'sent');
      const bob = byEmail.get('bob@example.org')!;
      assert.equal(bob.status, 'failed');
      assert.equal(bob.error_code, 'render_error', JSON.stringify(bob));
      assert.match(String(bob.error_message), /^subject: the rendered Subject header contains a line break \(CR or LF\)/);

      const messages = (await (await request(`${mock.url}/mock/messages`)).body.json()) as Array<{ to: string[]; subject: string }>;
      assert.deepEqual(messages.map((m) => m.subject).sort(), ['Hello Ann', 'Hello Cat']);
      assert.ok(messages.every((m) => !/[\r\n]/.test(JSON.stringify(m.to)) && !m.to.join().includes('victim')));

      const test = spawnHerald(['campaign', 'test-send', id, '--to', 'qa@example.org', '--as', 'bob@example.org'], env);
      assert.equal(await test.exited, 1);
      assert.match(test.output(), /rendering for bob@example\.org failed: subject: the rendered Subject header contains a line break/);
    });
  });

  describe('the HTTP API', () => {
    let db: TestDb;
    let server: RunningServer;

    before(async () => {
      db = await openTestDb();
      await seedList(db.kysely, 'crlf', 1);
      const config = loadConfig({
        ...process.env,
        MAILGUN_API_KEY: MOCK_KEY,
        MAILGUN_DOMAIN: MOCK_DOMAIN,
        HERALD_TEMPLATES_DIR: path.join(fixtures, 'templates'),
      });
      process.env.HERALD_TEMPLATES_DIR = path.join(fixtures, 'templates');
      server = await startServer(db, createLogger('silent'), serverOptions({ apiToken: 'crlf-token', config }));
    });
    after(async () => {
      await server?.close();
      await db?.dispose();
      delete process.env.HERALD_TEMPLATES_DIR;
    });

    it('answers 400 naming the field for a line break in subject, from, replyTo or a tag, and creates nothing', async () => {
      const base = { name: 'crlf', list: 'crlf', template: 'ok', subject: 'Hello {{ name }}', from: 'news@example.org' };
      const cases: Array<[string, Record<string, unknown>]> = [
        ['subject', { subject: 'Hello\r\nBcc: victim@example.net' }],
        ['subject', { subject: 'Hello\n' }],
        ['from', { from: 'Shop\r\nBcc: victim@example.net <news@example.org>' }],
        ['replyTo', { replyTo: 'help@example.org\nBcc: victim@example.net' }],
        ['tags.1', { tags: ['spring', 'sale\r\nBcc: victim@example.net'] }],
      ];
      for (const [field, overrides] of cases) {
        const res = await request(`${server.url}/api/v1/campaigns`, {
          method: 'POST',
          headers: { authorization: 'Bearer crlf-token', 'content-type': 'application/json' },
          body: JSON.stringify({ ...base, ...overrides }),
        });
        const body = (await res.body.json()) as { error: string; fields?: Array<{ field: string; message: string }> };
        assert.equal(res.statusCode, 400, `${field}: ${JSON.stringify(body)}`);
        assert.deepEqual(
          body.fields?.map((f) => f.field),
          [field],
          JSON.stringify(body),
        );
        assert.match(body.fields![0]!.message, /must be one line: a line break \(CR or LF\) would start a new mail header/);
      }
      const count = await db.kysely
        .selectFrom('campaigns')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      assert.equal(Number(count.n), 0);
    });
  });
});
