import type { Kysely, RawBuilder } from 'kysely';
import type pg from 'pg';
import type { Database } from '../../db/schema.js';

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
