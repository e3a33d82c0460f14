import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type http from 'node:http';
import { parse } from 'csv-parse';
import { importRecipients, ImportError } from '../../import/importRecipients.js';
import { findListId } from '../../sql/findListId.js';
import { HttpError } from '../errors.js';
import type { ApiContext } from './context.js';

/** Rejected rows returned inline with an import; the rest are counted only. */
const REJECTS_SHOWN = 1000;

const tooLarge = (limit: number): HttpError =>
  new HttpError(413, `upload larger than ${limit} bytes (HERALD_MAX_UPLOAD_BYTES)`, undefined, { connection: 'close' });

/**
 * Streams the request body to `file`, refusing more than `limit` bytes with a 413. The
 * request is only paused then, not destroyed: destroying it would close the socket before
 * the 413 could be sent.
 */
function saveUpload(req: http.IncomingMessage, file: string, limit: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const out = fs.createWriteStream(file);
    let seen = 0;
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > limit) {
        req.off('data', onData);
        req.pause();
        out.destroy();
        reject(tooLarge(limit));
        return;
      }
      if (!out.write(chunk)) {
        req.pause();
        out.once('drain', () => req.resume());
      }
    };
    req.on('data', onData);
    req.once('end', () => out.end());
    req.once('error', reject);
    out.once('error', reject);
    out.once('finish', resolve);
  });
}

/** The first `count` rows of a rejects file, read as a stream that stops there. */
async function firstRejects(file: string, count: number): Promise<Array<{ line: number; reason: string }>> {
  const rows: Array<{ line: number; reason: string }> = [];
  const input = fs.createReadStream(file);
  const parser = input.pipe(parse({ columns: true, to: count }));
  try {
    for await (const r of parser as AsyncIterable<{ line: string; reason: string; raw: string }>) {
      rows.push({ line: Number(r.line), reason: r.reason });
      if (rows.length >= count) break;
    }
  } finally {
    input.destroy();
    parser.destroy();
  }
  return rows;
}

/**
 * Imports a CSV upload into list `name`. The upload streams to a temporary file, so a large
 * CSV never sits in memory; the rejects are read back only as far as the answer shows them.
 * Past the upload limit the server stops reading and answers 413. Answers never name the
 * temporary files.
 */
export async function importUpload({ db, config }: ApiContext, req: http.IncomingMessage, name: string, options: { update: boolean } = { update: false }) {
  const limit = config.maxUploadBytes;
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw tooLarge(limit);
  const listId = await findListId(db.kysely, name);
  if (listId === undefined) throw new HttpError(404, `list '${name}' does not exist`);
  const type = req.headers['content-type'] ?? '';
  if (!/^text\/csv\b/i.test(type)) throw new HttpError(415, `expected content-type text/csv, got '${type || 'none'}'`);
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'herald-upload-'));
  try {
    const file = path.join(dir, 'upload.csv');
    await saveUpload(req, file, limit);
    const rejectsPath = path.join(dir, 'rejects.csv');
    const summary = await importRecipients(db, file, { listId, rejectsPath, displayName: 'upload', update: options.update }).catch((err: unknown) => {
      if (err instanceof ImportError) throw new HttpError(400, err.message);
      throw err;
    });
    const rejects = await firstRejects(rejectsPath, REJECTS_SHOWN);
    const { rejectsPath: _local, ...counts } = summary;
    return { ...counts, rejects };
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
