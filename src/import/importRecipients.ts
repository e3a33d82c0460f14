import { sql } from 'kysely';
import type pg from 'pg';
import type { Db } from '../db/connect.js';
import { normalizeEmail } from '../domain/email.js';
import { addMembers } from '../sql/import/addMembers.js';
import { copyBatch } from '../sql/import/copyBatch.js';
import { createImportTables } from '../sql/import/createImportTables.js';
import { dropImportTables } from '../sql/import/dropImportTables.js';
import { insertBatch } from '../sql/import/insertBatch.js';
import { markFirstOccurrences } from '../sql/import/markFirstOccurrences.js';
import { kyselySessionRunner, pgSessionRunner, type ImportRow, type SessionRunner } from '../sql/import/session.js';
import { upsertRecipients, type UpsertOutcome } from '../sql/import/upsertRecipients.js';
import { lineFields, readCsv } from './csvRecords.js';
import { RejectsFile } from './rejectsFile.js';
import { EncodingError } from './textLines.js';
import { erasedAddressHash } from '../domain/erasure.js';
import { allErasedHashes } from '../sql/erasure/allErasedHashes.js';
import { erasureKey } from '../sql/erasure/erasureKey.js';

const ERASED_REJECT = 'address was erased (a request to erase a person) and is not stored again; herald recipients readmit EMAIL if they signed up anew';

export interface ImportSummary {
  rowsRead: number;
  imported: number;
  updated: number;
  unchanged: number;
  addedToList: number;
  rejected: number;
  rejectsPath: string;
}

export interface ImportOptions {
  listId: number;
  rejectsPath: string;
  /** Rows per staging/merge round; memory stays flat at any file size. */
  batchSize?: number;
  /** How messages name the file (default: its path); the API's temporary path is nobody's business. */
  displayName?: string;
  /**
   * Addresses already there get the row's attributes merged into theirs, and its name when it
   * has one (import --update). Without it they are left as they are (and added to the list).
   */
  update?: boolean;
}

export class ImportError extends Error {}

/**
 * HERALD_IMPORT_TIMINGS=1: every 100 batches, the milliseconds each stage spent on them
 * (to stderr), for finding where an import's time goes as the tables grow.
 */
const stageTimings = process.env.HERALD_IMPORT_TIMINGS === '1' ? new Map<string, number>() : null;
let timedBatches = 0;
async function timed<T>(stage: string, work: Promise<T>): Promise<T> {
  if (!stageTimings) return work;
  const t = performance.now();
  try {
    return await work;
  } finally {
    stageTimings.set(stage, (stageTimings.get(stage) ?? 0) + performance.now() - t);
  }
}
function batchTimed(rowsRead: number): void {
  if (!stageTimings || ++timedBatches % 100 !== 0) return;
  const parts = [...stageTimings].map(([k, v]) => `${k} ${Math.round(v)}`);
  process.stderr.write(`import timings at ${rowsRead} rows (ms over the last 100 batches): ${parts.join(', ')}\n`);
  stageTimings.clear();
}

interface Header {
  email: number;
  name: number;
  extra: Array<[number, string]>;
}

/**
 * Streams a CSV of recipients into a list: validates and normalises addresses, rejects bad
 * rows to a file with line number and reason, and merges the good ones in batches.
 * Re-importing the same file changes nothing; addresses already there keep their name and
 * attributes unless `update` is set.
 *
 * On real Postgres two sessions overlap: one stages batch k+1 (COPY, duplicate marking, in
 * file order) while the other merges batch k into recipients and the list.
 */
