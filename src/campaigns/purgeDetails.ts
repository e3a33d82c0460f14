import type { Db } from '../db/connect.js';
import { ConflictError } from '../domain/errors.js';
import { markDetailsPurged } from '../sql/markDetailsPurged.js';
import { markSentRecipients } from '../sql/markSentRecipients.js';
import { purgeAudienceBatch } from '../sql/purgeAudienceBatch.js';
import { purgeDeliveriesBatch } from '../sql/purgeDeliveriesBatch.js';
import { getCampaignOrThrow } from './control.js';

/** Rows deleted per transaction: short enough not to hold up sending beside it. */
const PURGE_BATCH = 10_000;

export interface PurgeOutcome {
  campaignId: number;
  deleted: number;
  purgedAt: string;
}

/**
 * Drops a finished or cancelled campaign's per-recipient rows (deliveries, their events and
 * earlier attempts, its fixed audience) while its counts stay: `status`, the campaign list and the dashboard show
 * the same numbers afterwards; the report and retry-failed refuse it. Nothing is purged unless
 * an operator asks (docs/operations.md, "Retention"). Safe to run again after an interruption.
 */
export async function purgeCampaignDetails(db: Db, id: number, onProgress: (deleted: number) => void = () => undefined): Promise<PurgeOutcome> {
  const campaign = await getCampaignOrThrow(db, id);
  const purgedAt = await markDetailsPurged(db.kysely, id);
  if (!purgedAt) {
    throw new ConflictError(`campaign ${id} is ${campaign.status}: only a finished or cancelled campaign's details can be purged`);
  }
  // Its sent recipients are marked before its deliveries go: "never sent" stays false for them
  // (docs/segments.md), whether or not the background marking had got to this campaign.
  while ((await markSentRecipients(db.kysely, { campaignId: id, wait: true })) === 'more');
  let deleted = 0;
  for (;;) {
    const n = await purgeDeliveriesBatch(db.kysely, id, PURGE_BATCH);
    deleted += n;
    if (n > 0) onProgress(deleted);
    if (n < PURGE_BATCH) break;
  }
  // Its fixed audience (docs/audience.md) is only read while it claims: a finished or
  // cancelled campaign never claims again.
  while ((await purgeAudienceBatch(db.kysely, id, PURGE_BATCH)) === PURGE_BATCH);
  return { campaignId: id, deleted, purgedAt: purgedAt.toISOString() };
}

/** Refuses work that needs a campaign's per-recipient rows once they were purged. */
export function assertDetailsKept(campaign: { id: number; details_purged_at: Date | null }, what: string): void {
  if (campaign.details_purged_at) {
    throw new ConflictError(
      `campaign ${campaign.id}'s per-recipient details were purged at ${campaign.details_purged_at.toISOString()}: no ${what}; its counts remain (campaign status ${campaign.id})`,
    );
  }
}
