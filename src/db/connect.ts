import fs from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { UserError } from '../domain/errors.js';
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

/** Why the PGlite data folder cannot be used, as one line naming the variable that sets it. */
function dataDirError(dataDir: string, reason: string): UserError {
  return new UserError(`cannot use the PGlite data folder HERALD_DATA_DIR=${dataDir}: ${reason}`);
}

/**
 * Creates the data folder and checks it can be written, so a bad HERALD_DATA_DIR fails here
 * with a message instead of inside PGlite (whose file-system errors are not Error objects and
 * print as "[object Object]"). One level at a time: Node's recursive mkdir never returns on a
 * path whose parent exists but refuses new entries with ENOENT (e.g. under /proc).
 */
function prepareDataDir(dataDir: string): void {
  const missing: string[] = [];
  for (let at = path.resolve(dataDir); !fs.existsSync(at); at = path.dirname(at)) {
    missing.unshift(at);
    if (path.dirname(at) === at) break;
  }
  const probe = path.join(dataDir, `.herald-write-check-${process.pid}`);
  try {
    for (const dir of missing) fs.mkdirSync(dir);
    if (!fs.statSync(dataDir).isDirectory()) throw new Error('not a folder');
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (err) {
    throw dataDirError(dataDir, (err as Error).message);
  }
}

function describeThrown(err: unknown): string {
  if (err instanceof Error) return err.message;
  // PGlite's file system throws plain objects such as { name: 'ErrnoError', errno: 20 }.
  if (err && typeof err === 'object') {
    const { name, errno } = err as { name?: unknown; errno?: unknown };
    if (name !== undefined || errno !== undefined) return `${String(name ?? 'error')}${errno !== undefined ? ` (errno ${String(errno)})` : ''}`;
  }
  return String(err);
}

async function connectPglite(dataDir: string | undefined): Promise<Db> {
  if (dataDir) prepareDataDir(dataDir);
  // Loaded on first use: a process on real Postgres never needs the embedded engine.
  const [{ PGlite }, { PGliteDialect }] = await Promise.all([import('@electric-sql/pglite'), import('kysely-pglite-dialect')]);
  let pglite: PGlite;
  try {
    pglite = await PGlite.create({ ...(dataDir ? { dataDir } : {}), parsers: { [INT8_OID]: parseInt8, [DATE_OID]: keepDate } });
  } catch (err) {
    if (dataDir) throw dataDirError(dataDir, describeThrown(err));
    throw err;
  }
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
