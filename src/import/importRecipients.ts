import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import { normalizeEmail } from '../domain/email.js';
import {
  copyBatch,
  createImportTables,
  dropImportTables,
  insertBatch,
  kyselySessionRunner,
  mergeBatch,
  pgSessionRunner,
  type ImportRow,
  type SessionRunner,
} from '../sql/importBatch.js';
import { lineFields, readCsv } from './csvRecords.js';
import { RejectsFile } from './rejectsFile.js';

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
  /** Rows per COPY/merge round; memory stays flat at any file size. */
  batchSize?: number;
}

export class ImportError extends Error {}

/**
 * Streams a CSV of recipients into a list: validates and normalises addresses, rejects bad
 * rows to a file with line number and reason, and merges the good ones in batches (COPY on
 * real Postgres). Re-importing the same file changes nothing.
 */
export async function importRecipients(db: Db, file: string, options: ImportOptions): Promise<ImportSummary> {
  const batchSize = options.batchSize ?? 10_000;
  const rejects = new RejectsFile(options.rejectsPath);
  const summary: ImportSummary = { rowsRead: 0, imported: 0, updated: 0, unchanged: 0, addedToList: 0, rejected: 0, rejectsPath: options.rejectsPath };
  const client = db.pool ? await db.pool.connect() : null;
  const run: SessionRunner = client ? pgSessionRunner(client, db.kysely) : kyselySessionRunner(db.kysely);
  const rawByLine = new Map<number, string>();
  try {
    // A crash mid-import loses at most the last batches, and re-importing is idempotent:
    // not waiting for each commit to reach the disk is the right trade for bulk loads.
    if (client) await run(sql`set synchronous_commit = off`);
    await createImportTables(run);
    let header: { email: number; name: number; extra: Array<[number, string]> } | null = null;
    let batch: ImportRow[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      // One transaction per batch: one commit instead of one per statement.
      await run(sql`begin`);
      if (client) await copyBatch(client, batch);
      else await insertBatch(run, batch);
      const outcome = await mergeBatch(run, options.listId);
      await run(sql`commit`);
      summary.imported += outcome.inserted;
      summary.updated += outcome.updated;
      summary.addedToList += outcome.addedToList;
      const duplicateCount = outcome.duplicates.length;
      summary.unchanged += batch.length - duplicateCount - outcome.inserted - outcome.updated;
      for (const d of outcome.duplicates) {
        await rejects.add(d.line, `duplicate email in file (first seen on line ${d.firstLine})`, rawByLine.get(d.line) ?? '');
      }
      batch = [];
      rawByLine.clear();
    };

    const isRow = (line: string): boolean => {
      const fields = header ? lineFields(line) : null;
      return fields !== null && normalizeEmail(fields[header!.email]).ok;
    };
    for await (const item of readCsv(file, isRow)) {
      if (item.kind === 'reject') {
        if (header) summary.rowsRead++;
        await rejects.add(item.reject.line, item.reject.reason, item.reject.raw);
        continue;
      }
      const { line, fields } = item.record;
      if (!header) {
        header = readHeader(fields, file);
        continue;
      }
      summary.rowsRead++;
      const email = normalizeEmail(fields[header.email]);
      if (!email.ok) {
        await rejects.add(line, email.reason, fields.join(','));
        continue;
      }
      const name = header.name >= 0 ? (fields[header.name] ?? '').trim() : '';
      const attributes: Record<string, string> = {};
      for (const [index, key] of header.extra) if (fields[index] !== undefined && fields[index] !== '') attributes[key] = fields[index]!;
      batch.push({ line, email: email.email, name: name === '' ? null : name, attributes });
      rawByLine.set(line, fields.join(','));
      if (batch.length >= batchSize) await flush();
    }
    if (!header) throw new ImportError(`${file}: the file is empty (expected a header line with an 'email' column)`);
    await flush();
    await dropImportTables(run);
  } catch (err) {
    await run(sql`rollback`).catch(() => undefined);
    throw err;
  } finally {
    if (client) await run(sql`reset synchronous_commit`).catch(() => undefined);
    client?.release();
    await rejects.close();
  }
  summary.rejected = rejects.count;
  return summary;
}

function readHeader(fields: string[], file: string): { email: number; name: number; extra: Array<[number, string]> } {
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
