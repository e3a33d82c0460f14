#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';

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

type Register = (program: Command) => void;

/**
 * Each top-level command and the module that defines it, in the order help lists them. Only
 * the module of the command being run is loaded: between them they import the whole of Herald
 * (the database drivers, the sending stack, the HTTP server), and loading all of it on every
 * invocation was most of a short command's time. Help, and a name that is not here, load all.
 */
const COMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<Register>]> = [
  ['migrate', async () => (await import('./migrate.js')).registerMigrateCommand],
  ['lists', async () => (await import('./lists.js')).registerListCommands],
  ['recipients', async () => (await import('./recipients.js')).registerRecipientCommands],
  ['segments', async () => (await import('./segments.js')).registerSegmentCommands],
  ['suppressions', async () => (await import('./suppressions.js')).registerSuppressionCommands],
  ['campaign', async () => (await import('./campaign.js')).registerCampaignCommands],
  ['domains', async () => (await import('./domains.js')).registerDomainCommands],
  ['worker', async () => (await import('./worker.js')).registerWorkerCommand],
  ['demo', async () => (await import('./demo.js')).registerDemoCommand],
  ['doctor', async () => (await import('./doctor.js')).registerDoctorCommand],
  ['events', async () => (await import('./events.js')).registerEventCommands],
  ['mock-mailgun', async () => (await import('./mockMailgun.js')).registerMockMailgunCommand],
  ['serve', async () => (await import('./serve.js')).registerServeCommand],
];

/** The command named first on the command line (after the global options), if any. */
function commandNamed(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

async function registerCommands(argv: readonly string[]): Promise<void> {
  const named = commandNamed(argv);
  const one = COMMANDS.find(([name]) => name === named);
  const loads = await Promise.all((one ? [one] : COMMANDS).map(([, load]) => load()));
  for (const register of loads) register(program);
}

async function main(argv: string[]): Promise<void> {
  try {
    await registerCommands(argv);
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