export async function importRecipients(db: Db, file: string, options: ImportOptions): Promise<ImportSummary> {
  const shownAs = options.displayName ?? file;
  const batchSize = options.batchSize ?? 10_000;
  const rejects = new RejectsFile(options.rejectsPath);
  const summary: ImportSummary = { rowsRead: 0, imported: 0, updated: 0, unchanged: 0, addedToList: 0, rejected: 0, rejectsPath: options.rejectsPath };
  // An erased address is not stored again (docs/operations.md, "Erasing a person"). Checked in
  // memory against the erased addresses' hashes; with none, no row is hashed.
  const erasedHashes = await allErasedHashes(db.kysely);
  const hashKey = erasedHashes.size > 0 ? await erasureKey(db.kysely) : null;
  const clients: pg.PoolClient[] = db.pool ? [await db.pool.connect(), await db.pool.connect(), await db.pool.connect()] : [];
  const stager: SessionRunner = clients[0] ? pgSessionRunner(clients[0], db.kysely) : kyselySessionRunner(db.kysely);
  const upserter: SessionRunner = clients[1] ? pgSessionRunner(clients[1], db.kysely) : stager;
  const memberAdder: SessionRunner = clients[2] ? pgSessionRunner(clients[2], db.kysely) : stager;
  // A crash mid-import loses at most the last batches, and re-importing is idempotent:
  // not waiting for each commit to reach the disk is the right trade for bulk loads.
  for (const run of new Set([stager, upserter, memberAdder])) if (db.pool) await run(sql`set synchronous_commit = off`);
  await createImportTables(stager);

  const rawByLine = new Map<number, string>();
  let batch: ImportRow[] = [];
  // Three stages, each on its own session on real Postgres, each taking batches in file
  // order: stage (COPY + duplicate marking) → upsert recipients → add list members.
  let upserting: Promise<UpsertOutcome> | null = null;
  let adding: Promise<void> = Promise.resolve();
  let addingBefore: Promise<void> = Promise.resolve();
  const addAfterUpsert = async (upsert: Promise<UpsertOutcome>, previous: Promise<void>): Promise<void> => {
    const u = await upsert;
    summary.imported += u.inserted;
    summary.updated += u.updated;
    summary.unchanged += u.unchanged;
    await previous;
    summary.addedToList += await timed('add members', addMembers(memberAdder, u.ids, options.listId));
  };
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    if (clients[0]) await timed('copy', copyBatch(clients[0], batch));
    else await insertBatch(stager, batch);
    const { firsts, duplicates } = await timed('mark', markFirstOccurrences(stager));
    for (const d of duplicates) {
      await rejects.add(d.line, `duplicate email in file (first seen on line ${d.firstLine})`, rawByLine.get(d.line) ?? '');
    }
    batch = [];
    rawByLine.clear();
    // At most one batch per stage in flight: memory stays flat and order is kept.
    await timed<unknown>('wait for upsert', upserting ?? Promise.resolve());
    await timed('wait for add', addingBefore);
    batchTimed(summary.rowsRead);
    addingBefore = adding;
    const next = timed('upsert', upsertRecipients(upserter, firsts, options.update ?? false));
    upserting = next;
    adding = addAfterUpsert(next, adding);
    // Handled here so a failure while the next batch is read is not an unhandled rejection;
    // it is still thrown where `adding` is awaited.
    adding.catch(() => undefined);
    if (!db.pool) await adding;
  };

  try {
    let header: Header | null = null;
    const isRow = (line: string): boolean => {
      const fields = header ? lineFields(line) : null;
      return fields !== null && normalizeEmail(fields[header!.email]).ok;
    };
    for await (const item of readCsv(file, isRow)) {
      if (item.kind === 'reject' && !header && item.reject.line === 1 && item.reject.reason.startsWith('bad bytes')) {
        throw new ImportError(`${shownAs}:1: the header line has ${item.reject.reason}`);
      }
      if (item.kind === 'reject') {
        if (header) summary.rowsRead++;
        await rejects.add(item.reject.line, item.reject.reason, item.reject.raw);
        continue;
      }
      const { line, fields } = item.record;
      if (!header) {
        header = readHeader(fields, shownAs);
        continue;
      }
      summary.rowsRead++;
      const email = normalizeEmail(fields[header.email]);
      if (!email.ok) {
        await rejects.add(line, email.reason, fields.join(','));
        continue;
      }
      if (hashKey !== null && erasedHashes.has(erasedAddressHash(hashKey, email.email))) {
        await rejects.add(line, ERASED_REJECT, fields.join(','));
        continue;
      }
      const name = header.name >= 0 ? (fields[header.name] ?? '').trim() : '';
      const attributes: Record<string, string> = {};
      for (const [index, key] of header.extra) if (fields[index] !== undefined && fields[index] !== '') attributes[key] = fields[index]!;
      batch.push({ line, email: email.email, name: name === '' ? null : name, attributes });
      rawByLine.set(line, fields.join(','));
      if (batch.length >= batchSize) await flush();
    }
    if (!header) throw new ImportError(`${shownAs}: the file is empty (expected a header line with an 'email' column)`);
    await flush();
    await adding;
  } catch (err) {
    if (err instanceof EncodingError) throw new ImportError(`${shownAs}: ${err.message}`);
    throw err;
  } finally {
    await adding.catch(() => undefined);
    await dropImportTables(stager).catch(() => undefined);
    for (const client of clients) {
      await pgSessionRunner(client, db.kysely)(sql`reset synchronous_commit`).catch(() => undefined);
      client.release();
    }
    await rejects.close();
  }
  summary.rejected = rejects.count;
  return summary;
}

function readHeader(fields: string[], file: string): Header {
  const names = fields.map((f) => f.trim().toLowerCase());
  const email = names.indexOf('email');
  if (email < 0) throw new ImportError(`${file}:1: the header has no 'email' column (found: ${fields.join(', ')})`);
  const name = names.indexOf('name');
  const extra: Array<[number, string]> = [];
  names.forEach((n, i) => {
    if (i !== email && i !== name && n !== '') extra.push([i, fields[i]!.trim()]);
  });
  return { email, name, extra };
}
