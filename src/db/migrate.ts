import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Migrator, sql, type Migration, type MigrationProvider, type MigrationResult } from 'kysely';
import type { Db } from './connect.js';

// Compiled migrations live in dist/migrations, two levels up from dist/src/db.
const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

class CompiledMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await fs.readdir(migrationsDir)).filter((f) => f.endsWith('.js')).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const mod = (await import(pathToFileURL(path.join(migrationsDir, file)).href)) as Migration;
      migrations[file.replace(/\.js$/, '')] = mod;
    }
    return migrations;
  }
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * True when every migration file has been applied: one read of Kysely's migration table and a
 * directory listing, no module imports and no lock. Every command checks the schema first, and
 * the full migrator (lock table, imports of every migration) costs more than a status read.
 */
async function upToDate(db: Db): Promise<boolean> {
  const files = (await fs.readdir(migrationsDir)).filter((f) => f.endsWith('.js')).map((f) => f.replace(/\.js$/, ''));
  try {
    const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(db.kysely);
    const names = new Set(applied.rows.map((r) => r.name));
    return files.every((f) => names.has(f));
  } catch {
    // No migration table yet: a new database.
    return false;
  }
}

/** Brings the schema up to date; safe to call from every command and every process at once. */
export async function migrateToLatest(db: Db): Promise<MigrationResult[]> {
  if (await upToDate(db)) return [];
  const migrator = new Migrator({ db: db.kysely, provider: new CompiledMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const where = failed ? ` in migration ${failed.migrationName}` : '';
    throw new MigrationError(`migration failed${where}: ${(error as Error).message ?? String(error)}`);
  }
  return results ?? [];
}

/** Moves the schema to exactly the named migration (down or up); for tests of a migration. */
export async function migrateTo(db: Db, name: string): Promise<void> {
  const migrator = new Migrator({ db: db.kysely, provider: new CompiledMigrationProvider() });
  const { error } = await migrator.migrateTo(name);
  if (error) throw new MigrationError(`migration to ${name} failed: ${(error as Error).message ?? String(error)}`);
}
