import type { Campaign } from '../db/schema.js';
import type { Db } from '../db/connect.js';
import type { Renderer } from '../sender/campaignRun.js';
import type { CampaignRenderSpec } from '../sender/render/types.js';
import { audiencePage } from '../sql/audiencePage.js';
import { campaignSource } from './audience.js';

export interface DryRunReport {
  rendered: number;
  failed: number;
  bytes: number;
}

export interface RenderFailureLine {
  recipientId: number;
  email: string;
  code: string;
  message: string;
}

/**
 * Renders every recipient of the campaign's audience (fixed at its start, or as defined now
 * before it) exactly as a real run would, and sends
 * nothing: no claim, no delivery row, no status change. Each render failure is reported.
 */
export async function dryRun(
  db: Db,
  campaign: Campaign,
  spec: CampaignRenderSpec,
  renderer: Renderer,
  onFailure: (failure: RenderFailureLine) => void,
): Promise<DryRunReport> {
  const report: DryRunReport = { rendered: 0, failed: 0, bytes: 0 };
  let after = 0;
  const source = await campaignSource(db, campaign);
  for (;;) {
    const page = await audiencePage(db.kysely, source, after, 500);
    if (page.length === 0) return report;
    after = page[page.length - 1]!.recipientId;
    const chunks = [];
    for (let i = 0; i < page.length; i += 100) chunks.push(page.slice(i, i + 100));
    const results = await Promise.all(
      chunks.map((recipients) => renderer.render({ spec, recipients }, { timeoutMs: 30_000 }).then((r) => ({ r, recipients }))),
    );
    for (const { r, recipients } of results) {
      for (const f of r.failures) {
        const who = recipients[f.index]!;
        onFailure({ recipientId: who.recipientId, email: who.email, code: f.code, message: f.message });
      }
      report.failed += r.failures.length;
      report.rendered += recipients.length - r.failures.length;
      for (let i = 0; i < recipients.length; i++) report.bytes += r.lengths[i]!;
    }
  }
}
