import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { loadConfig } from '../src/config/config.js';
import { importRecipients, ImportError } from '../src/import/importRecipients.js';
import { createLogger } from '../src/config/log.js';
import { startServer, type RunningServer } from '../src/http/app.js';
import { createList } from '../src/sql/createList.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { cliDatabaseEnv, spawnHerald } from './support/processes.js';
import { serverOptions } from './support/server.js';
import { rawRequest, type RawAnswer } from './support/rawHttp.js';

/** mulberry32: a small seeded PRNG, so a failing fuzz run can be repeated from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Damage that cannot be CSV syntax (never a quote, comma, CR or LF), so the structure of the
 * file is what it was and the expectation is exact: a NUL, a control character, or a byte
 * sequence that is not UTF-8 (stray continuation byte, impossible lead byte, truncated,
 * overlong or surrogate sequences).
 */
const DAMAGE: ReadonlyArray<(r: () => number) => number[]> = [
  () => [0x00],
  (r) => [[0x01, 0x02, 0x07, 0x08, 0x0b, 0x0c, 0x0e, 0x1b, 0x1f, 0x7f][Math.floor(r() * 10)]!],
  (r) => [0x80 + Math.floor(r() * 64)],
  (r) => [[0xc0, 0xc1, 0xf5, 0xf8, 0xfe, 0xff][Math.floor(r() * 6)]!],
  () => [0xe2, 0x82],
  () => [0xe0, 0x80, 0x80],
  () => [0xed, 0xa0, 0x80],
  () => [0xf0, 0x9f],
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bytes-'));
const noControl = (s: string): boolean => !/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(s);
const utf8 = new TextDecoder('utf-8', { fatal: true });
function isCleanText(bytes: Buffer): boolean {
  try {
    return noControl(utf8.decode(bytes));
  } catch {
    return false;
  }
}

describe(`bad bytes fail one row, not the import (${dbLabel})`, () => {
  let db: TestDb;
  before(async () => {
    db = await openTestDb();
  });
  after(async () => {
    await db?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const members = async (list: string) =>
    (
      await db.kysely
        .selectFrom('recipients as r')
        .innerJoin('list_members as m', 'm.recipient_id', 'r.id')
        .innerJoin('lists as l', 'l.id', 'm.list_id')
        .select('r.email')
        .where('l.name', '=', list)
        .execute()
    ).map((r) => r.email);

  it('rejects a row with a NUL, a control character or invalid UTF-8 by line number, and imports every other row', async () => {
    const file = path.join(tmp, 'nul.csv');
    fs.writeFileSync(
      file,
      Buffer.concat([
        Buffer.from('email,name,city\n'),
        Buffer.from('ann@example.org,Ann,Oslo\n'),
        Buffer.from('bob@example.org,Bo\x00b,Oslo\n', 'latin1'),
        Buffer.from('cy@example.org,"Cy, Jr",Bergen\n'),
        Buffer.from('dee@exa\xffmple.org,Dee,Oslo\n', 'latin1'),
        Buffer.from('eve@example.org,Eve,Tr\u00f8ms\u00f8\n'),
        Buffer.from('fay@example.org,F\x01ay,Oslo\n', 'latin1'),
        Buffer.from('gus@example.org,Gus,Oslo\n'),
      ]),
    );
    const listId = (await createList(db.kysely, 'nul'))!;
    const rejectsPath = path.join(tmp, 'nul.rejects.csv');
    const summary = await importRecipients(db, file, { listId, rejectsPath, batchSize: 100 });
    assert.equal(summary.rowsRead, 7);
    assert.equal(summary.imported, 4);
    assert.deepEqual((await members('nul')).sort(), ['ann@example.org', 'cy@example.org', 'eve@example.org', 'gus@example.org']);
    const rejects = parse(fs.readFileSync(rejectsPath), { columns: true }) as Array<{ line: string; reason: string; raw: string }>;
    assert.deepEqual(
      rejects.map((r) => [Number(r.line), r.reason]),
      [
        [3, 'bad bytes: a NUL byte at byte 19 of the line'],
        [5, 'bad bytes: not UTF-8: byte 0xff at byte 8 of the line (save the file as UTF-8)'],
        [7, 'bad bytes: control character 0x01 at byte 18 of the line'],
      ],
    );
    assert.equal(rejects[0]!.raw, 'bob@example.org,Bo\\x00b,Oslo', 'the rejects file shows bad bytes escaped');
    assert.ok(rejects.every((r) => noControl(r.raw)));
  });

  it('fuzz: bytes spliced into random rows reject exactly those rows; every undamaged row is imported', async () => {
    const seed = process.env.HERALD_FUZZ_SEED ? Number(process.env.HERALD_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
    console.log(`fuzz seed ${seed} (repeat with HERALD_FUZZ_SEED=${seed})`);
    const r = prng(seed);
    const rows = 3000;
    const chunks: Buffer[] = [Buffer.from('email,name,city,note\n')];
    const damaged = new Set<number>();
    const good = new Set<string>();
    for (let i = 0; i < rows; i++) {
      const line = i + 2;
      const email = `fuzz${i}@example.org`;
      const text = i % 7 === 0 ? `${email},"Last ${i}, First",Oslo,"said ""hi"""` : `${email},Name ${i},City ${i % 13},note ${i}`;
      let bytes = Buffer.from(text);
      if (r() < 0.08) {
        damaged.add(line);
        const hits = 1 + Math.floor(r() * 3);
        for (let h = 0; h < hits; h++) {
          const at = Math.floor(r() * (bytes.length + 1));
          const junk = Buffer.from(DAMAGE[Math.floor(r() * DAMAGE.length)]!(r));
          bytes = Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]);
        }
        // Two pieces of damage can make a valid character together (0xe2 0x82 around a stray
        // 0x80 is U+2002): such a line is not damaged, so it gets a NUL as well.
        if (isCleanText(bytes)) {
          const at = Math.floor(r() * (bytes.length + 1));
          bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([0x00]), bytes.subarray(at)]);
        }
      } else {
        good.add(email);
      }
      chunks.push(bytes, Buffer.from(r() < 0.5 ? '\n' : '\r\n'));
    }
    const file = path.join(tmp, 'fuzz.csv');
    fs.writeFileSync(file, Buffer.concat(chunks));
    const listId = (await createList(db.kysely, 'fuzz'))!;
    const rejectsPath = path.join(tmp, 'fuzz.rejects.csv');
    const summary = await importRecipients(db, file, { listId, rejectsPath, batchSize: 500 });
    const rejects = parse(fs.readFileSync(rejectsPath), { columns: true }) as Array<{ line: string; reason: string; raw: string }>;
    const rejectedLines = rejects.map((x) => Number(x.line));
    assert.deepEqual(
      rejectedLines,
      [...damaged].sort((a, b) => a - b),
      `seed ${seed}: the rejected lines are exactly the damaged ones`,
    );
    for (const x of rejects) assert.match(x.reason, /^bad bytes: /, `seed ${seed} line ${x.line}`);
    assert.ok(
      rejects.every((x) => noControl(x.raw)),
      `seed ${seed}: no raw control bytes in the rejects file`,
    );
    assert.equal(summary.rowsRead, rows);
    assert.equal(summary.imported, good.size, `seed ${seed}`);
    assert.deepEqual(new Set(await members('fuzz')), good, `seed ${seed}: every undamaged row, nothing else`);
  });

  it('refuses UTF-16, UTF-32 and binary files with one message naming what it found', async () => {
    const listId = (await createList(db.kysely, 'enc'))!;
    const text = 'email,name\nann@example.org,Ann\nbob@example.org,Bob\n';
    const cases: Array<[string, Buffer, RegExp]> = [
      [
        'utf16le-bom',
        Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]),
        /UTF-16 little-endian \(it starts with a UTF-16 byte-order mark\)/,
      ],
      ['utf16be-bom', Buffer.from(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()])), /UTF-16 big-endian/],
      ['utf16le-nobom', Buffer.from(text, 'utf16le'), /UTF-16 little-endian without a byte-order mark/],
      ['utf32', Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), Buffer.from('e\0\0\0')]), /UTF-32/],
      ['gzip', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x02]), /gzip-compressed/],
      ['binary', Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256)), /binary data, not UTF-8 text/],
    ];
    for (const [name, bytes, message] of cases) {
      const file = path.join(tmp, `${name}.csv`);
      fs.writeFileSync(file, bytes);
      const err = await importRecipients(db, file, { listId, rejectsPath: `${file}.rejects` }).then(
        () => assert.fail(`${name}: imported`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ImportError, `${name}: ${String(err)}`);
      assert.match(err.message, message, name);
      assert.ok(noControl(err.message) && !/[\x80-\xff]/.test(err.message.replace(/[^\x00-\xff]/g, '')), `${name}: no raw bytes in the message`);
    }
    assert.deepEqual(await members('enc'), []);
  });

  it('from the command line: one line naming the encoding, no bytes echoed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bytes-cli-'));
    const database = await cliDatabaseEnv(dir);
    try {
      const file = path.join(dir, 'excel.csv');
      fs.writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('email,name\nann@example.org,Ann\n', 'utf16le')]));
      const run = spawnHerald(['recipients', 'import', file, '--list', 'x', '--create-list'], database.env);
      assert.equal(await run.exited, 1);
      assert.match(run.output(), /herald: .*excel\.csv: the file is UTF-16 little-endian .*save it as UTF-8/);
      assert.ok(noControl(run.output().replace(/\n/g, '')), 'no raw bytes on the terminal');
    } finally {
      await database.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function post(url: string, reqPath: string, body: Buffer, headers: Record<string, string>): Promise<RawAnswer> {
  return rawRequest(url, 'POST', reqPath, headers, body);
}

describe(`CSV uploads over the API (${dbLabel})`, () => {
  let db: TestDb;
  let server: RunningServer;
  before(async () => {
    db = await openTestDb();
    await createList(db.kysely, 'up');
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: '', MAILGUN_DOMAIN: '', HERALD_MAX_UPLOAD_BYTES: '4096' });
    server = await startServer(db, createLogger('silent'), serverOptions({ config }));
  });
  after(async () => {
    await server?.close();
    await db?.dispose();
  });

  it('answers 413 past HERALD_MAX_UPLOAD_BYTES, declared or streamed, and imports nothing', async () => {
    const big = Buffer.from('email\n' + Array.from({ length: 400 }, (_, i) => `big${i}@example.org`).join('\n') + '\n');
    assert.ok(big.length > 4096);
    const declared = await post(server.url, '/api/v1/lists/up/recipients', big, { 'content-type': 'text/csv', 'content-length': String(big.length) });
    assert.equal(declared.status, 413, declared.text);
    assert.match(declared.text, /upload larger than 4096 bytes \(HERALD_MAX_UPLOAD_BYTES\)/);
    const chunked = await post(server.url, '/api/v1/lists/up/recipients', big, { 'content-type': 'text/csv', 'transfer-encoding': 'chunked' });
    assert.equal(chunked.status, 413, chunked.text);
    const count = await db.kysely
      .selectFrom('list_members')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 0);
  });

  it('reports bad rows by line and never names a server-side path', async () => {
    const body = Buffer.concat([Buffer.from('email,name\nok1@example.org,A\nbad@example.org,B\x00\nnot-an-address,C\nok2@example.org,D\n', 'latin1')]);
    const res = await post(server.url, '/api/v1/lists/up/recipients', body, { 'content-type': 'text/csv' });
    assert.equal(res.status, 200, res.text);
    const answer = JSON.parse(res.text) as { imported: number; rejected: number; rejects: Array<{ line: number; reason: string }> };
    assert.equal(answer.imported, 2);
    assert.deepEqual(
      answer.rejects.map((x) => x.line),
      [3, 4],
    );
    assert.match(answer.rejects[0]!.reason, /NUL byte/);
    assert.doesNotMatch(res.text, new RegExp(`${os.tmpdir()}|herald-upload-|rejectsPath`));
    for (const bad of [Buffer.alloc(0), Buffer.from('name\nx\n'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('email\na@b.org\n', 'utf16le')])]) {
      const refused = await post(server.url, '/api/v1/lists/up/recipients', bad, { 'content-type': 'text/csv' });
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.text, /upload/);
      assert.doesNotMatch(refused.text, new RegExp(`${os.tmpdir()}|herald-upload-`), refused.text);
    }
  });

  it('validates HERALD_MAX_UPLOAD_BYTES at start', () => {
    for (const value of ['abc', '0', '-5', '1.5', '10MB']) {
      assert.throws(() => loadConfig({ HERALD_MAX_UPLOAD_BYTES: value }), /HERALD_MAX_UPLOAD_BYTES must be a whole number of bytes above 0/, value);
    }
    assert.equal(loadConfig({}).maxUploadBytes, 512 * 1024 * 1024);
  });
});
