import type { Command } from 'commander';
import { Metrics } from '../sender/metrics.js';
import { startServer } from '../http/app.js';
import { unsubscribeSecret } from '../sql/unsubscribeSecret.js';
import { closeOnSignal, onShutdownSignal } from '../app/signals.js';
import { intArg } from './args.js';
import { addSendingOptions } from './campaign.js';
import { withContext } from './context.js';
import { openSendingStack, type SendingOptions } from '../app/sendingStack.js';
import { startEventSync } from '../app/eventSync.js';

export function registerServeCommand(program: Command): void {
  addSendingOptions(
    program
      .command('serve')
      .description('HTTP: JSON API (/api/v1, /openapi.json), dashboard (/), /metrics, one-click unsubscribe (/u/TOKEN), Mailgun webhooks')
      .option('--port <port>', 'port', intArg(0), 8080)
      .option('--host <host>', 'address to listen on (anything but loopback needs HERALD_API_TOKEN)', '127.0.0.1')
      .option('--worker', 'also send campaigns from this process, like `herald worker --watch` (the way to run on PGlite)'),
  ).action((o: SendingOptions & { port: number; host: string; worker?: boolean; shutdownTimeout: number }) =>
    withContext(async ({ db, config, log }) => {
      if (!config.webhookSigningKey) log.warn('MAILGUN_WEBHOOK_SIGNING_KEY is not set: webhooks will be refused');
      if (!config.apiToken) log.warn('HERALD_API_TOKEN is not set: the API is open to anyone who can reach this loopback address');
      const metrics = new Metrics().withProcessMetrics();
      const server = await startServer(db, log, {
        host: o.host,
        port: o.port,
        unsubscribeSecret: await unsubscribeSecret(db.kysely, config.secret),
        webhookSigningKey: config.webhookSigningKey,
        apiToken: config.apiToken,
        config,
        metrics,
      });
      console.log(`herald serve listening on ${server.url}${o.worker ? ' (sending campaigns too)' : ''}`);
      // Webhooks that never arrived are read from the provider's log (docs/operations.md, "Outcomes").
      const stopSync = startEventSync(config, db, log, metrics);
      if (!o.worker) {
        await closeOnSignal(async () => {
          await stopSync?.();
          await server.close();
        });
        return;
      }
      const stack = await openSendingStack(config, db, log, { ...o, metrics });
      const detach = onShutdownSignal(log, o.shutdownTimeout, () => stack.close());
      try {
        await stack.worker.runCampaigns(() => true, true);
      } finally {
        await stopSync?.();
        await stack.close();
        await server.close();
        detach();
      }
    }),
  );
}
