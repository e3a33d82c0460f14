import type { Db } from '../../db/connect.js';
import type { Logger } from '../../config/log.js';
import type { Metrics } from '../../sender/metrics.js';
import { listCampaigns } from '../../sql/campaignList.js';
import { ReadCache } from '../readCache.js';
import { Watchers } from '../watchers.js';
import { campaignView } from './campaigns.js';

/** Keys kept at most: far more campaigns than anyone watches at once. */
const MAX_ENTRIES = 1000;
/** How often an event stream's shared poller re-reads a campaign, and the campaign list. */
export const CAMPAIGN_POLL_MS = 1000;
export const LIST_POLL_MS = 2000;
const HEARTBEAT_MS = 15_000;
/** The campaign list as the API answers it: the newest 100. */
const LIST_LIMIT = 100;

const campaignKey = (id: number) => `campaign:${id}`;
const LIST_KEY = 'campaigns';

/**
 * The reads that dashboards and API clients watch (a campaign, the campaign list), shared:
 * through the short-lived cache for requests, and through one poller per key for the event
 * streams, which read through the same cache. `changed` is called after every write through
 * the API, so the answer after it (and the streams) show the write at once.
 */
export class CampaignReads {
  readonly cache: ReadCache;
  readonly watchers: Watchers;

  constructor(
    private readonly db: Db,
    ttlMs: number,
    metrics: Metrics,
    log: Logger,
  ) {
    this.cache = new ReadCache({ ttlMs, maxEntries: MAX_ENTRIES }, (key, outcome) =>
      metrics.recordApiRead(key === LIST_KEY ? 'campaigns' : 'campaign', outcome),
    );
    this.watchers = new Watchers({
      heartbeatMs: HEARTBEAT_MS,
      onError: (key, err) => log.warn({ key, err: (err as Error).message }, 'event stream read failed; trying again'),
    });
    this.cache.onInvalidate((key) => this.watchers.poke(key));
  }

  /** A campaign as GET /api/v1/campaigns/{id} answers it (NotFoundError when there is none). */
  view(id: number): ReturnType<typeof campaignView> {
    return this.cache.get(campaignKey(id), () => campaignView({ db: this.db }, id));
  }

  /** GET /api/v1/campaigns's answer. */
  list(): Promise<{ items: Awaited<ReturnType<typeof listCampaigns>> }> {
    return this.cache.get(LIST_KEY, async () => ({ items: await listCampaigns(this.db.kysely, LIST_LIMIT) }));
  }

  /** After a write to campaign `id` (or a new campaign, with no id): forget what was read. */
  changed(id?: number): void {
    if (id !== undefined) this.cache.invalidate(campaignKey(id));
    this.cache.invalidate(LIST_KEY);
  }

  watchCampaign(id: number, send: (chunk: string) => void): () => void {
    return this.watchers.subscribe(campaignKey(id), CAMPAIGN_POLL_MS, () => this.view(id), { send });
  }

  watchList(send: (chunk: string) => void): () => void {
    return this.watchers.subscribe(LIST_KEY, LIST_POLL_MS, () => this.list(), { send });
  }

  close(): void {
    this.watchers.close();
  }
}
