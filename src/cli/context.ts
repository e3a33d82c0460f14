import { loadConfig, type Config } from '../config/config.js';
import { connect, type Db } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';
import { createLogger, type Logger } from '../config/log.js';

/** What every command gets: validated config, a logger, and a migrated database. */
export interface CommandContext {
  config: Config;
  log: Logger;
  db: Db;
}

/**
 * Opens the database for one command, brings the schema up to date, runs the command,
 * and always closes the database (PGlite must be closed to flush its files).
 */
export async function withContext<T>(fn: (ctx: CommandContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const db = await connect({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    onPoolError: (err) => log.warn({ err: err.message }, 'database connection lost; will reconnect'),
  });
  try {
    await migrateToLatest(db);
    return await fn({ config, log, db });
  } finally {
    // Closing PGlite ends its runtime with status 0 (it sets process.exitCode): keep the exit
    // status the command set, such as doctor's 1 on a difference.
    const exitCode = process.exitCode;
    await db.close();
    process.exitCode = exitCode;
  }
}
