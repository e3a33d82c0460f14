import type { Config } from '../config/config.js';
import type { Db } from '../db/connect.js';
import type { Campaign } from '../db/schema.js';
import { UserError } from '../domain/errors.js';
import { checkRenderedMessage, missingVariableChecks, templateVariables, unsubscribeUrlOf, type TemplateCheck } from '../domain/templateChecks.js';
import { decodeMessageBody, toRfc822, type DecodedMessage } from '../provider/mailgun/messageBody.js';
import type { Renderer } from '../sender/campaignRun.js';
import { openRendering } from '../sender/render/openRendering.js';
import { campaignTemplateSources } from '../sender/render/templateSources.js';
import type { CampaignRenderSpec } from '../sender/render/types.js';
import { audienceLackingAttributes } from '../sql/audienceLackingAttributes.js';
import { audiencePage } from '../sql/audiencePage.js';
import type { ClaimedRecipient } from '../sql/claimBatch.js';
import { findRecipientByEmail } from '../sql/findRecipientByEmail.js';
import { inAudience } from '../sql/inAudience.js';
import { campaignSource } from './audience.js';

/** Whose data a preview is rendered with. */
export type PreviewSource = 'audience' | 'given' | 'sample';

export interface PreviewRecipient {
  email: string;
  name: string | null;
  /** `given`: named with `as`; `audience`: the audience's first; `sample`: made up, the audience is empty. */
  source: PreviewSource;
  /** Whether a given recipient is in the campaign's audience (null for the others). */
  inAudience: boolean | null;
}

/** One message rendered as the send path renders it, and read back from its request body. */
export interface RenderedPreview {
  recipient: PreviewRecipient;
  /** Things to tell the reader about the rendering (sample data, a recipient outside the audience). */
  notes: string[];
  message: DecodedMessage;
  /** The request body the provider would receive, exactly, and its Content-Type. */
  body: Uint8Array;
  contentType: string;
}

/** The preview as the API answers it (format json) and `campaign preview --format json` prints it. */
export interface CampaignPreview {
  campaignId: number;
  recipient: PreviewRecipient;
  notes: string[];
  subject: string;
  /** The message's headers; repeated ones (X-Mailgun-Tag) joined with ", ". */
  headers: Record<string, string>;
  html: string;
  text: string;
  checks: TemplateCheck[];
}

/** Stands in for a recipient when the audience is empty: no attributes at all. */
const SAMPLE: ClaimedRecipient = { recipientId: 0, email: 'sample.recipient@example.com', name: 'Sample Recipient', attributes: {} };

async function previewRecipient(
  db: Db,
  campaign: Campaign,
  as: string | undefined,
): Promise<{ recipient: ClaimedRecipient; info: PreviewRecipient; notes: string[] }> {
  const source = await campaignSource(db, campaign);
  if (as !== undefined) {
    const recipient = await findRecipientByEmail(db.kysely, as);
    if (!recipient) {
      throw new UserError(`no recipient with address '${as}': preview as one of the campaign's recipients, or leave 'as' out for the first of its audience`, [
        { field: 'as', message: `no recipient with address '${as}'` },
      ]);
    }
    const member = await inAudience(db.kysely, source, recipient.recipientId);
    const notes = member ? [] : [`${recipient.email} is not in campaign ${campaign.id}'s audience: rendered with their data all the same`];
    return { recipient, info: { email: recipient.email, name: recipient.name, source: 'given', inAudience: member }, notes };
  }
  const first = (await audiencePage(db.kysely, source, 0, 1, { withoutSuppressed: true }))[0];
  if (first) return { recipient: first, info: { email: first.email, name: first.name, source: 'audience', inAudience: null }, notes: [] };
  return {
    recipient: SAMPLE,
    info: { email: SAMPLE.email, name: SAMPLE.name, source: 'sample', inAudience: null },
    notes: [`campaign ${campaign.id}'s audience is empty: rendered with sample data (${SAMPLE.email}, no attributes)`],
  };
}

/**
 * Renders the campaign for one recipient through the render pool, exactly as a send renders
 * it (the same task a send or a test send hands the render threads, without the test's
 * changes), and reads the request body back into the message.
 */
