import type { Config } from '../config/config.js';
import type { Db } from '../db/connect.js';
import type { Campaign } from '../db/schema.js';
import type { SendOutcome } from '../domain/retryPolicy.js';
import { UserError } from '../domain/errors.js';
import { openMailgunClient } from '../provider/mailgun/openMailgunClient.js';
import type { Provider } from '../provider/provider.js';
import type { Renderer } from '../sender/campaignRun.js';
import { openRendering } from '../sender/render/openRendering.js';
import type { CampaignRenderSpec } from '../sender/render/types.js';
import { findRecipientByEmail } from '../sql/findRecipientByEmail.js';
import { audiencePage } from '../sql/audiencePage.js';
import { campaignSource } from './audience.js';
import type { ClaimedRecipient } from '../sql/claimBatch.js';

/**
 * Renders the campaign for one real recipient (`as`, else the first recipient of its
 * audience, else a sample) and sends that single message to `to`. The campaign's delivery records are not
 * touched.
 */
export async function testSend(
  db: Db,
  campaign: Campaign,
  spec: CampaignRenderSpec,
  renderer: Renderer,
  client: Provider,
  to: string,
  as: string | undefined,
): Promise<{ recipient: ClaimedRecipient; outcome: SendOutcome }> {
  let recipient: ClaimedRecipient | undefined;
  if (as) {
    recipient = await findRecipientByEmail(db.kysely, as);
    if (!recipient) throw new UserError(`no recipient with address '${as}'`);
  } else {
    const first = await audiencePage(db.kysely, await campaignSource(db, campaign), 0, 1);
    recipient = first[0] ?? { recipientId: 0, email: to, name: 'Sample Recipient', attributes: {} };
  }
  const result = await renderer.render({ spec, recipients: [recipient], testSendTo: to }, { timeoutMs: 30_000 });
  const failure = result.failures[0];
  if (failure) throw new UserError(`rendering for ${recipient.email} failed: ${failure.message}`);
  const body = new Uint8Array(result.bodies, result.offsets[0]!, result.lengths[0]!);
  return { recipient, outcome: await client.send(body, result.contentType, campaign.sending_domain ?? undefined) };
}

/** A test send as the CLI and the API make it: one render thread and one connection, closed after. */
export async function sendTestMessage(
  db: Db,
  config: Config,
  campaign: Campaign,
  to: string,
  as: string | undefined,
): Promise<{ recipient: ClaimedRecipient; outcome: SendOutcome }> {
  const { renderer, specFor } = await openRendering(config, db, { renderThreads: 1 });
  const client = openMailgunClient(config);
  try {
    return await testSend(db, campaign, await specFor(campaign), renderer, client, to, as);
  } finally {
    await renderer.close();
    await client.close();
  }
}
