import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect, type Db } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';

export interface TestDb extends Db {
  /** Connection string of this test's own database (real Postgres only). */
  url?: string;
  /** Drops everything this test created. */
  dispose(): Promise<void>;
}

/** Which database the suite runs on: real Postgres when DATABASE_URL is set, else PGlite. */
export const onRealPostgres = Boolean(process.env.DATABASE_URL);
export const dbLabel = onRealPostgres ? 'postgres' : 'pglite';

/**
 * A fresh, migrated database for one test: a new database on the Postgres server named by
 * DATABASE_URL, or an in-memory PGlite. Runs never see each other's rows.
 */
export async function openTestDb(): Promise<TestDb> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const db = await connect({});
    await migrateToLatest(db);
    return { ...db, dispose: () => db.close() };
  }
  const name = `herald_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = await connect({ databaseUrl: url.toString(), poolSize: 20 });
  await migrateToLatest(db);
  return {
    ...db,
    url: url.toString(),
    dispose: async () => {
      await db.close();
      await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
    },
  };
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
