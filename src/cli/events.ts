import type { Command } from 'commander';
import { EventIngester } from '../events/ingester.js';
import { syncEventLog } from '../events/logSync.js';
import { UserError } from '../domain/errors.js';
import { requireMailgun } from '../config/config.js';
import { MailgunClient } from '../provider/mailgun/client.js';
import { campaignIdArg, intArg } from './args.js';
import { withContext } from './context.js';

export function registerEventCommands(program: Command): void {
  const events = program.command('events').description("the provider's events after acceptance (delivered, bounced, opened, clicked, …)");
  events
    .command('sync')
    .description(
      "read the provider's event log and record every event not recorded yet (missed webhooks); serve and worker --watch do it every HERALD_EVENT_SYNC_MS",
    )
    .option('--campaign <id>', 'only events of this campaign (from its first send on)')
    .option('--since <time>', 'read from this ISO 8601 time instead of where the last sync was sure it had everything')
    .option('--days <n>', 'campaigns that sent within this many days (default HERALD_EVENT_SYNC_DAYS, 7)', intArg(1))
    .action((o: { campaign?: string; since?: string; days?: number }) =>
      withContext(async ({ db, config, log }) => {
        const since = o.since === undefined ? undefined : new Date(o.since);
        if (since && Number.isNaN(since.getTime())) throw new UserError(`--since '${o.since}' is not an ISO 8601 time`);
        const provider = new MailgunClient({ ...requireMailgun(config), connections: 2, timeoutMs: 30_000, log });
        const ingester = new EventIngester(db.kysely, log);
        try {
          const s = await syncEventLog(
            { db: db.kysely, provider, ingester, log },
            { days: o.days ?? config.eventSyncDays, campaignId: o.campaign === undefined ? undefined : campaignIdArg(o.campaign), since },
          );
          console.log(
            `read ${s.read} events in ${s.pages} pages from ${s.domains} sending domain(s): ${s.recorded} recorded, ${s.duplicate} already recorded, ${s.unmatched} for unknown deliveries (kept aside), ${s.skipped} unreadable (logged)`,
          );
        } finally {
          await ingester.close();
          await provider.close();
        }
      }),
    );
}
