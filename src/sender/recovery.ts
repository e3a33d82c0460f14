import type { Kysely } from 'kysely';
import type { Database, UnknownPolicy } from '../db/schema.js';
import { parseDeliveryId } from '../domain/deliveryId.js';
import { planUnknown } from '../domain/reconcile.js';
import type { Logger } from '../config/log.js';
import type { Provider } from '../provider/provider.js';
import { listUnknown } from '../sql/listUnknown.js';
import { markUnknownSent } from '../sql/markUnknownSent.js';
import { resolveUnknownAs } from '../sql/resolveUnknownAs.js';

/** How far before the earliest ambiguous claim to look in the provider's events (clock skew). */
const EVENT_LOOKBACK_MS = 5 * 60_000;
const CHUNK = 5000;

export interface ResolvedUnknown {
  sent: number;
  resend: number;
  skipped: number;
}

/**
 * Settles the `unknown` deliveries of a campaign by its policy. `reconcile` asks the
 * provider's events for accepted messages carrying our `v:herald-delivery` ids: those are
 * sent; the rest were never accepted and are sent again. The provider's event log lags, so
 * `reconcile` only looks at rows claimed before `settledBefore`; later ones wait.
 */
export async function resolveUnknownDeliveries(
  db: Kysely<Database>,
  client: Provider,
  campaignId: number,
  policy: UnknownPolicy,
  log: Logger,
  domain: string | undefined,
  settledBefore: Date | null,
): Promise<ResolvedUnknown> {
  const total: ResolvedUnknown = { sent: 0, resend: 0, skipped: 0 };
  for (;;) {
    const { rows: unknown, listedAt } = await listUnknown(db, campaignId, CHUNK, policy === 'reconcile' ? settledBefore : null);
    if (unknown.length === 0) break;
    const ids = unknown.map((u) => u.recipientId);
    const accepted = policy === 'reconcile' ? await acceptedByProvider(client, campaignId, unknown, new Set(ids), domain) : new Map<number, string>();
    const plan = planUnknown(policy, ids, accepted);
    total.sent += await markUnknownSent(db, campaignId, plan.sent);
    total.resend += await resolveUnknownAs(db, campaignId, plan.resend, 'pending', listedAt);
    total.skipped += await resolveUnknownAs(db, campaignId, plan.skip, 'skipped', listedAt);
  }
  if (total.sent + total.resend + total.skipped > 0) log.info({ campaignId, policy, ...total }, 'resolved deliveries of unknown outcome');
  return total;
}

async function acceptedByProvider(
  client: Provider,
  campaignId: number,
  unknown: ReadonlyArray<{ claimedAt: Date | null }>,
  wanted: ReadonlySet<number>,
  domain: string | undefined,
): Promise<Map<number, string>> {
  const earliest = Math.min(...unknown.map((u) => u.claimedAt?.getTime() ?? Date.now() - 24 * 3600_000));
  const accepted = new Map<number, string>();
  for await (const event of client.acceptedEvents({ campaignId, begin: new Date(earliest - EVENT_LOOKBACK_MS), end: new Date() }, domain)) {
    const deliveryId = event.deliveryId;
    const parsed = deliveryId ? parseDeliveryId(deliveryId) : null;
    if (!parsed || parsed.campaignId !== campaignId || !wanted.has(parsed.recipientId)) continue;
    const messageId = event.messageId;
    accepted.set(parsed.recipientId, messageId ? `<${messageId}>` : '');
  }
  return accepted;
}
