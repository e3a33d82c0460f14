import type { Command } from 'commander';
import { Metrics } from '../sender/metrics.js';
import { startMetricsServer } from '../http/metricsServer.js';
import { isLoopback } from '../http/requestGuard.js';
import { UserError } from '../domain/errors.js';
import { onShutdownSignal } from '../app/signals.js';
import { intArg } from './args.js';
import { addSendingOptions } from './campaign.js';
import { withContext } from './context.js';
import { openSendingStack, type SendingOptions } from '../app/sendingStack.js';
import { startEventSync } from '../app/eventSync.js';

export function registerWorkerCommand(program: Command): void {
  addSendingOptions(
    program
      .command('worker')
      .description('send every running campaign until none is left (--watch: keep waiting for more)')
      .option('--watch', 'keep running and pick up campaigns as they start (and scheduled ones when due)')
      .option('--schedule-grace <ms>', 'a schedule missed by more than this waits for an explicit start', intArg(0), 3_600_000)
      .option('--metrics-port <port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (bearer HERALD_API_TOKEN when set)', intArg(0))
      .option('--metrics-host <host>', 'address for --metrics-port', '127.0.0.1'),
  ).action((o: SendingOptions & { watch?: boolean; shutdownTimeout: number; metricsPort?: number; metricsHost: string }) =>
    withContext(async ({ db, config, log }) => {
      const metrics = new Metrics().withProcessMetrics();
      if (o.metricsPort !== undefined && !config.apiToken && !isLoopback(o.metricsHost)) {
        throw new UserError(`HERALD_API_TOKEN is not set: refusing to serve metrics on ${o.metricsHost}; set it, or use --metrics-host 127.0.0.1`);
      }
      const stack = await openSendingStack(config, db, log, { ...o, metrics });
      log.info({ workerId: stack.worker.id }, 'worker started');
      const detach = onShutdownSignal(log, o.shutdownTimeout, () => stack.close());
      // Served once a signal stops the worker gracefully: a scraper that sees the port open
      // may stop the worker at once.
      const metricsServer = o.metricsPort !== undefined ? await startMetricsServer(metrics, o.metricsHost, o.metricsPort, config.apiToken) : null;
      if (metricsServer) log.info({ url: `${metricsServer.url}/metrics` }, 'serving metrics');
      const stopSync = o.watch ? startEventSync(config, db, log, metrics) : null;
      try {
        await stack.worker.runCampaigns(() => true, Boolean(o.watch));
      } finally {
        await stopSync?.();
        await stack.close();
        await metricsServer?.close();
        detach();
      }
    }),
  );
}
