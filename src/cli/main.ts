#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { registerCampaignCommands } from './campaign.js';
import { withContext } from './context.js';
import { registerDemoCommand } from './demo.js';
import { registerDoctorCommand } from './doctor.js';
import { registerEventCommands } from './events.js';
import { registerDomainCommands } from './domains.js';
import { registerListCommands } from './lists.js';
import { registerMockMailgunCommand } from './mockMailgun.js';
import { registerRecipientCommands } from './recipients.js';
import { registerSegmentCommands } from './segments.js';
import { registerServeCommand } from './serve.js';
import { registerSuppressionCommands } from './suppressions.js';
import { registerWorkerCommand } from './worker.js';
import { migrateToLatest } from '../db/migrate.js';

// A reader that goes away early (`herald … | head`) ends the output, quietly, as Unix tools do;
// without a listener the EPIPE would crash the process with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

const program = new Command()
  .name('herald')
  .description('Bulk email campaign sender: one delivery record per recipient, never sent twice.')
  .option('--debug', 'print stack traces on errors')
  .showHelpAfterError()
  .exitOverride();

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

registerListCommands(program);
registerRecipientCommands(program);
registerSegmentCommands(program);
registerSuppressionCommands(program);
registerCampaignCommands(program);
registerDomainCommands(program);
registerWorkerCommand(program);
registerDemoCommand(program);
registerDoctorCommand(program);
registerEventCommands(program);
registerMockMailgunCommand(program);
registerServeCommand(program);

async function main(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander prints the errors of its own parsing; one thrown from inside an action (an
      // argument checked there) reaches here unprinted.
      if (err instanceof InvalidArgumentError) console.error(`herald: ${err.message}`);
      process.exitCode = err.exitCode;
      return;
    }
    const debug = program.opts<{ debug?: boolean }>().debug || argv.includes('--debug');
    const message = err instanceof Error ? err.message : String(err);
    console.error(`herald: ${message}`);
    if (debug && err instanceof Error && err.stack) console.error(err.stack);
    process.exitCode = 1;
  }
}

await main(process.argv);
