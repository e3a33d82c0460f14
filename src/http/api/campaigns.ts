import { controlCampaign, getCampaignOrThrow } from '../../campaigns/control.js';
import { createCampaign } from '../../campaigns/create.js';
import { campaignStatusReport } from '../../campaigns/status.js';
import { testSend } from '../../campaigns/testSend.js';
import { openMailgunClient, openRendering } from '../../commands/sending.js';
import { requireMailgun } from '../../config.js';
import type { CampaignAction } from '../../domain/campaignState.js';
import { listCampaigns } from '../../sql/campaignList.js';
import { HttpError, json, readJson } from '../http.js';
import type { ApiContext } from './context.js';
import type { Router } from './router.js';
import { createCampaignBody, parseInput, testSendBody } from './schemas.js';

function campaignId(raw: string): number {
  const id = Number(raw);
  // Safe integers only: beyond them ids lose precision, and beyond 2^63 Postgres refuses them.
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(id) || id < 1) throw new HttpError(400, `campaign id must be a positive whole number, got '${raw}'`);
  return id;
}

export function campaignRoutes(router: Router, { db, config }: ApiContext): void {
  router.add('GET', '/api/v1/campaigns', async () => json(200, { items: await listCampaigns(db.kysely, 100) }));

  router.add('POST', '/api/v1/campaigns', async ({ req }) => {
    const body = parseInput(createCampaignBody, await readJson(req), 'body');
    const id = await createCampaign(db, config, body);
    return json(201, await campaignView(id));
  });

  router.add('GET', '/api/v1/campaigns/:id', async ({ params }) => json(200, await campaignView(campaignId(params.id!))));

  for (const action of ['start', 'pause', 'resume', 'cancel'] as const satisfies readonly CampaignAction[]) {
    router.add('POST', `/api/v1/campaigns/:id/${action}`, async ({ params }) => {
      const id = campaignId(params.id!);
      await controlCampaign(db, config, id, action);
      return json(200, await campaignView(id));
    });
  }

  router.add('POST', '/api/v1/campaigns/:id/test-send', async ({ req, params }) => {
    const campaign = await getCampaignOrThrow(db, campaignId(params.id!));
    const body = parseInput(testSendBody, await readJson(req), 'body');
    try {
      requireMailgun(config);
    } catch (err) {
      throw new HttpError(503, (err as Error).message);
    }
    const { renderer, specFor } = await openRendering(config, db, { renderThreads: 1 });
    const client = openMailgunClient(config);
    try {
      const { recipient, outcome } = await testSend(db, campaign, specFor(campaign), renderer, client, body.to, body.as);
      if (outcome.kind !== 'accepted') throw new HttpError(502, `the provider refused the test message: ${outcome.code} ${outcome.message}`);
      return json(200, { to: body.to, renderedAs: recipient.email, providerId: outcome.providerId });
    } finally {
      await renderer.close();
      await client.close();
    }
  });

  async function campaignView(id: number) {
    const campaign = await getCampaignOrThrow(db, id);
    const report = await campaignStatusReport(db, campaign);
    return {
      ...report,
      template: campaign.template,
      subject: campaign.subject,
      from: campaign.from_address,
      replyTo: campaign.reply_to,
      tags: campaign.tags,
      ratePerSecond: campaign.rate_per_second,
      maxConcurrency: campaign.max_concurrency,
      priority: campaign.priority,
      unknownPolicy: campaign.unknown_policy,
      scheduledAt: campaign.scheduled_at?.toISOString() ?? null,
      createdAt: campaign.created_at.toISOString(),
    };
  }
}
