import type { Kysely } from 'kysely';
import type { Config } from '../../config/config.js';
import type { Campaign, Database } from '../../db/schema.js';
import type { ContentSnapshot } from '../../domain/content.js';
import { findCampaignContent } from '../../sql/findCampaignContent.js';
import { storeCampaignContent } from '../../sql/storeCampaignContent.js';
import { TemplateError, templateUserError } from './compile.js';
import { buildContent } from './content.js';
import { renderSpecFor } from './spec.js';
import type { CampaignRenderSpec } from './types.js';

/**
 * What a campaign renders from (docs/architecture.md, "A campaign's content"): its stored
 * snapshot once it has one; a campaign that started before snapshots existed (started_at set,
 * no row) gets one now from the files, stored once, so every worker and every later resume
 * renders the same; a draft or a scheduled campaign gets a fresh one from the files.
 */
export async function campaignContent(db: Kysely<Database>, campaign: Campaign, templatesDir: string): Promise<ContentSnapshot> {
  const stored = await findCampaignContent(db, campaign.id);
  if (stored) return { sources: stored.sources, hash: stored.hash };
  const made = await buildContent(templatesDir, campaign.template, campaign.subject);
  if (campaign.started_at === null) return made;
  if (await storeCampaignContent(db, campaign.id, made)) return made;
  // Another worker stored its own a moment before: every worker renders that one.
  const winner = await findCampaignContent(db, campaign.id);
  return winner ? { sources: winner.sources, hash: winner.hash } : made;
}

/**
 * THE way to get a campaign's render spec with its content: the stored snapshot if it has
 * started, else the files (campaignContent). Sending, resume, retry, scale-out, test sends,
 * dry runs and previews all go through here, so they render the same content.
 *
 * A started campaign whose snapshot cannot be made from the files (it predates snapshots and
 * its template broke since) gets a spec that fails every recipient with the template error,
 * as a broken template did before: a worker must not stop on it. A draft's broken files are a
 * UserError naming the file and line (and the field, for the API).
 */
export async function campaignRenderSpec(
  db: Kysely<Database>,
  campaign: Campaign,
  config: Config,
  templatesDir: string,
  runKey: string,
): Promise<CampaignRenderSpec> {
  try {
    return renderSpecFor(campaign, config, await campaignContent(db, campaign, templatesDir), runKey);
  } catch (err) {
    if (err instanceof TemplateError && campaign.started_at !== null) return renderSpecFor(campaign, config, { error: err.message }, runKey);
    // A draft's files that do not compile are the user's to fix, whoever asked (dry run, preview).
    throw templateUserError(err);
  }
}
