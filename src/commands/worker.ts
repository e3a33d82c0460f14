import type { Command } from 'commander';
import { onShutdownSignal } from '../signals.js';
import { intArg } from './args.js';
import { addSendingOptions } from './campaign.js';
import { withContext } from './context.js';
import { openSendingStack, type SendingOptions } from './sending.js';

export function registerWorkerCommand(program: Command): void {
  addSendingOptions(
    program
      .command('worker')
      .description('send every running campaign until none is left (--watch: keep waiting for more)')
      .option('--watch', 'keep running and pick up campaigns as they start (and scheduled ones when due)')
      .option('--schedule-grace <ms>', 'a schedule missed by more than this waits for an explicit start', intArg(0), 3_600_000),
  ).action((o: SendingOptions & { watch?: boolean; shutdownTimeout: number }) =>
    withContext(async ({ db, config, log }) => {
      const stack = await openSendingStack(config, db, log, o);
      log.info({ workerId: stack.worker.id }, 'worker started');
      const detach = onShutdownSignal(log, o.shutdownTimeout, () => stack.close());
      try {
        await stack.worker.runCampaigns(() => true, Boolean(o.watch));
      } finally {
        await stack.close();
        detach();
      }
    }),
  );
}
