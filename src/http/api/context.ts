import type { Config } from '../../config/config.js';
import type { Db } from '../../db/connect.js';
import type { Logger } from '../../config/log.js';
import type { EventIngester } from '../../events/ingester.js';
import type { Metrics } from '../../sender/metrics.js';
import type { CampaignReads } from './reads.js';

/** What the route handlers need. */
export interface ApiContext {
  db: Db;
  config: Config;
  log: Logger;
  metrics: Metrics;
  unsubscribeSecret: string;
  webhookSigningKey: string | undefined;
  tokenRequired: boolean;
  /** Writes provider events (webhooks) in batches. */
  ingester: EventIngester;
  /** The watched reads (a campaign, the list), cached and streamed; told about every write. */
  reads: CampaignReads;
}
