import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/connect.js';
import type { SuppressionReason } from '../db/schema.js';
import { emailKey } from '../domain/email.js';
import { addressPattern, erasedAddressHash } from '../domain/erasure.js';
import { NotFoundError } from '../domain/errors.js';
import { addSuppressions } from '../sql/addSuppressions.js';
import { deleteMemberships } from '../sql/erasure/deleteMemberships.js';
import { deleteUnmatchedEvents } from '../sql/erasure/deleteUnmatchedEvents.js';
import { holdErasureLock } from '../sql/erasure/erasureLock.js';
import { erasureKey } from '../sql/erasure/erasureKey.js';
import { findErasedAddresses } from '../sql/erasure/findErasedAddresses.js';
import { findRecipientId } from '../sql/erasure/findRecipientId.js';
import { notifyErased } from '../sql/erasure/notifyErased.js';
import { readmitAddress } from '../sql/erasure/readmitAddress.js';
import { recipientDeliveries, type RecipientDelivery } from '../sql/erasure/recipientDeliveries.js';
import { recordErasedAddress } from '../sql/erasure/recordErasedAddress.js';
import { scrubDeliveryRecords } from '../sql/erasure/scrubDeliveryRecords.js';
import { scrubLinkCounts } from '../sql/erasure/scrubLinkCounts.js';
import { skipPendingDeliveries } from '../sql/erasure/skipPendingDeliveries.js';
import { takeSuppression } from '../sql/erasure/takeSuppression.js';
import { tombstoneRecipient } from '../sql/erasure/tombstoneRecipient.js';

// Erasing a person (docs/operations.md, "Erasing a person"): what goes, what stays, and why a
// message claimed before the erasure still does not leave.

export interface EraseOptions {
  /** Keep "do not mail" for the address even if it was not suppressed (the person asked for that too). */
  suppress?: boolean;
  /**
   * How long to wait for workers holding a claim of the person to drop it (they are told at
   * once; a request already on its way to the provider cannot be called back, and ends within
   * its timeout). 0: do not wait.
   */
  waitMs?: number;
  now?: () => Date;
}

export const DEFAULT_ERASE_WAIT_MS = 15_000;

export interface ErasureReport {
  /** The address as asked (the caller has it); no other personal data is in the answer. */
  email: string;
  /** False when the address had already been erased: nothing was left to erase. */
  erased: boolean;
  erasedAt: string;
  /** Lists the person was taken out of. */
  lists: string[];
  /** What "do not mail" is kept for the address, by its hash only; null when none. */
  suppression: SuppressionReason | null;
  /** Their delivery in each campaign after the erasure, by campaign (the rows stay for the counts). */
  campaigns: Array<{ campaignId: number; status: string; errorCode: string | null }>;
  /**
   * Campaigns in which a worker still held a claim of the person when the wait ended. That
   * worker drops it when it hears of the erasure; the row says what happened in the end.
   */
  stillClaimed: number[];
  /** Stray provider events (for unknown deliveries) that named the address, deleted. */
  unmatchedEventsDeleted: number;
}

/**
 * Erases a person: their recipient row becomes an anonymous tombstone (address, name and
 * attributes gone), they leave every list, the provider's payloads of their events go and
 * the address is cut out of the text kept with their deliveries, stray events naming them are
 * deleted, and their suppression (if any) is kept as a hash. Their deliveries and every kept
 * count stay, with no address. Workers are told not to send what they hold for them (claims
 * after this skip them); the answer comes once no worker holds a claim of them, or after
 * `waitMs`, and says what happened in each campaign.
 */
