import type { Config } from '../../config/config.js';
import type { Campaign } from '../../db/schema.js';
import type { ContentSnapshot } from '../../domain/content.js';
import type { CampaignRenderSpec } from './types.js';

/**
 * Everything the render workers need to know about a campaign, built once per run, around
 * the content it renders from. Callers get the content from campaignRenderSpec
 * (campaignSpec.ts), which knows whether it is the stored snapshot or the files.
 */
export function renderSpecFor(campaign: Campaign, config: Config, content: ContentSnapshot | { error: string }, runKey: string): CampaignRenderSpec {
  const domain = campaign.sending_domain ?? config.mailgun.domain ?? 'localhost';
  const ok = 'sources' in content;
  return {
    key: `${campaign.id}:${ok ? content.hash : 'none'}:${runKey}`,
    campaignId: campaign.id,
    campaignName: campaign.name,
    content: ok ? content.sources : null,
    ...(ok ? {} : { contentError: content.error }),
    from: campaign.from_address,
    replyTo: campaign.reply_to,
    tags: campaign.tags,
    unsubscribe: config.secret ? { baseUrl: config.publicUrl.replace(/\/$/, ''), mailto: `unsubscribe@${domain}`, secret: config.secret } : null,
  };
}
