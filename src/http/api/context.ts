import type { Config } from '../../config/config.js';
import type { Db } from '../../db/connect.js';
import type { Logger } from '../../config/log.js';
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
  /** The watched reads (a campaign, the list), cached and streamed; told about every write. */
  reads: CampaignReads;
}
