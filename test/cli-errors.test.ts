import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { loadConfig } from '../src/config/config.js';
import { connect } from '../src/db/connect.js';
import { dbLabel } from './support/db.js';
import { openCliSandbox, type CliSandbox, runHerald, spawnHerald } from './support/processes.js';

/** Runs herald to its end and gives back exit code, stdout+stderr and how long it took. */
async function fails(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  const p = spawnHerald(args, env);
  const code = await p.exited;
  return { code, output: p.output().trim(), ms: Date.now() - started };
}

describe(`the herald command on bad input and closed pipes (${dbLabel})`, () => {
  let sandbox: CliSandbox;
  let env: Record<string, string>;
  let dir: string;
  before(async () => {
    sandbox = await openCliSandbox('cli-errors', ['--latency', '0']);
    ({ env, dir } = sandbox);
  });
  after(async () => {
    await sandbox?.close();
  });

  it('names a campaign id that is not a number (start, status, pause) in one line', async () => {
    for (const args of [
      ['campaign', 'start', 'abc'],
      ['campaign', 'status', 'abc'],
      ['campaign', 'pause', 'abc'],
      ['campaign', 'status', '99999999999999999999'],
    ]) {
      const r = await fails(args, env);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.output, `herald: campaign id must be a positive whole number, got '${args[2]}'`);
    }
  });

  it('ends `campaign report ID | head -2` quietly when the reader goes away', async () => {
    const csv = path.join(dir, 'many.csv');
    fs.writeFileSync(csv, ['email,name', ...Array.from({ length: 3000 }, (_, i) => `reader${i}@example.org,Reader ${i}`)].join('\n'));
    await runHerald(['lists', 'create', 'many'], env);
    await runHerald(['recipients', 'import', csv, '--list', 'many'], env);
    const id = (
      await runHerald(
        ['campaign', 'create', '--name', 'pipe', '--list', 'many', '--template', 'spring-sale', '--subject', 'Hi', '--from', 'shop@example.org'],
        env,
      )
    ).trim();
    await runHerald(['campaign', 'start', id, '--wait'], env);
    for (const format of ['csv', 'jsonl']) {
      const p = spawnHerald(['campaign', 'report', id, '--format', format], env);
      let stderr = '';
      p.process.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      // What `head -2` does: read two lines, then close the pipe.
      let seen = '';
      for await (const chunk of p.process.stdout!) {
        seen += String(chunk);
        if (seen.split('\n').length > 2) break;
      }
      p.process.stdout!.destroy();
      const code = await p.exited;
      assert.equal(stderr, '', `${format}: nothing on stderr`);
      assert.equal(code, 0, format);
    }
  });

  it('names HERALD_DATA_DIR and the path when the PGlite folder cannot be used, and exits at once', async () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, '');
    let unwritable = path.join(dir, 'read-only');
    fs.mkdirSync(unwritable, { mode: 0o555 });
    // Permissions do not stop root; a /proc folder does.
    if (process.getuid?.() === 0) unwritable = '/proc/self';
    const paths = [file, path.join(file, 'db'), unwritable];
    // Under /proc, Node's recursive mkdir never returned (a CPU spinning, no exit).
    if (process.platform === 'linux') paths.push('/proc/1/herald-db');
    for (const dataDir of paths) {
      const r = await fails(['lists', 'ls'], { DATABASE_URL: '', HERALD_DATA_DIR: dataDir });
      assert.equal(r.code, 1, `${dataDir}: ${r.output}`);
      assert.ok(r.output.startsWith(`herald: cannot use the PGlite data folder HERALD_DATA_DIR=${dataDir}: `), r.output);
      assert.equal(r.output.split('\n').length, 1, r.output);
      assert.doesNotMatch(r.output, /object Object/);
      assert.ok(r.ms < 15_000, `${dataDir}: took ${r.ms} ms`);
    }
  });

  it('exits 1 from doctor on a kept count that differs from the rows, and 0 once --recount corrected it', async () => {
    const listId = (await runHerald(['lists', 'create', 'tampered'], env)).trim();
    // Changed by hand, as a bug or an operator's UPDATE would; the CLI holds no connection now.
    const db = await connect({ databaseUrl: env.DATABASE_URL || undefined, dataDir: env.HERALD_DATA_DIR });
    await sql`update lists set member_count = 5 where id = ${Number(listId)}`.execute(db.kysely);
    await db.close();
    const found = await fails(['doctor'], env);
    assert.equal(found.code, 1, found.output);
    assert.match(found.output, new RegExp(`^differs: list ${listId} members: kept 5, rows 0$`, 'm'));
    const corrected = await fails(['doctor', '--recount'], env);
    assert.equal(corrected.code, 0, corrected.output);
    assert.match(corrected.output, new RegExp(`^corrected: list ${listId} members: kept 5, rows 0$`, 'm'));
    const clean = await fails(['doctor'], env);
    assert.equal(clean.code, 0, clean.output);
    assert.match(clean.output, /^kept counts: equal to the rows$/m);
  });

  it('refuses a MAILGUN_BASE_URL that is not http(s) at start, naming the variable', async () => {
    assert.throws(() => loadConfig({ MAILGUN_BASE_URL: 'ftp://files.example.org' }), /MAILGUN_BASE_URL must be an http:\/\/ or https:\/\/ URL/);
    assert.equal(loadConfig({ MAILGUN_BASE_URL: 'https://api.eu.mailgun.net' }).mailgun.baseUrl, 'https://api.eu.mailgun.net');
    const r = await fails(['lists', 'ls'], { ...env, MAILGUN_BASE_URL: 'ftp://files.example.org' });
    assert.equal(r.code, 1);
    assert.match(r.output, /^herald: invalid environment: MAILGUN_BASE_URL: MAILGUN_BASE_URL must be an http:\/\/ or https:\/\/ URL$/);
  });
});
