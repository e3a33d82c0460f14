import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dbLabel } from './support/db.js';
import { openCliSandbox, type CliSandbox, runHerald, spawnHerald } from './support/processes.js';

describe(`suppressions from the command line (${dbLabel})`, () => {
  let sandbox: CliSandbox;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    sandbox = await openCliSandbox('suppress', null);
    ({ dir, env } = sandbox);
  });
  after(async () => {
    await sandbox?.close();
  });

  it('adds, lists, imports and removes addresses, lowercased, with clear errors for bad input', async () => {
    assert.match(
      await runHerald(['suppressions', 'add', 'Ann@Example.org', 'bob@example.org', '--reason', 'complained'], env),
      /2 added, 0 already suppressed/,
    );
    assert.match(await runHerald(['suppressions', 'add', 'ann@example.org'], env), /0 added, 1 already suppressed/);
    const csv = path.join(dir, 'list.csv');
    fs.writeFileSync(csv, 'name,email\nCy,cy@example.org\nBad,not-an-address\nDee,dee@example.org\n');
    const imported = spawnHerald(['suppressions', 'import', csv], env);
    assert.equal(await imported.exited, 0);
    assert.match(imported.output(), /list\.csv:3: invalid email/);
    assert.match(imported.output(), /2 suppressed, 1 rejected/);
    const listed = await runHerald(['suppressions', 'ls'], env);
    for (const email of ['ann@example.org', 'bob@example.org', 'cy@example.org', 'dee@example.org']) assert.ok(listed.includes(email), `${email} listed`);
    assert.match(listed, /complained\s+ann@example\.org/);
    await runHerald(['suppressions', 'rm', 'ANN@example.org'], env);
    assert.ok(!(await runHerald(['suppressions', 'ls'], env)).includes('ann@example.org'));
    const bad = spawnHerald(['suppressions', 'add', 'nope'], env);
    assert.equal(await bad.exited, 1);
    assert.match(bad.output(), /herald: 'nope': invalid email/);
  });
});
