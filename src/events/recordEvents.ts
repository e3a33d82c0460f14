import type { Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../db/schema.js';
import { foldOutcome, OUTCOME_EVENT_TYPES, type OutcomeEvent, type OutcomeEventType } from '../domain/outcome.js';
import { addSuppressions } from '../sql/addSuppressions.js';
import { isErasedPlaceholder } from '../domain/erasure.js';
import { suppressErasedRecipients } from '../sql/erasure/suppressErasedRecipients.js';
import { shareErasureLock } from '../sql/erasure/erasureLock.js';
import { findDeliveries, type DeliveryKey } from '../sql/outcomes/findDeliveries.js';
import { insertEvents, type StoredEvent } from '../sql/outcomes/insertEvents.js';
import { insertUnmatchedEvents } from '../sql/outcomes/insertUnmatchedEvents.js';
import { lockOutcomes } from '../sql/outcomes/lockOutcomes.js';
import { rememberWebhookTokens } from '../sql/outcomes/rememberWebhookTokens.js';
import { writeOutcomes } from '../sql/outcomes/writeOutcomes.js';

/** A provider event on its way in, from a webhook or the provider's log. */
export interface IncomingEvent {
  /** The provider's event id: an event is recorded once, however often it arrives. */
  id: string;
  /** The provider's name for it: delivered, failed, opened, clicked, complained, unsubscribed, accepted, … */
  type: string;
  at: Date;
  severity?: 'permanent' | 'temporary' | undefined;
  reason?: string | undefined;
  code?: number | undefined;
  url?: string | undefined;
  /** The delivery it is about (from the message's `herald-delivery` variable), when it names one Herald made. */
  delivery: DeliveryKey | null;
  /** What the event named as its delivery, as it was (kept with an unmatched event). */
  deliveryText: string | null;
  /** The event as received, stored with it (JSON). */
  payload: string;
  /** Where it came from: a provider webhook, the provider's log, or Herald's own unsubscribe link. */
  source: 'webhook' | 'log' | 'link';
  /** A webhook's replay token: remembered in the same transaction as its event. */
  token?: string | undefined;
}

export type RecordStatus = 'recorded' | 'duplicate' | 'replayed' | 'unmatched';

const OUTCOME_TYPES = new Set<string>(OUTCOME_EVENT_TYPES);

/** Which provider events mean "never mail this address again". */
function suppressionFor(type: string, severity: string | undefined): SuppressionReason | null {
  if (type === 'failed' && severity === 'permanent') return 'bounced';
  if (type === 'complained') return 'complained';
  if (type === 'unsubscribed') return 'unsubscribed';
  return null;
}

const keyOf = (k: DeliveryKey): string => `${k.campaignId}.${k.recipientId}`;

function storedOf(e: IncomingEvent): StoredEvent {
  return {
    id: e.id,
    campaignId: e.delivery!.campaignId,
    recipientId: e.delivery!.recipientId,
    event: e.type,
    severity: e.severity ?? null,
    reason: e.reason ?? null,
    url: e.type === 'clicked' ? (e.url ?? null) : null,
    occurredAt: e.at,
    payload: e.payload,
  };
}

/**
 * Records a batch of provider events in one transaction: webhook tokens remembered (a replay
 * is refused), each event stored once by its id, events of unknown deliveries kept aside,
 * the new ones folded into their deliveries' outcomes (src/domain/outcome.ts) under a lock
 * of those rows, and bounces, complaints and unsubscribes turned into suppressions of the
 * delivery's own recipient (never an address an event names instead). Returns one status per
 * event, in order.
 */
export async function recordEvents(db: Kysely<Database>, events: readonly IncomingEvent[]): Promise<RecordStatus[]> {
  if (events.length === 0) return [];
  return db.transaction().execute(async (trx) => {
    // Before any row: an erasure under way finishes first, so a late event of an erased
    // person is seen as such (sql/erasure/erasureLock.ts).
    await shareErasureLock(trx);
    const status: RecordStatus[] = new Array(events.length);
    const tokens = events.flatMap((e) => (e.token ? [e.token] : []));
    const fresh = await rememberWebhookTokens(trx, tokens);
    // A token seen twice within one batch is a replay too: only its first event counts.
    const usedTokens = new Set<string>();
    const live: number[] = [];
    events.forEach((e, i) => {
      if (e.token && (!fresh.has(e.token) || usedTokens.has(e.token))) {
        status[i] = 'replayed';
        return;
      }
      if (e.token) usedTokens.add(e.token);
      live.push(i);
    });

    const wanted = new Map<string, DeliveryKey>();
    for (const i of live) {
      const d = events[i]!.delivery;
      if (d) wanted.set(keyOf(d), d);
    }
    const known = await findDeliveries(trx, [...wanted.values()]);
    const unmatched = live.filter((i) => {
      const d = events[i]!.delivery;
      return !d || !known.has(keyOf(d));
    });
    for (const i of unmatched) status[i] = 'unmatched';
    await insertUnmatchedEvents(
      trx,
      unmatched.map((i) => {
        const e = events[i]!;
        return { id: e.id, event: e.type, delivery: e.deliveryText, occurredAt: e.at, source: e.source, payload: e.payload };
      }),
    );

    const matched = live.filter((i) => status[i] === undefined);
    // An event about an erased person (it arrived late) is counted like any other, but keeps
    // none of what it says about them: no payload, no link, no reason text.
    const erased = (i: number): boolean => isErasedPlaceholder(known.get(keyOf(events[i]!.delivery!))!);
    const folded = new Map<string, DeliveryKey>();
    for (const i of matched) if (OUTCOME_TYPES.has(events[i]!.type)) folded.set(keyOf(events[i]!.delivery!), events[i]!.delivery!);
    // Outcome rows locked before the events are stored: a delivery's events are counted by
    // one transaction at a time (the unique-click count relies on it, migration 0009).
    const locked = await lockOutcomes(trx, [...folded.values()]);
    const stored: StoredEvent[] = [];
    const seenIds = new Set<string>();
    for (const i of matched) {
      const e = events[i]!;
      if (seenIds.has(e.id)) continue;
      seenIds.add(e.id);
      stored.push(erased(i) ? { ...storedOf(e), reason: null, url: null, payload: '{}' } : storedOf(e));
    }
    const newIds = await insertEvents(trx, stored);
    const firstIndexOf = new Map<string, number>();
    for (const i of matched) {
      const e = events[i]!;
      const isFirst = newIds.has(e.id) && !firstIndexOf.has(e.id);
      if (isFirst) firstIndexOf.set(e.id, i);
      status[i] = isFirst ? 'recorded' : 'duplicate';
    }

    const byDelivery = new Map<string, OutcomeEvent[]>();
    const suppress = new Map<string, { reason: SuppressionReason; source: string; campaignId: number; emails: string[] }>();
    const suppressErased = new Map<SuppressionReason, number[]>();
    for (const i of firstIndexOf.values()) {
      const e = events[i]!;
      const key = keyOf(e.delivery!);
      const gone = erased(i);
      if (OUTCOME_TYPES.has(e.type)) {
        const list = byDelivery.get(key) ?? [];
        list.push({
          id: e.id,
          type: e.type as OutcomeEventType,
          at: e.at,
          severity: e.severity,
          reason: gone ? undefined : e.reason,
          code: e.code,
          url: gone ? undefined : e.url,
        });
        byDelivery.set(key, list);
      }
      const reason = suppressionFor(e.type, e.severity);
      if (reason && gone) {
        const ids = suppressErased.get(reason) ?? [];
        ids.push(e.delivery!.recipientId);
        suppressErased.set(reason, ids);
      } else if (reason) {
        const source = `${e.source}:${e.type}`;
        const group = `${reason}|${source}|${e.delivery!.campaignId}`;
        const entry = suppress.get(group) ?? { reason, source, campaignId: e.delivery!.campaignId, emails: [] };
        entry.emails.push(known.get(key)!);
        suppress.set(group, entry);
      }
    }
    const changed = locked
      .filter((row) => byDelivery.has(keyOf(row)))
      .map((row) => ({ ...row, outcome: foldOutcome(row.outcome, byDelivery.get(keyOf(row))!) }));
    await writeOutcomes(trx, changed);
    for (const s of suppress.values()) await addSuppressions(trx, s.emails, s.reason, s.source, s.campaignId);
    for (const [reason, ids] of suppressErased) await suppressErasedRecipients(trx, ids, reason);
    return status;
  });
}
