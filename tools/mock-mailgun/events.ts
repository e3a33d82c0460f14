import { eventsItem } from './items.js';
import { kindsOfEvent } from './logs.js';
import type { MockStore } from './store.js';

/**
 * `GET /v3/{domain}/events` (fact sheet §4, deprecated by Mailgun in favour of the Logs API):
 * one query, carried whole in each paging link so the mock keeps no cursors.
 */
interface EventQuery {
  domain: string;
  begin: number | null;
  end: number | null;
  ascending: boolean;
  limit: number;
  /** The `event` filter as sent: names joined by OR. */
  event: string | null;
  recipient: string | null;
  userVariables: Record<string, string> | null;
  /**
   * The index in the store's log where this page starts (going up when ascending, down when
   * not), so each page costs its own length, not a walk over every earlier event.
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

export function parseEventQuery(domain: string, params: URLSearchParams): EventQuery {
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
  const event = params.get('event');
  if (event !== null) kindMask(event);
  return { domain, begin, end, ascending, limit, event, recipient: params.get('recipient')?.toLowerCase() ?? null, userVariables };
}

/** The kinds an `event` filter names (`delivered`, `failed OR opened`); NOT and parentheses are not read. */
function kindMask(expression: string): boolean[] {
  const mask: boolean[] = [];
  for (const word of expression.split(/\s+OR\s+/i)) {
    const name = word.trim().toLowerCase();
    if (!/^[a-z_]+$/.test(name) || name === 'not') throw new EventQueryError(`the mock reads event filters of the form 'a OR b' only: ${expression}`);
    for (const k of kindsOfEvent[name] ?? []) mask[k] = true;
  }
  return mask;
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

/** A page of events and the links Mailgun would give (next/previous always present). */
export function eventsPage(store: MockStore, q: EventQuery, baseUrl: string): { items: unknown[]; paging: Record<string, string> } {
  const low = Math.min(q.begin ?? 0, q.end ?? Infinity) * 1000;
  const high = Math.max(q.begin ?? 0, q.end ?? Infinity) * 1000;
  const kinds = q.event !== null ? kindMask(q.event) : null;
  const matches = (i: number): boolean => {
    if (kinds !== null && !kinds[store.eventKind[i]!]) return false;
    const record = store.messageOf(i);
    if (record.domain !== q.domain) return false;
    if (q.recipient !== null && store.recipientAddress[store.eventRecipient[i]!]!.toLowerCase() !== q.recipient) return false;
    if (q.userVariables) {
      for (const [k, v] of Object.entries(q.userVariables)) if (record.userVariables[k] !== String(v)) return false;
    }
    return true;
  };
  const time = store.eventTime;
  const items: unknown[] = [];
  let i: number;
  if (q.ascending) {
    for (i = q.cursor ?? store.firstAtOrAfter(low); i < store.eventCount && time[i]! <= high && items.length < q.limit; i++) {
      if (matches(i)) items.push(eventsItem(store, i));
    }
  } else {
    for (i = Math.min(q.cursor ?? Infinity, store.lastAtOrBefore(high)); i >= 0 && time[i]! >= low && items.length < q.limit; i--) {
      if (matches(i)) items.push(eventsItem(store, i));
    }
  }
  const { cursor: _drop, ...first } = q;
  const link = (query: EventQuery): string => `${baseUrl}/${encodePageToken(query)}`;
  const next = link({ ...q, cursor: items.length > 0 ? i : (q.cursor ?? i) });
  return { items, paging: { first: link(first), last: next, next, previous: link(first) } };
}
