import fs from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { Database } from './schema.js';

const INT8_OID = 20;
// Ids and counts stay far below 2^53; numbers are simpler everywhere than strings or bigints.
const parseInt8 = (value: string): number => Number(value);
pg.types.setTypeParser(INT8_OID, parseInt8);
const DATE_OID = 1082;
// A calendar date (a sending domain's cap day) has no time zone; a JS Date would invent one.
const keepDate = (value: string): string => value;
pg.types.setTypeParser(DATE_OID, keepDate);

export type DbKind = 'postgres' | 'pglite';

/** The one handle to the database: Kysely for queries, the raw driver for COPY and LISTEN. */
export interface Db {
  kind: DbKind;
  kysely: Kysely<Database>;
  /** Present on real Postgres. */
  pool?: pg.Pool;
  /** Present on embedded PGlite. */
  pglite?: PGlite;
  close(): Promise<void>;
}

export interface ConnectOptions {
  databaseUrl?: string;
  /** PGlite data folder; undefined means in memory. */
  dataDir?: string;
  poolSize?: number;
  onPoolError?: (err: Error) => void;
}

export async function connect(options: ConnectOptions): Promise<Db> {
  if (options.databaseUrl) return connectPostgres(options.databaseUrl, options);
  return connectPglite(options.dataDir);
}

function connectPostgres(databaseUrl: string, options: ConnectOptions): Db {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client losing its server (restart, failover) must not crash the process:
  // the next query gets an error that callers retry.
  pool.on('error', (err) => options.onPoolError?.(err));
  // A client checked out when its server goes away emits 'error' too; with no listener
  // that would crash the process. The query it was running rejects on its own.
  pool.on('connect', (client) => client.on('error', (err) => options.onPoolError?.(err)));
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    kysely,
    pool,
    close: () => kysely.destroy(),
  };
}

async function connectPglite(dataDir: string | undefined): Promise<Db> {
  if (dataDir) fs.mkdirSync(dataDir, { recursive: true });
  const pglite = await PGlite.create({ ...(dataDir ? { dataDir } : {}), parsers: { [INT8_OID]: parseInt8, [DATE_OID]: keepDate } });
  const kysely = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    kind: 'pglite',
    kysely,
    pglite,
    close: async () => {
      await kysely.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}
