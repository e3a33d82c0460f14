import type { FastifyReply } from 'fastify';
import { getCampaignOrThrow } from '../../campaigns/control.js';
import { previewCampaign, previewEml } from '../../campaigns/preview.js';
import type { ApiContext } from './context.js';

/**
 * A preview's HTML is the campaign's, with recipient data in it: served so that a browser
 * opening it runs nothing. The CSP's `sandbox` gives the page an origin of its own with
 * scripts, forms and plugins off, and `default-src 'none'` leaves only images, styles and
 * fonts, which email HTML uses.
 */
export const PREVIEW_CSP =
  "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline' *; font-src * data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/** GET /api/v1/campaigns/:id/preview in its four formats. */
export async function previewAnswer(
  { db, config }: ApiContext,
  reply: FastifyReply,
  id: number,
  query: { as?: string | undefined; format: 'json' | 'html' | 'text' | 'eml' },
) {
  const campaign = await getCampaignOrThrow(db, id);
  const { preview, rendered } = await previewCampaign(db, config, campaign, query.as);
  switch (query.format) {
    case 'json':
      return preview;
    case 'html':
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', PREVIEW_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('content-disposition', `inline; filename="campaign-${id}-preview.html"`)
        .send(preview.html);
    case 'text':
      return reply
        .type('text/plain; charset=utf-8')
        .header('x-content-type-options', 'nosniff')
        .header('content-disposition', `inline; filename="campaign-${id}-preview.txt"`)
        .send(preview.text);
    case 'eml':
      return reply
        .type('message/rfc822')
        .header('x-content-type-options', 'nosniff')
        .header('content-disposition', `attachment; filename="campaign-${id}-preview.eml"`)
        .send(await previewEml(rendered, campaign, config));
  }
}
