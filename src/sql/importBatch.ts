import { sql, type Kysely, type RawBuilder } from 'kysely';
import { from as copyFrom } from 'pg-copy-streams';
import type pg from 'pg';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { Database } from '../db/schema.js';

export interface ImportRow {
  line: number;
  email: string;
  name: string | null;
  attributes: Record<string, string>;
}

export interface BatchOutcome {
  inserted: number;
  updated: number;
  addedToList: number;
  /** Rows whose address appeared earlier in the same file: line → first line. */
  duplicates: Array<{ line: number; firstLine: number }>;
}

/**
 * Runs a statement on the one session an import uses (its temporary tables live there):
 * a dedicated pg client on real Postgres, the single PGlite connection otherwise.
 */
export type SessionRunner = <R>(query: RawBuilder<R>) => Promise<{ rows: R[]; affected: number }>;

export function pgSessionRunner(client: pg.PoolClient, compiler: Kysely<Database>): SessionRunner {
  return async <R>(query: RawBuilder<R>) => {
    const compiled = query.compile(compiler);
    const result = await client.query(compiled.sql, compiled.parameters as unknown[]);
    return { rows: result.rows as R[], affected: result.rowCount ?? 0 };
  };
}

export function kyselySessionRunner(db: Kysely<Database>): SessionRunner {
  return async <R>(query: RawBuilder<R>) => {
    const result = await query.execute(db);
    return { rows: result.rows, affected: Number(result.numAffectedRows ?? 0) };
  };
}

/**
 * Session-scoped tables for one import: the current batch, and every address seen so far in
 * the file (so duplicates are found in the database, not in a growing in-memory set).
 */
export async function createImportTables(run: SessionRunner): Promise<void> {
  await run(sql`create temporary table if not exists import_batch (line int not null, email text not null, name text, attributes jsonb not null, is_first boolean not null default false)`);
  await run(sql`create temporary table if not exists import_seen (email_lower text primary key, line int not null)`);
  await run(sql`truncate import_batch, import_seen`);
}

export async function dropImportTables(run: SessionRunner): Promise<void> {
  await run(sql`drop table if exists import_batch, import_seen`);
}

/** Loads a batch with COPY (real Postgres): the fastest way in, per stack-notes. */
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

/** Loads a batch through unnest (PGlite): one statement, four parameters whatever its size. */
export async function insertBatch(run: SessionRunner, rows: readonly ImportRow[]): Promise<void> {
  await run(sql`truncate import_batch`);
  await run(sql`
    insert into import_batch (line, email, name, attributes)
    select * from unnest(${rows.map((r) => r.line)}::int[], ${rows.map((r) => r.email)}::text[],
                         ${rows.map((r) => r.name)}::text[], ${rows.map((r) => JSON.stringify(r.attributes))}::jsonb[])
  `);
}

/**
 * Merges the loaded batch: first occurrence in the file wins, new addresses are inserted,
 * changed names/attributes updated (unchanged rows are not touched), and members added.
 */
export async function mergeBatch(run: SessionRunner, listId: number): Promise<BatchOutcome> {
  // Temporary tables are never analysed automatically; without statistics the planner
  // hashes the whole (growing) import_seen table for every batch.
  await run(sql`analyze import_batch`);
  await run(sql`
    with fresh as (
      insert into import_seen (email_lower, line)
      select lower(email), line from import_batch order by line
      on conflict do nothing
      returning line
    )
    update import_batch set is_first = true where line in (select line from fresh)
  `);
  const dupes = await run(sql<{ line: number; first_line: number }>`
    select b.line, s.line as first_line from import_batch b join import_seen s on s.email_lower = lower(b.email)
    where not b.is_first order by b.line
  `);
  // Rows that are the first occurrence of their address in the file.
  const firsts = sql`select line, email, name, attributes from import_batch where is_first`;
  const merged = await run(sql<{ inserted: boolean }>`
    insert into recipients (email, name, attributes)
    select email, name, attributes from (${firsts}) f
    on conflict ((lower(email))) do update
      set email = excluded.email, name = excluded.name, attributes = excluded.attributes, updated_at = now()
      where recipients.email is distinct from excluded.email
         or recipients.name is distinct from excluded.name
         or recipients.attributes is distinct from excluded.attributes
    returning (xmax = 0) as inserted
  `);
  const members = await run(sql`
    insert into list_members (list_id, recipient_id)
    select ${listId}, r.id from (${firsts}) f join recipients r on lower(r.email) = lower(f.email)
    on conflict do nothing
  `);
  const inserted = merged.rows.filter((r) => r.inserted).length;
  return {
    inserted,
    updated: merged.rows.length - inserted,
    addedToList: members.affected,
    duplicates: dupes.rows.map((d) => ({ line: d.line, firstLine: d.first_line })),
  };
}
