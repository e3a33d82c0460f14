import type { Command } from 'commander';
import { startServer } from '../server/app.js';
import { unsubscribeSecret } from '../sql/settings.js';
import { closeOnSignal } from '../signals.js';
import { intArg } from './args.js';
import { withContext } from './context.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('HTTP endpoints: one-click unsubscribe (/u/TOKEN) and Mailgun webhooks (/webhooks/mailgun)')
    .option('--port <port>', 'port', intArg(0), 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action((o: { port: number; host: string }) =>
      withContext(async ({ db, config, log }) => {
        if (!config.webhookSigningKey) log.warn('MAILGUN_WEBHOOK_SIGNING_KEY is not set: webhooks will be refused');
        const server = await startServer(db.kysely, log, {
          host: o.host,
          port: o.port,
          unsubscribeSecret: await unsubscribeSecret(db.kysely, config.secret),
          webhookSigningKey: config.webhookSigningKey,
        });
        console.log(`herald serve listening on ${server.url}`);
        await closeOnSignal(() => server.close());
      }),
    );
}
