import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { from as copyFrom } from 'pg-copy-streams';
import type pg from 'pg';
import type { Database } from '../db/schema.js';

export interface ImportRow {
  line: number;
  email: string;
  name: string | null;
  attributes: Record<string, string>;
}

/** Rows whose address appeared earlier in the same file: line → first line. */
export type Duplicates = Array<{ line: number; firstLine: number }>;

/**
 * Runs a statement on one session: a dedicated pg client on real Postgres (so an import can
 * use two at once), the single PGlite connection otherwise.
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
 * Session-scoped tables of the staging session: the current batch, and every address seen
 * so far in the file (so duplicates are found in the database, not in a growing in-memory
 * set).
 */
export async function createImportTables(run: SessionRunner): Promise<void> {
  await run(
    sql`create temporary table if not exists import_batch (line int not null, email text not null, name text, attributes jsonb not null, is_first boolean not null default false)`,
  );
  await run(sql`create temporary table if not exists import_seen (email_lower text primary key, line int not null)`);
  await run(sql`truncate import_batch, import_seen`);
}

export async function dropImportTables(run: SessionRunner): Promise<void> {
  await run(sql`drop table if exists import_batch, import_seen`);
}

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

/** Loads a batch through unnest (PGlite): one statement, four parameters whatever its size. */
export async function insertBatch(run: SessionRunner, rows: readonly ImportRow[]): Promise<void> {
  await run(sql`truncate import_batch`);
  await run(sql`
    insert into import_batch (line, email, name, attributes)
    select * from unnest(${rows.map((r) => r.line)}::int[], ${rows.map((r) => r.email)}::text[],
                         ${rows.map((r) => r.name)}::text[], ${rows.map((r) => JSON.stringify(r.attributes))}::jsonb[])
  `);
}

/** The rows of a batch that are the first occurrence of their address in the file. */
export interface FirstOccurrences {
  emails: string[];
  names: Array<string | null>;
  attributes: string[];
}

/**
 * Marks the staged batch against every address seen so far in the file (batches come in
 * file order, so "first" means first in the file); returns the first occurrences to merge
 * and the duplicates to reject.
 */
export async function markFirstOccurrences(run: SessionRunner): Promise<{ firsts: FirstOccurrences; duplicates: Duplicates }> {
  await run(sql`
    with fresh as (
      insert into import_seen (email_lower, line)
      select lower(email), line from import_batch order by line
      on conflict do nothing
      returning line
    )
    update import_batch set is_first = true where line in (select line from fresh)
  `);
  // A scalar subquery: one index lookup per duplicate. (A join lets the planner, which has no
  // statistics for temporary tables, hash the whole growing import_seen table every batch.)
  const dupes = await run(sql<{ line: number; first_line: number }>`
    select b.line, (select s.line from import_seen s where s.email_lower = lower(b.email)) as first_line
    from import_batch b where not b.is_first order by b.line
  `);
  const rows = await run(sql<{ email: string; name: string | null; attributes: string }>`
    select email, name, attributes::text as attributes from import_batch where is_first order by line
  `);
  return {
    firsts: { emails: rows.rows.map((r) => r.email), names: rows.rows.map((r) => r.name), attributes: rows.rows.map((r) => r.attributes) },
    duplicates: dupes.rows.map((d) => ({ line: d.line, firstLine: d.first_line })),
  };
}

export interface UpsertOutcome {
  ids: number[];
  inserted: number;
  updated: number;
  unchanged: number;
}

/**
 * Merges first occurrences into recipients: new addresses inserted, changed names or
 * attributes updated, unchanged rows not touched. Needs no staging table, so it can run on
 * another session while the next batch is staged.
 */
export async function upsertRecipients(run: SessionRunner, firsts: FirstOccurrences): Promise<UpsertOutcome> {
  const total = firsts.emails.length;
  if (total === 0) return { ids: [], inserted: 0, updated: 0, unchanged: 0 };
  const merged = await run(sql<{ id: number; inserted: boolean }>`
    insert into recipients (email, name, attributes)
    select * from unnest(${firsts.emails}::text[], ${firsts.names}::text[], ${firsts.attributes}::jsonb[])
    on conflict ((lower(email))) do update
      set email = excluded.email, name = excluded.name, attributes = excluded.attributes, updated_at = now()
      where recipients.email is distinct from excluded.email
         or recipients.name is distinct from excluded.name
         or recipients.attributes is distinct from excluded.attributes
    returning id, (xmax = 0) as inserted
  `);
  // The upsert returns the ids of new and changed rows; only unchanged ones need a lookup.
  const ids =
    merged.rows.length === total
      ? merged.rows.map((r) => r.id)
      : (await run(sql<{ id: number }>`select r.id from unnest(${firsts.emails}::text[]) as e join recipients r on lower(r.email) = lower(e)`)).rows.map(
          (r) => r.id,
        );
  const inserted = merged.rows.filter((r) => r.inserted).length;
  return { ids, inserted, updated: merged.rows.length - inserted, unchanged: total - merged.rows.length };
}

/** Adds recipients to a list; returns how many were not members yet. */
export async function addMembers(run: SessionRunner, ids: readonly number[], listId: number): Promise<number> {
  if (ids.length === 0) return 0;
  const members = await run(sql`
    insert into list_members (list_id, recipient_id)
    select ${listId}, id from unnest(${[...ids]}::bigint[]) as id
    on conflict do nothing
  `);
  return members.affected;
}
