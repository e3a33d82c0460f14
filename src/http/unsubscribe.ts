import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { verifyUnsubscribeToken, type UnsubscribeClaim } from '../domain/unsubscribeToken.js';
import { addSuppressions } from '../sql/addSuppressions.js';
import { formatDeliveryId } from '../domain/deliveryId.js';
import { recordEvents } from '../events/recordEvents.js';
import { erasedAddressHash } from '../domain/erasure.js';
import { erasureKey } from '../sql/erasure/erasureKey.js';
import { suppressErasedAddress } from '../sql/erasure/suppressErasedAddress.js';
import { shareErasureLock } from '../sql/erasure/erasureLock.js';

/** An HTML answer. */
export interface Page {
  status: number;
  html: string;
}

const page = (status: number, title: string, inner: string): Page => ({
  status,
  html: `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}button{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}</style></head>
<body><h1>${title}</h1>${inner}</body></html>`,
});

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function claimOf(token: string, secret: string): UnsubscribeClaim | null {
  return verifyUnsubscribeToken(token, secret);
}

/** GET: a confirmation page with one button (mail scanners prefetch links; only POST acts). */
export function unsubscribePage(token: string, secret: string): Page {
  const claim = claimOf(token, secret);
  if (!claim) return page(400, 'Invalid link', '<p>This unsubscribe link is not valid. Please use the link from the email you received.</p>');
  return page(
    200,
    'Unsubscribe',
    `<p>Stop sending email to <strong>${escapeHtml(claim.email)}</strong>?</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
  );
}

/** POST (RFC 8058 one-click, or the page's button): suppress at once, no further step. */
export async function unsubscribe(db: Kysely<Database>, token: string, secret: string): Promise<Page> {
  const claim = claimOf(token, secret);
  if (!claim) return page(400, 'Invalid link', '<p>This unsubscribe link is not valid.</p>');
  // An erased person's unsubscribe is kept on the erased address's record, never as the
  // address itself (docs/operations.md, "Erasing a person").
  const key = await erasureKey(db, { create: false });
  await db.transaction().execute(async (trx) => {
    await shareErasureLock(trx);
    const erased = key !== undefined && (await suppressErasedAddress(trx, erasedAddressHash(key, claim.email), 'unsubscribed'));
    if (!erased) await addSuppressions(trx, [claim.email], 'unsubscribed', 'one-click', claim.campaignId);
  });
  // The delivery's outcome learns it too, once however often the link is used (one event id
  // per delivery), so the funnel counts unsubscribes through Herald's own link as well.
  const delivery = formatDeliveryId(claim.campaignId, claim.recipientId);
  await recordEvents(db, [
    {
      id: `herald-one-click:${delivery}`,
      type: 'unsubscribed',
      at: new Date(),
      delivery: { campaignId: claim.campaignId, recipientId: claim.recipientId },
      deliveryText: delivery,
      payload: JSON.stringify({ event: 'unsubscribed', via: 'one-click link' }),
      source: 'link',
    },
  ]);
  return page(200, 'Unsubscribed', `<p><strong>${escapeHtml(claim.email)}</strong> will get no more email from us.</p>`);
}
