import type { Command } from 'commander';
import { migrateToLatest } from '../db/migrate.js';
import { withContext } from './context.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply database migrations (other commands do this automatically)')
    .action(() =>
      withContext(async ({ db }) => {
        // withContext has already migrated; report what the schema is at.
        const applied = await migrateToLatest(db);
        console.log(applied.length === 0 ? 'schema is up to date' : `applied ${applied.length} migration(s)`);
      }),
    );
}