export async function eraseRecipient(db: Db, email: string, options: EraseOptions = {}): Promise<ErasureReport> {
  const now = options.now ?? (() => new Date());
  const at = now();
  const hash = erasedAddressHash(await erasureKey(db.kysely), email);
  const pattern = addressPattern(email);
  const done = await db.kysely.transaction().execute(async (trx) => {
    await holdErasureLock(trx);
    const id = await findRecipientId(trx, email);
    const alive = id !== undefined && (await tombstoneRecipient(trx, id, at));
    const suppression = await takeSuppression(trx, email);
    const before = (await findErasedAddresses(trx, [hash])).get(hash);
    const kept = suppression ?? (options.suppress ? { reason: 'manual' as const, at } : null);
    if (!alive && !suppression) {
      if (!before) return null;
      if (kept) await recordErasedAddress(trx, { hash, recipientId: null, at: before.erasedAt, suppression: kept });
      return { fresh: false, recipientId: null, erasedAt: before.erasedAt, lists: [], suppression: before.suppressionReason ?? kept?.reason ?? null };
    }
    let lists: string[] = [];
    if (alive) {
      lists = await deleteMemberships(trx, id);
      const campaignIds = (await recipientDeliveries(trx, id)).map((d) => d.campaignId);
      await skipPendingDeliveries(trx, id, campaignIds);
      await scrubDeliveryRecords(trx, id, campaignIds, pattern);
      await scrubLinkCounts(trx, campaignIds, pattern);
      await notifyErased(trx, [id]);
    }
    await recordErasedAddress(trx, { hash, recipientId: alive ? id : null, at, suppression: kept });
    return { fresh: true, recipientId: alive ? id : null, erasedAt: at, lists, suppression: before?.suppressionReason ?? kept?.reason ?? null };
  });
  if (!done) throw new NotFoundError(`no recipient and no suppression with the address ${JSON.stringify(emailKey(email))}`);
  // Stray events are linked to no delivery, so finding them is a scan: done after the lock is
  // given back, not while claims and event batches wait for it.
  const unmatched = done.fresh ? await deleteUnmatchedEvents(db.kysely, pattern) : 0;

  let deliveries: RecipientDelivery[] = [];
  if (done.recipientId !== null) {
    const waitUntil = Date.now() + (options.waitMs ?? DEFAULT_ERASE_WAIT_MS);
    for (;;) {
      deliveries = await recipientDeliveries(db.kysely, done.recipientId);
      if (!deliveries.some((d) => d.status === 'queued') || Date.now() >= waitUntil) break;
      // Said again while waiting: a worker whose notification connection was down meanwhile
      // hears it once it is back (db/listen.ts re-subscribes within a second).
      await notifyErased(db.kysely, [done.recipientId]);
      await sleep(100);
    }
  }
  return {
    email,
    erased: done.fresh,
    erasedAt: done.erasedAt.toISOString(),
    lists: done.lists,
    suppression: done.suppression,
    campaigns: deliveries.map((d) => ({ campaignId: d.campaignId, status: d.status, errorCode: d.errorCode })),
    stillClaimed: deliveries.filter((d) => d.status === 'queued').map((d) => d.campaignId),
    unmatchedEventsDeleted: unmatched,
  };
}

/** Whether this address was erased (and not readmitted since). */
export async function wasErased(db: Db, email: string): Promise<boolean> {
  const key = await erasureKey(db.kysely, { create: false });
  if (key === undefined) return false;
  const hash = erasedAddressHash(key, email);
  return (await findErasedAddresses(db.kysely, [hash])).has(hash);
}

/**
 * Lets an erased address be stored again (the person signed up anew). A suppression it had
 * comes back as one: readmitting is not consent to mail.
 */
export async function readmitRecipient(db: Db, email: string): Promise<{ email: string; suppressed: SuppressionReason | null }> {
  const hash = erasedAddressHash(await erasureKey(db.kysely), email);
  return db.kysely.transaction().execute(async (trx) => {
    const gone = await readmitAddress(trx, hash);
    if (!gone) throw new NotFoundError(`${JSON.stringify(emailKey(email))} was not erased`);
    if (gone.suppressionReason) await addSuppressions(trx, [email], gone.suppressionReason, 'readmitted after erasure');
    return { email: emailKey(email), suppressed: gone.suppressionReason };
  });
}
