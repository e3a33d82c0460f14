import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { importRecipients } from '../src/import/importRecipients.js';
import { createList } from '../src/sql/createList.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';

interface Expected {
  good: Map<string, { name: string; city: string }>;
  bad: Map<number, RegExp>;
}

/**
 * A 100k-row CSV with a BOM and CRLF endings; about 5% of rows are bad in known ways, some
 * good rows have quoted names with commas and newlines.
 */
function writeCsv(file: string, rows: number): Expected {
  const good = new Map<string, { name: string; city: string }>();
  const bad = new Map<number, RegExp>();
  const lines: string[] = ['\uFEFFEmail,Name,City'];
  let line = 1;
  const push = (text: string): void => {
    lines.push(text);
    line += text.split('\n').length;
  };
  for (let i = 0; i < rows; i++) {
    const start = line + 1;
    const kind = i % 100;
    if (kind === 11) {
      push(`not-an-email-${i},Bad ${i},Oslo`);
      bad.set(start, /invalid email/);
    } else if (kind === 22) {
      push(`,Nobody ${i},Oslo`);
      bad.set(start, /missing email/);
    } else if (kind === 33 && i > 100) {
      push(`USER${i - 10}@Example.COM,Again ${i},Oslo`);
      bad.set(start, /duplicate email in file \(first seen on line \d+\)/);
    } else if (kind === 44) {
      push(`broken${i}@example.com,"Unclosed ${i},Oslo`);
      bad.set(start, /quote is never closed/);
    } else if (kind === 55) {
      push(`inner${i}@example.com,Ann "the Quote" ${i},Oslo`);
      // A quote inside an unquoted field is taken literally.
      good.set(`inner${i}@example.com`, { name: `Ann "the Quote" ${i}`, city: 'Oslo' });
    } else if (kind === 66) {
      push(`user${i}@example.com,"Doe, Jane\nSecond line ${i}",Lisbon`);
      good.set(`user${i}@example.com`, { name: `Doe, Jane\nSecond line ${i}`, city: 'Lisbon' });
    } else if (kind === 77) {
      push(`  User${i}@EXAMPLE.com  ,Spacey ${i},Kyoto`);
      good.set(`User${i}@example.com`, { name: `Spacey ${i}`, city: 'Kyoto' });
    } else {
      push(`USER${i}@Example.COM,Name ${i},Austin`);
      good.set(`USER${i}@example.com`, { name: `Name ${i}`, city: 'Austin' });
    }
  }
  fs.writeFileSync(file, lines.join('\r\n') + '\r\n');
  return { good, bad };
}

describe(`CSV import (${dbLabel})`, () => {
  let db: TestDb;
  let dir: string;
  before(async () => {
    db = await openTestDb();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-import-'));
  });
  after(async () => {
    await db.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('imports every good row once, rejects every bad row with its line and reason, and re-imports as a no-op', async () => {
    const file = path.join(dir, 'big.csv');
    const expected = writeCsv(file, 100_000);
    const listId = (await createList(db.kysely, 'big'))!;
    const summary = await importRecipients(db, file, { listId, rejectsPath: path.join(dir, 'rejects.csv') });
    assert.equal(summary.imported, expected.good.size);
    assert.equal(summary.addedToList, expected.good.size);
    assert.equal(summary.rejected, expected.bad.size);

    const rows = await db.kysely.selectFrom('recipients').select(['email', 'name', 'attributes', 'updated_at']).execute();
    assert.equal(rows.length, expected.good.size);
    const byEmail = new Map(rows.map((r) => [r.email, r]));
    for (const [email, want] of expected.good) {
      const got = byEmail.get(email);
      assert.ok(got, `${email} imported`);
      assert.equal(got.name, want.name);
      assert.deepEqual(got.attributes, { City: want.city });
    }

    const rejects = parse(fs.readFileSync(summary.rejectsPath), { columns: true }) as Array<{ line: string; reason: string; raw: string }>;
    assert.equal(rejects.length, expected.bad.size);
    for (const r of rejects) {
      const want = expected.bad.get(Number(r.line));
      assert.ok(want, `line ${r.line} was not expected to be rejected (${r.reason})`);
      assert.match(r.reason, want);
    }

    const again = await importRecipients(db, file, { listId, rejectsPath: path.join(dir, 'rejects2.csv') });
    assert.equal(again.imported, 0);
    assert.equal(again.updated, 0);
    assert.equal(again.addedToList, 0);
    assert.equal(again.unchanged, expected.good.size);
    const after = await db.kysely.selectFrom('recipients').select(['email', 'updated_at']).execute();
    assert.equal(after.length, rows.length);
    const before = new Map(rows.map((r) => [r.email, r.updated_at.getTime()]));
    assert.ok(
      after.every((r) => before.get(r.email) === r.updated_at.getTime()),
      'no row was touched',
    );
  });

  it('leaves a recipient already there as it is, unless --update: then its name and the file attributes are merged in', async () => {
    const listId = (await createList(db.kysely, 'small'))!;
    const file = path.join(dir, 'small.csv');
    fs.writeFileSync(file, 'email,name,plan,lang\nann@example.org,Ann,free,en\n');
    await importRecipients(db, file, { listId, rejectsPath: path.join(dir, 'r1.csv') });
    const row = () => db.kysely.selectFrom('recipients').selectAll().where('email', 'ilike', 'ann@example.org').executeTakeFirstOrThrow();
    fs.writeFileSync(file, 'email,name,plan\nANN@example.org,Ann Lee,pro\n');
    const plain = await importRecipients(db, file, { listId, rejectsPath: path.join(dir, 'r2.csv') });
    assert.deepEqual([plain.updated, plain.unchanged], [0, 1]);
    assert.deepEqual([(await row()).name, (await row()).attributes], ['Ann', { plan: 'free', lang: 'en' }]);
    const s = await importRecipients(db, file, { listId, rejectsPath: path.join(dir, 'r3.csv'), update: true });
    assert.equal(s.updated, 1);
    assert.equal((await row()).name, 'Ann Lee');
    assert.deepEqual((await row()).attributes, { plan: 'pro', lang: 'en' });
  });

  it('refuses a file without an email column, naming the file', async () => {
    const listId = (await createList(db.kysely, 'nohead'))!;
    const file = path.join(dir, 'nohead.csv');
    fs.writeFileSync(file, 'mail,name\nx@example.org,X\n');
    await assert.rejects(importRecipients(db, file, { listId, rejectsPath: path.join(dir, 'r3.csv') }), /nohead\.csv:1: the header has no 'email' column/);
  });
});
