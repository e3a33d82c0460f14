import type { Config } from '../../config/config.js';
import type { Campaign } from '../../db/schema.js';
import type { CampaignRenderSpec } from './types.js';

/** Everything the render workers need to know about a campaign, built once per run. */
export function renderSpecFor(campaign: Campaign, config: Config, templatesDir: string, runKey: string): CampaignRenderSpec {
  const domain = campaign.sending_domain ?? config.mailgun.domain ?? 'localhost';
  return {
    key: `${campaign.id}:${runKey}`,
    campaignId: campaign.id,
    campaignName: campaign.name,
    templatesDir,
    template: campaign.template,
    subject: campaign.subject,
    from: campaign.from_address,
    replyTo: campaign.reply_to,
    tags: campaign.tags,
    unsubscribe: config.secret ? { baseUrl: config.publicUrl.replace(/\/$/, ''), mailto: `unsubscribe@${domain}`, secret: config.secret } : null,
  };
}
