import { getCampaignOrThrow } from '../../campaigns/control.js';
import { checkSourcesOrThrow } from '../../campaigns/create.js';
import { dryRun, type RenderFailureLine } from '../../campaigns/dryRun.js';
import { campaignStatusReport } from '../../campaigns/status.js';
import { sendTestMessage } from '../../campaigns/testSend.js';
import { openRendering } from '../../sender/render/openRendering.js';
import { dryRunChecks } from '../../campaigns/preview.js';
import { requireMailgun } from '../../config/config.js';
import { HttpError } from '../errors.js';
import { campaignContentView } from '../../campaigns/content.js';
import { campaignContentHash } from '../../sql/campaignContentHash.js';
import type { ApiContext } from './context.js';

/** Render failures listed in a dry run's answer; the rest are counted only. */
const DRY_RUN_FAILURES_SHOWN = 1000;

/** A campaign as the API shows it: the status report plus its settings. */
export async function campaignView({ db }: Pick<ApiContext, 'db'>, id: number) {
  const campaign = await getCampaignOrThrow(db, id);
  const report = await campaignStatusReport(db, campaign);
  return {
    ...report,
    template: campaign.template,
    // The content fixed at its first start (GET /api/v1/campaigns/{id}/content); null before.
    contentHash: await campaignContentHash(db.kysely, id),
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

export async function sendTest({ db, config }: ApiContext, id: number, body: { to: string; as?: string | undefined }) {
  const campaign = await getCampaignOrThrow(db, id);
  try {
    requireMailgun(config);
  } catch (err) {
    throw new HttpError(503, (err as Error).message);
  }
  const { recipient, outcome } = await sendTestMessage(db, config, campaign, body.to, body.as);
  if (outcome.kind !== 'accepted') throw new HttpError(502, `the provider refused the test message: ${outcome.code} ${outcome.message}`);
  return { to: body.to, renderedAs: recipient.email, providerId: outcome.providerId };
}

/** `herald campaign start --dry-run` for the API: renders every recipient, sends and records nothing. */
export async function dryRunCampaign({ db, config }: ApiContext, id: number) {
  const campaign = await getCampaignOrThrow(db, id);
  // Render threads as the CLI's dry run uses them (cores - 1).
  const { renderer, specFor } = await openRendering(config, db, {});
  const failures: RenderFailureLine[] = [];
  try {
    // The content it would send: the stored snapshot once started, else the files, checked whole.
    const spec = await specFor(campaign);
    if (spec.content) checkSourcesOrThrow(spec.content);
    const report = await dryRun(db, campaign, spec, renderer, (f) => {
      if (failures.length < DRY_RUN_FAILURES_SHOWN) failures.push(f);
    });
    const { checkedAs, checks } = await dryRunChecks(db, campaign, spec, renderer);
    return { campaignId: id, rendered: report.rendered, failed: report.failed, bytes: report.bytes, failures, checkedAs, checks };
  } finally {
    await renderer.close();
  }
}

/** What the campaign renders from: stored at its first start, or made from the files before. */
export async function campaignContent({ db }: Pick<ApiContext, 'db'>, id: number) {
  return campaignContentView(db, await getCampaignOrThrow(db, id));
}
