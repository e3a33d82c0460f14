import type { Config } from '../config/config.js';
import type { Logger } from '../config/log.js';
import type { Db } from '../db/connect.js';
import { EventIngester } from '../events/ingester.js';
import { startLogSync } from '../events/logSync.js';
import { MailgunClient } from '../provider/mailgun/client.js';
import type { Metrics } from '../sender/metrics.js';

/**
 * The loop that fills in missed webhooks from the provider's event log (HERALD_EVENT_SYNC_MS,
 * HERALD_EVENT_SYNC_DAYS), for `herald serve` and `herald worker --watch`. It has a provider
 * client and an ingester of its own: its reads never share connections with sending. Null
 * when it is turned off or Mailgun is not configured.
 */
export function startEventSync(config: Config, db: Db, log: Logger, metrics?: Metrics): (() => Promise<void>) | null {
  const { apiKey, domain, baseUrl } = config.mailgun;
  if (config.eventSyncMs === 0 || !apiKey || !domain) return null;
  const provider = new MailgunClient({ apiKey, domain, baseUrl, connections: 2, timeoutMs: 30_000, log });
  const ingester = new EventIngester(db.kysely, log, undefined, metrics ? (events) => metrics.recordEvents(events) : undefined);
  const stop = startLogSync({ db: db.kysely, provider, ingester, log }, { everyMs: config.eventSyncMs, days: config.eventSyncDays });
  return async () => {
    await stop();
    await ingester.close();
    await provider.close();
  };
}
