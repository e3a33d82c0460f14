import type { Db } from '../db/connect.js';
import { NotFoundError } from '../domain/errors.js';
import { isErasedPlaceholder } from '../domain/erasure.js';
import { recipientHistory } from '../sql/recipientHistory.js';
import { wasErased } from './erasure.js';

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

/**
 * A person's history as the CLI (`recipients show`), the API and the dashboard show it: every
 * campaign they were in with send state, outcome and engagement, and whether and why they
 * are suppressed. A suppressed address that is no recipient is still shown (with no campaigns).
 *
 * An erased person is "erased" and nothing else: no campaign, no date, no id (docs/operations.md,
 * "Erasing a person").
 */
export async function recipientHistoryView(db: Db, email: string): Promise<RecipientHistoryView> {
  const h = await recipientHistory(db.kysely, email);
  // Asked by the tombstone's own address (`erased:ID`, as a campaign report lists it), the
  // answer is the same.
  if (h.recipient && isErasedPlaceholder(h.recipient.email)) return { email, erased: true };
  if (!h.recipient && (await wasErased(db, email))) return { email, erased: true };
  if (!h.recipient && !h.suppression) throw new NotFoundError(`no recipient and no suppression with the address ${JSON.stringify(email)}`);
  return historyOf(h, email);
}

function historyOf(h: Awaited<ReturnType<typeof recipientHistory>>, email: string) {
  return {
    email: h.recipient?.email ?? email,
    recipient: h.recipient,
    suppressed: h.suppression && {
      reason: h.suppression.reason,
      source: h.suppression.source,
      campaignId: h.suppression.campaignId,
      at: h.suppression.at.toISOString(),
    },
    campaigns: h.deliveries.map((d) => ({
      campaignId: d.campaignId,
      campaignName: d.campaignName,
      status: d.status,
      attempts: d.attempts,
      errorCode: d.errorCode,
      sentAt: iso(d.sentAt),
      outcome: d.status === 'sent' ? d.standing : null,
      deliveredAt: iso(d.deliveredAt),
      failure: d.failure && { ...d.failure, at: iso(d.failure.at) },
      firstOpenAt: iso(d.firstOpenAt),
      opens: d.opens,
      firstClickAt: iso(d.firstClickAt),
      clicks: d.clicks,
      complainedAt: iso(d.complainedAt),
      unsubscribedAt: iso(d.unsubscribedAt),
    })),
  };
}

export type RecipientHistoryView = ReturnType<typeof historyOf> | { email: string; erased: true };

export function formatHistory(v: RecipientHistoryView): string {
  if ('erased' in v) return 'erased';
  const lines = [
    `${v.email}${v.recipient?.name ? ` (${v.recipient.name})` : ''}${v.recipient ? `, lists: ${v.recipient.lists.join(', ') || 'none'}` : ', not a recipient'}`,
  ];
  lines.push(
    v.suppressed
      ? `  suppressed: ${v.suppressed.reason} since ${v.suppressed.at}${v.suppressed.source ? ` (${v.suppressed.source}${v.suppressed.campaignId ? `, campaign ${v.suppressed.campaignId}` : ''})` : ''}`
      : '  not suppressed',
  );
  if (v.campaigns.length === 0) lines.push('  in no campaign');
  for (const c of v.campaigns) {
    const parts = [`${c.status}${c.errorCode ? ` (${c.errorCode})` : ''}`];
    if (c.outcome) parts.push(c.outcome);
    if (c.failure) parts.push(`${c.failure.severity} failure${c.failure.reason ? ` ${c.failure.reason}` : ''}${c.failure.code ? ` ${c.failure.code}` : ''}`);
    if (c.opens > 0) parts.push(`opened ${c.opens}× (first ${c.firstOpenAt})`);
    if (c.clicks > 0) parts.push(`clicked ${c.clicks}× (first ${c.firstClickAt})`);
    if (c.complainedAt) parts.push(`complained ${c.complainedAt}`);
    if (c.unsubscribedAt) parts.push(`unsubscribed ${c.unsubscribedAt}`);
    lines.push(`  campaign ${c.campaignId} "${c.campaignName}": ${parts.join(', ')}${c.sentAt ? `; sent ${c.sentAt}` : ''}`);
  }
  return lines.join('\n');
}
