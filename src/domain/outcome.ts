/**
 * What happened to a message after the provider accepted it, folded from the provider's events
 * (webhooks and the provider's log). The fold is a merge of summaries that is commutative and
 * associative, so the result is the same whatever order the events arrive in and however they
 * are batched; an event is folded at most once (events are stored by their provider id first,
 * and only new ones are folded), so replays change nothing. docs/operations.md, "Outcomes".
 */

export type OutcomeEventType = 'delivered' | 'failed' | 'opened' | 'clicked' | 'complained' | 'unsubscribed';

export const OUTCOME_EVENT_TYPES: readonly OutcomeEventType[] = ['delivered', 'failed', 'opened', 'clicked', 'complained', 'unsubscribed'];

/** One provider event about one delivery, as the fold needs it. */
export interface OutcomeEvent {
  /** The provider's event id (unique): the key that makes a replay harmless. */
  id: string;
  type: OutcomeEventType;
  at: Date;
  /** Failures only. */
  severity?: 'permanent' | 'temporary' | undefined;
  reason?: string | undefined;
  code?: number | undefined;
  /** Clicks only: the link. */
  url?: string | undefined;
}

export interface Failure {
  severity: 'permanent' | 'temporary';
  at: Date;
  reason: string | null;
  code: number | null;
  /** The event it came from; breaks ties between failures at the same time. */
  eventId: string;
}

/** The outcome part of a delivery record. */
export interface Outcome {
  /** First delivery to the receiving server. */
  deliveredAt: Date | null;
  /** The failure that decides: a permanent one over any temporary one; the latest among equals. */
  failure: Failure | null;
  firstOpenAt: Date | null;
  /** The latest open: "opened within N days" in segments (docs/segments.md). */
  lastOpenAt: Date | null;
  opens: number;
  firstClickAt: Date | null;
  lastClickAt: Date | null;
  clicks: number;
  complainedAt: Date | null;
  unsubscribedAt: Date | null;
}

export const NO_OUTCOME: Outcome = {
  deliveredAt: null,
  failure: null,
  firstOpenAt: null,
  lastOpenAt: null,
  opens: 0,
  firstClickAt: null,
  lastClickAt: null,
  clicks: 0,
  complainedAt: null,
  unsubscribedAt: null,
};

function earliest(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  if (b === null) return a;
  return b.getTime() < a.getTime() ? b : a;
}

function latest(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  if (b === null) return a;
  return b.getTime() > a.getTime() ? b : a;
}

const SEVERITY_RANK = { temporary: 0, permanent: 1 } as const;

/** The deciding failure of two: permanent over temporary, then the later, then the larger event id. */
function decidingFailure(a: Failure | null, b: Failure | null): Failure | null {
  if (a === null) return b;
  if (b === null) return a;
  const rank = SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity];
  if (rank !== 0) return rank > 0 ? b : a;
  const time = b.at.getTime() - a.at.getTime();
  if (time !== 0) return time > 0 ? b : a;
  return b.eventId > a.eventId ? b : a;
}

/** Merges two outcomes: commutative, associative, with NO_OUTCOME as identity. */
export function mergeOutcomes(a: Outcome, b: Outcome): Outcome {
  return {
    deliveredAt: earliest(a.deliveredAt, b.deliveredAt),
    failure: decidingFailure(a.failure, b.failure),
    firstOpenAt: earliest(a.firstOpenAt, b.firstOpenAt),
    lastOpenAt: latest(a.lastOpenAt, b.lastOpenAt),
    opens: a.opens + b.opens,
    firstClickAt: earliest(a.firstClickAt, b.firstClickAt),
    lastClickAt: latest(a.lastClickAt, b.lastClickAt),
    clicks: a.clicks + b.clicks,
    complainedAt: earliest(a.complainedAt, b.complainedAt),
    unsubscribedAt: earliest(a.unsubscribedAt, b.unsubscribedAt),
  };
}

/** The outcome one event alone says. */
export function outcomeOf(event: OutcomeEvent): Outcome {
  switch (event.type) {
    case 'delivered':
      return { ...NO_OUTCOME, deliveredAt: event.at };
    case 'failed':
      return {
        ...NO_OUTCOME,
        failure: { severity: event.severity ?? 'temporary', at: event.at, reason: event.reason ?? null, code: event.code ?? null, eventId: event.id },
      };
    case 'opened':
      return { ...NO_OUTCOME, firstOpenAt: event.at, lastOpenAt: event.at, opens: 1 };
    case 'clicked':
      return { ...NO_OUTCOME, firstClickAt: event.at, lastClickAt: event.at, clicks: 1 };
    case 'complained':
      return { ...NO_OUTCOME, complainedAt: event.at };
    case 'unsubscribed':
      return { ...NO_OUTCOME, unsubscribedAt: event.at };
  }
}

/** Folds new events into a delivery's outcome (each event once: callers drop events already stored). */
export function foldOutcome(state: Outcome, events: readonly OutcomeEvent[]): Outcome {
  let result = state;
  for (const e of events) result = mergeOutcomes(result, outcomeOf(e));
  return result;
}

/**
 * Where a delivery stands after acceptance, for the funnel: a permanent failure is final (a
 * late `delivered` does not undo it); a temporary one counts only until a delivery succeeds.
 */
export type Standing = 'accepted' | 'delivered' | 'bounced_hard' | 'bounced_soft';

export function standingOf(o: Outcome): Standing {
  if (o.failure?.severity === 'permanent') return 'bounced_hard';
  if (o.deliveredAt) return 'delivered';
  if (o.failure) return 'bounced_soft';
  return 'accepted';
}
