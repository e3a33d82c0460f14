import type { Db } from '../db/connect.js';
import type { CampaignStatus } from '../db/schema.js';
import { UserError } from '../domain/errors.js';
import { transitionCampaign } from '../sql/transitionCampaign.js';
import { DEFAULT_RETRY_REASONS, retryFailed } from '../sql/retryFailed.js';
import { getCampaignOrThrow } from './control.js';
import { assertDetailsKept } from './purgeDetails.js';

export { DEFAULT_RETRY_REASONS };

export interface RetryFailedOutcome {
  campaignId: number;
  requeued: number;
  /** The campaign's status before the retry: 'finished' or 'paused'. */
  before: CampaignStatus;
  /** Its status now: a finished campaign with re-queued deliveries runs again; a paused one stays paused. */
  status: CampaignStatus;
}

/**
 * Re-queues the failed deliveries of a finished or paused campaign whose error code is one of
 * `reasons` (transient failures by default), optionally only those that failed at or after
 * `since` (an ISO 8601 time, named `sinceName` in the error when it is not one). Shared by `herald campaign retry-failed` and the API.
 */
export async function retryFailedDeliveries(
  db: Db,
  id: number,
  options: { reasons?: readonly string[] | undefined; since?: string | undefined; sinceName?: string } = {},
): Promise<RetryFailedOutcome> {
  const campaign = await getCampaignOrThrow(db, id);
  assertDetailsKept(campaign, 'failed deliveries to retry');
  if (campaign.status !== 'finished' && campaign.status !== 'paused') {
    throw new UserError(`retry-failed works on finished or paused campaigns; campaign ${id} is ${campaign.status}`);
  }
  const since = options.since === undefined ? null : new Date(options.since);
  if (since && Number.isNaN(since.getTime())) throw new UserError(`${options.sinceName ?? 'since'} '${options.since}' is not an ISO 8601 time`);
  const requeued = await retryFailed(db.kysely, id, options.reasons ?? DEFAULT_RETRY_REASONS, since);
  if (requeued > 0 && campaign.status === 'finished') await transitionCampaign(db.kysely, id, 'retry');
  return { campaignId: id, requeued, before: campaign.status, status: (await getCampaignOrThrow(db, id)).status };
}

/** The CLI's sentence about what happens next. */
export function retryFailedSummary(o: RetryFailedOutcome): string {
  const next = o.before === 'paused' ? 'still paused (resume it to send them)' : o.requeued > 0 ? 'running again (a worker sends them)' : 'unchanged';
  return `re-queued ${o.requeued} deliveries of campaign ${o.campaignId}; it is ${next}`;
}
