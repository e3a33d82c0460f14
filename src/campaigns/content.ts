import { templatesDir } from '../config/paths.js';
import type { Db } from '../db/connect.js';
import type { Campaign } from '../db/schema.js';
import type { ContentSources } from '../domain/content.js';
import { ConflictError } from '../domain/errors.js';
import { buildContent } from '../sender/render/content.js';
import { findCampaignContent } from '../sql/findCampaignContent.js';

/**
 * A campaign's content as `campaign show --content` and GET /api/v1/campaigns/{id}/content
 * show it (docs/architecture.md, "A campaign's content"): what it stored at its first start,
 * or, before that, what the files make now (`stored: false`, made again when it starts).
 */
export interface CampaignContentView {
  campaignId: number;
  hash: string;
  /** True once fixed at the first start; false: made from the files now, for a campaign not started yet. */
  stored: boolean;
  madeAt: string | null;
  template: string;
  subject: string;
  html: { file: string; via: ContentSources['html']['via']; compiled: string | null };
  /** The text part's file, or null: derived from each message's rendered HTML. */
  text: string | null;
  /** Every file the campaign renders from, by path under the templates folder. */
  files: Record<string, string>;
}

export async function campaignContentView(db: Db, campaign: Campaign): Promise<CampaignContentView> {
  const stored = await findCampaignContent(db.kysely, campaign.id);
  const content = stored ?? (await draftContent(campaign));
  const s = content.sources;
  return {
    campaignId: campaign.id,
    hash: content.hash,
    stored: Boolean(stored),
    madeAt: stored?.madeAt.toISOString() ?? null,
    template: s.template,
    subject: s.subject,
    html: { file: s.html.file, via: s.html.via, compiled: s.html.compiled },
    text: s.text,
    files: s.files,
  };
}

/**
 * What a campaign not started yet would store now. Files that do not make content (a folder
 * gone, an MJML error) conflict with the draft as saved: 409 in the API, the message in the CLI.
 */
async function draftContent(campaign: Campaign) {
  try {
    return await buildContent(templatesDir(), campaign.template, campaign.subject);
  } catch (err) {
    if ((err as Error).name === 'TemplateError') throw new ConflictError(`template error: ${(err as Error).message}`);
    throw err;
  }
}

/** The text form of `campaign show --content`: each file under a header line, then what was compiled. */
export function formatContent(view: CampaignContentView, root = 'templates'): string {
  const out: string[] = [];
  for (const [file, source] of Object.entries(view.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    out.push(`----- ${root}/${file} -----`, source.replace(/\n$/, ''));
  }
  if (view.html.compiled !== null) {
    out.push(
      `----- ${root}/${view.html.file} compiled (${view.html.via === 'mjml' ? 'MJML' : 'CSS inlined'}), as each message renders it -----`,
      view.html.compiled.replace(/\n$/, ''),
    );
  }
  return out.join('\n');
}
