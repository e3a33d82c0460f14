import type { Command } from 'commander';
import { onShutdownSignal } from '../signals.js';
import { addSendingOptions } from './campaign.js';
import { withContext } from './context.js';
import { openSendingStack, type SendingOptions } from './sending.js';

export function registerWorkerCommand(program: Command): void {
  addSendingOptions(
    program
      .command('worker')
      .description('send every running campaign until none is left (--watch: keep waiting for more)')
      .option('--watch', 'keep running and pick up campaigns as they start'),
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