export async function renderPreview(db: Db, campaign: Campaign, spec: CampaignRenderSpec, renderer: Renderer, as?: string): Promise<RenderedPreview> {
  const { recipient, info, notes } = await previewRecipient(db, campaign, as);
  const result = await renderer.render({ spec, recipients: [recipient] }, { timeoutMs: 30_000 });
  const failure = result.failures[0];
  if (failure) throw new UserError(`rendering for ${recipient.email} failed: ${failure.message}`);
  // A copy: the batch buffer goes back to the pool.
  const body = new Uint8Array(result.bodies, result.offsets[0]!, result.lengths[0]!).slice();
  const message = await decodeMessageBody(body, result.contentType);
  return { recipient: info, notes, message, body, contentType: result.contentType };
}

/**
 * The template checks (docs/operations.md, "Preview and checks") for a campaign: those of one rendered
 * message, and for each attribute its templates read, how many of its audience lack it.
 */
export async function campaignChecks(db: Db, campaign: Campaign, spec: CampaignRenderSpec, rendered: RenderedPreview): Promise<TemplateCheck[]> {
  return [...messageChecks(rendered), ...(await variableChecks(db, campaign, spec))];
}

function messageChecks(rendered: RenderedPreview): TemplateCheck[] {
  const { message } = rendered;
  const listUnsubscribe = message.headers.find(([name]) => name.toLowerCase() === 'list-unsubscribe')?.[1];
  return checkRenderedMessage({ html: message.html, text: message.text, unsubscribeUrl: unsubscribeUrlOf(listUnsubscribe) });
}

async function variableChecks(db: Db, campaign: Campaign, spec: CampaignRenderSpec): Promise<TemplateCheck[]> {
  const variables = templateVariables(campaignTemplateSources(spec));
  if (variables.length === 0) return [];
  const counts = await audienceLackingAttributes(
    db.kysely,
    await campaignSource(db, campaign),
    variables.map((v) => v.attribute),
  );
  return missingVariableChecks(variables, counts.lacking, counts.audience);
}

/**
 * The checks a dry run adds: those of the message for the audience's first recipient (as the
 * preview shows it), and the missing-variable counts. When that message does not render (the
 * dry run names why), only the counts.
 */
export async function dryRunChecks(
  db: Db,
  campaign: Campaign,
  spec: CampaignRenderSpec,
  renderer: Renderer,
): Promise<{ checkedAs: string | null; checks: TemplateCheck[] }> {
  let rendered: RenderedPreview | null = null;
  try {
    rendered = await renderPreview(db, campaign, spec, renderer);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
  }
  const checks = [...(rendered ? messageChecks(rendered) : []), ...(await variableChecks(db, campaign, spec))];
  return { checkedAs: rendered?.recipient.email ?? null, checks };
}

function headerRecord(headers: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, value] of headers) record[name] = name in record ? `${record[name]}, ${value}` : value;
  return record;
}

/** Renders and checks a campaign's message for one recipient, on a render thread of its own. */
export async function previewCampaign(
  db: Db,
  config: Config,
  campaign: Campaign,
  as?: string,
): Promise<{ preview: CampaignPreview; rendered: RenderedPreview }> {
  const { renderer, specFor } = await openRendering(config, db, { renderThreads: 1 });
  try {
    const spec = await specFor(campaign);
    const rendered = await renderPreview(db, campaign, spec, renderer, as);
    const checks = await campaignChecks(db, campaign, spec, rendered);
    const { message } = rendered;
    return {
      rendered,
      preview: {
        campaignId: campaign.id,
        recipient: rendered.recipient,
        notes: rendered.notes,
        subject: message.subject,
        headers: headerRecord(message.headers),
        html: message.html,
        text: message.text,
        checks,
      },
    };
  } finally {
    await renderer.close();
  }
}

/**
 * The preview as an .eml file: the message as the provider would build it, with a Message-ID
 * and Date of the preview's own (the provider sets those on a real send).
 */
export function previewEml(rendered: RenderedPreview, campaign: Campaign, config: Config, now = new Date()): Promise<Buffer> {
  const domain = campaign.sending_domain ?? config.mailgun.domain ?? 'localhost';
  return toRfc822(rendered.message, { messageId: `<preview.${campaign.id}.${now.getTime()}@${domain}>`, date: now });
}
