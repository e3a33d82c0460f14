import type { Config } from '../../config/config.js';
import { templatesDir } from '../../config/paths.js';
import type { Db } from '../../db/connect.js';
import type { Campaign } from '../../db/schema.js';
import type { ContentSnapshot } from '../../domain/content.js';
import { unsubscribeSecret } from '../../sql/unsubscribeSecret.js';
import { campaignContent, campaignRenderSpec } from './campaignSpec.js';
import { checkContent } from './compile.js';
import { RenderPool } from './pool.js';
import type { CampaignRenderSpec } from './types.js';

export interface Rendering {
  renderer: RenderPool;
  /** The campaign's render spec with its content: the stored snapshot once started, else the files. */
  specFor: (campaign: Campaign) => Promise<CampaignRenderSpec>;
  /** The content a campaign starts with (stored in the transaction that starts it). */
  contentFor: (campaign: Campaign) => Promise<ContentSnapshot>;
}

/** The render pool and how to describe a campaign to it, as every sending path needs them. */
export async function openRendering(config: Config, db: Db, options: { renderThreads?: number } = {}): Promise<Rendering> {
  const renderer = new RenderPool(options.renderThreads ? { threads: options.renderThreads } : {});
  const runKey = String(Date.now());
  // Every message carries one-click unsubscribe headers, signed with HERALD_SECRET or a
  // secret generated once and kept in the database.
  const signing = { ...config, secret: await unsubscribeSecret(db.kysely, config.secret) };
  const dir = templatesDir();
  return {
    renderer,
    specFor: (campaign) => campaignRenderSpec(db.kysely, campaign, signing, dir, runKey),
    // Checked whole, as a start by hand checks it (checkTemplatesOrThrow): a scheduled
    // campaign whose files broke after it was scheduled stays scheduled, with the error.
    contentFor: async (campaign) => {
      const made = await campaignContent(db.kysely, campaign, dir);
      checkContent(made.sources);
      return made;
    },
  };
}
