import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import type pg from 'pg';
import type { ImportRow } from './session.js';

/** Loads a batch with COPY (real Postgres): the fastest way in. */
export async function copyBatch(client: pg.PoolClient, rows: readonly ImportRow[]): Promise<void> {
  await client.query('truncate import_batch');
  const stream = client.query(copyFrom('copy import_batch (line, email, name, attributes) from stdin'));
  await pipeline(Readable.from(copyLines(rows)), stream);
}

function* copyLines(rows: readonly ImportRow[]): Generator<string> {
  let chunk = '';
  for (const r of rows) {
    chunk += `${r.line}\t${copyText(r.email)}\t${r.name === null ? '\\N' : copyText(r.name)}\t${copyText(JSON.stringify(r.attributes))}\n`;
    if (chunk.length > 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** COPY text format escaping. */
function copyText(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
}
