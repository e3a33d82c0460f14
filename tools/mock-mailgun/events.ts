import type { MockStore, StoredEvent } from './store.js';

/** One events query, carried whole in each paging link so the mock keeps no cursors. */
interface EventQuery {
  begin: number | null;
  end: number | null;
  ascending: boolean;
  limit: number;
  event: string | null;
  recipient: string | null;
  userVariables: Record<string, string> | null;
  /** Position in the filtered sequence where this page starts (descending pages). */
  skip: number;
  /**
   * Ascending pages: the index in the store's event list where this page starts, so each page
   * costs its own length, not a walk over every earlier event (the list only grows at its end).
   */
  cursor?: number;
}

export class EventQueryError extends Error {}

function parseTime(value: string, name: string): number {
  const n = Number(value);
  if (Number.isFinite(n)) return n;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new EventQueryError(`'${name}' is not a valid date: ${value}`);
  return ms / 1000;
}

export function parseEventQuery(params: URLSearchParams): EventQuery {
  const limit = params.has('limit') ? Number(params.get('limit')) : 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 300) throw new EventQueryError("'limit' must be between 1 and 300");
  const begin = params.has('begin') ? parseTime(params.get('begin')!, 'begin') : null;
  const end = params.has('end') ? parseTime(params.get('end')!, 'end') : null;
  const ascendingParam = params.get('ascending');
  if (end === null && begin !== null && ascendingParam === null) throw new EventQueryError("'ascending' is required when there is no 'end'");
  const ascending = ascendingParam !== null ? ascendingParam === 'yes' : begin !== null && end !== null ? begin <= end : false;
  let userVariables: Record<string, string> | null = null;
  if (params.has('user-variables')) {
    try {
      userVariables = JSON.parse(params.get('user-variables')!) as Record<string, string>;
    } catch {
      throw new EventQueryError("'user-variables' is not valid JSON");
    }
  }
  return {
    begin,
    end,
    ascending,
    limit,
    event: params.get('event'),
    recipient: params.get('recipient')?.toLowerCase() ?? null,
    userVariables,
    skip: 0,
  };
}

function encodePageToken(query: EventQuery): string {
  return Buffer.from(JSON.stringify(query)).toString('base64url');
}

export function decodePageToken(token: string): EventQuery {
  try {
    return JSON.parse(Buffer.from(token, 'base64url').toString()) as EventQuery;
  } catch {
    throw new EventQueryError('unknown page token');
  }
}

function matches(q: EventQuery, e: StoredEvent, low: number, high: number): boolean {
  if (e.timestamp < low || e.timestamp > high) return false;
  if (q.event !== null && q.event !== 'accepted') return false;
  if (q.recipient !== null && e.recipient.toLowerCase() !== q.recipient) return false;
  if (q.userVariables) {
    for (const [k, v] of Object.entries(q.userVariables)) if (e.userVariables[k] !== String(v)) return false;
  }
  return true;
}

/** A page of events and the links Mailgun would give (next/previous always present). */
export function eventsPage(store: MockStore, q: EventQuery, baseUrl: string): { items: unknown[]; paging: Record<string, string> } {
  const low = Math.min(q.begin ?? 0, q.end ?? Infinity);
  const high = Math.max(q.begin ?? 0, q.end ?? Infinity);
  const events = store.events;
  const items: unknown[] = [];
  let seen = 0;
  const visit = (e: StoredEvent): boolean => {
    if (!matches(q, e, low, high)) return true;
    if (seen++ < q.skip) return true;
    items.push(toItem(e));
    return items.length < q.limit;
  };
  let nextCursor: number | undefined;
  if (q.ascending) {
    let i = q.cursor ?? firstAtOrAfter(events, low);
    for (; i < events.length && events[i]!.timestamp <= high; i++) {
      const e = events[i]!;
      if (!matches(q, e, low, high)) continue;
      items.push(toItem(e));
      if (items.length >= q.limit) {
        i++;
        break;
      }
    }
    nextCursor = i;
  } else {
    for (let i = events.length - 1; i >= 0; i--) if (events[i]!.timestamp <= high && !visit(events[i]!)) break;
  }
  const link = (skip: number, cursor?: number): string => {
    const { cursor: _drop, ...rest } = q;
    return `${baseUrl}/${encodePageToken(cursor === undefined ? { ...rest, skip: Math.max(0, skip) } : { ...rest, skip: 0, cursor })}`;
  };
  return {
    items,
    paging: {
      first: link(0),
      last: link(q.skip + items.length, nextCursor),
      next: link(q.skip + items.length, nextCursor),
      previous: link(q.skip - q.limit),
    },
  };
}

function firstAtOrAfter(events: StoredEvent[], t: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid]!.timestamp < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function toItem(e: StoredEvent): unknown {
  return {
    event: 'accepted',
    id: `${e.messageId}:${e.recipient}`.replace(/[^A-Za-z0-9]/g, '').slice(0, 22),
    timestamp: e.timestamp,
    recipient: e.recipient,
    'recipient-domain': e.recipient.split('@')[1] ?? '',
    message: { headers: { 'message-id': e.messageId } },
    tags: e.tags,
    'user-variables': e.userVariables,
    flags: { 'is-test-mode': false },
  };
}
