import type { Config } from '../config/config.js';
import type { Db } from '../db/connect.js';
import type { Campaign } from '../db/schema.js';
import type { ContentSnapshot } from '../domain/content.js';
import { canTransition, type CampaignAction } from '../domain/campaignState.js';
import { ConflictError, NotFoundError } from '../domain/errors.js';
import { templatesDir } from '../config/paths.js';
import { campaignContent } from '../sender/render/campaignSpec.js';
import { findCampaign } from '../sql/findCampaign.js';
import { transitionCampaign } from '../sql/transitionCampaign.js';
import { checkTemplatesOrThrow } from './create.js';

export async function getCampaignOrThrow(db: Db, id: number): Promise<Campaign> {
  const campaign = await findCampaign(db.kysely, id);
  if (!campaign) throw new NotFoundError(`campaign ${id} does not exist`);
  return campaign;
}

/**
 * Applies a lifecycle action (start, pause, resume, cancel). Workers see the change within
 * about a second (NOTIFY, polling as fallback). Starting re-checks the templates; the first
 * start stores the content checked with the campaign, in the transaction that starts it, and
 * a resume re-checks the stored content, not the files (docs/architecture.md, "A campaign's content").
 */
export async function controlCampaign(db: Db, _config: Config, id: number, action: CampaignAction): Promise<Campaign> {
  const campaign = await getCampaignOrThrow(db, id);
  if (action === 'start' && campaign.status === 'running') return campaign;
  if (!canTransition(action, campaign.status)) {
    throw new ConflictError(`cannot ${action} campaign ${id}: it is ${campaign.status}`);
  }
  let content: ContentSnapshot | undefined;
  if (action === 'start' || action === 'resume') {
    content = await checkTemplatesOrThrow(() => campaignContent(db.kysely, campaign, templatesDir()));
  }
  const updated = await transitionCampaign(db.kysely, id, action, content ? { content } : {});
  if (!updated) {
    const now = await getCampaignOrThrow(db, id);
    // Two starts racing from draft: the one that lost the update finds the campaign running,
    // which is what it asked for (the same answer as starting a running campaign above).
    if (action === 'start' && now.status === 'running') return now;
    throw new ConflictError(`cannot ${action} campaign ${id}: it is ${now.status}`);
  }
  return updated;
}

/** Schedules a draft (or re-schedules a scheduled) campaign; a worker with --watch starts it. */
export async function scheduleCampaign(db: Db, _config: Config, id: number, at: Date): Promise<Campaign> {
  const campaign = await getCampaignOrThrow(db, id);
  if (!canTransition('schedule', campaign.status)) throw new ConflictError(`cannot schedule campaign ${id}: it is ${campaign.status}`);
  // Checked now from the files; its content is made again when it starts (promoteDueCampaigns).
  await checkTemplatesOrThrow(() => campaignContent(db.kysely, campaign, templatesDir()));
  const updated = await transitionCampaign(db.kysely, id, 'schedule', { scheduledAt: at });
  if (!updated) throw new ConflictError(`cannot schedule campaign ${id}: it is ${(await getCampaignOrThrow(db, id)).status}`);
  return updated;
}
