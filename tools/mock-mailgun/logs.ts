import { logsItemJson } from './items.js';
import { Kind, kindCount, type MockStore } from './store.js';

/**
 * `POST /v1/analytics/logs` (fact sheet §4b): the account's event log, filtered by time
 * window, event types and domain, paged by an opaque token. The query travels whole in every
 * request (as mailgun.js sends it); the token carries the position in the log and a
 * fingerprint of the query it belongs to.
 */

export class LogsQueryError extends Error {}

export interface LogsQuery {
  startMs: number;
  endMs: number;
  /** Per kind: wanted or not. */
  kinds: boolean[];
  /** Domains the items must (include) or must not (exclude) belong to; null for any. */
  include: Set<string> | null;
  exclude: Set<string> | null;
  ascending: boolean;
  limit: number;
  /** Index in the log where this page starts; null on the first page. */
  cursor: number | null;
  fingerprint: string;
  includeTotals: boolean;
}

export interface LogsFaults {
  /** Share of items served malformed (the same items every time). */
  malformedRate: number;
  seed: number;
}

export const kindsOfEvent: Record<string, readonly Kind[]> = {
  accepted: [Kind.accepted],
  delivered: [Kind.delivered],
  failed: [Kind.temporaryFailure, Kind.permanentFailure],
  opened: [Kind.opened],
  clicked: [Kind.clicked],
  complained: [Kind.complained],
  unsubscribed: [Kind.unsubscribed],
  // Real kinds the mock never produces: valid in a query, matching nothing.
  rejected: [],
  stored: [],
};
const kindsOfMetricEvent: Record<string, readonly Kind[]> = {
  temporary_failed: [Kind.temporaryFailure],
  permanent_failed: [Kind.permanentFailure],
};

export const MAX_LOGS_LIMIT = 100;
const DAY_MS = 86_400_000;

/** RFC 2822 as Mailgun writes it: `Wed, 03 Dec 2025 00:00:00 -0000`. */
export function rfc2822(ms: number): string {
  return `${new Date(ms).toUTCString().slice(0, 25)} -0000`;
}

function parseDate(value: unknown, name: string): number | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' && typeof value !== 'number') throw new LogsQueryError(`'${name}' must be an RFC 2822 date`);
  const ms = typeof value === 'number' ? value * 1000 : Date.parse(value);
  if (!Number.isFinite(ms)) throw new LogsQueryError(`'${name}' is not a valid date: ${String(value).slice(0, 60)}`);
  return ms;
}

function parseDuration(value: unknown): number | null {
  if (value === undefined || value === null || value === '') return null;
  const m = typeof value === 'string' ? /^(\d{1,6})([smhd])$/.exec(value) : null;
  if (!m) throw new LogsQueryError(`'duration' must look like 1d, 2h, 30m or 45s`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function fnv(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

function addKinds(kinds: boolean[], list: unknown, table: Record<string, readonly Kind[]>, name: string): void {
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) throw new LogsQueryError(`'${name}' must be an array of names`);
  for (const value of list) {
    const mapped = typeof value === 'string' ? table[value] : undefined;
    if (!mapped) throw new LogsQueryError(`'${name}' has a name the mock does not know: ${JSON.stringify(value)}`);
    for (const k of mapped) kinds[k] = true;
  }
}

export function parseLogsQuery(body: unknown, nowMs: number): LogsQuery {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new LogsQueryError('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  const endMs = parseDate(b.end, 'end') ?? nowMs;
  const duration = parseDuration(b.duration);
  const startMs = duration !== null ? endMs - duration : (parseDate(b.start, 'start') ?? endMs - DAY_MS);
  if (startMs > endMs) throw new LogsQueryError("'start' is after 'end'");

  // No list (or empty lists) asks for every kind.
  const listed = (v: unknown): boolean => Array.isArray(v) && v.length > 0;
  const kinds = new Array<boolean>(kindCount).fill(!listed(b.events) && !listed(b.metric_events));
  addKinds(kinds, b.events, kindsOfEvent, 'events');
  addKinds(kinds, b.metric_events, kindsOfMetricEvent, 'metric_events');

  let include: Set<string> | null = null;
  let exclude: Set<string> | null = null;
  if (b.filter !== undefined && b.filter !== null) {
    const and = (b.filter as { AND?: unknown }).AND;
    if (!Array.isArray(and) || and.length === 0) throw new LogsQueryError('\'filter\' must be {"AND": [conditions]}');
    for (const condition of and as Array<Record<string, unknown>>) {
      const { attribute, comparator, values } = condition ?? {};
      if (typeof attribute !== 'string' || typeof comparator !== 'string' || !Array.isArray(values) || values.length === 0) {
        throw new LogsQueryError('each filter condition needs attribute, comparator and values');
      }
      const names = new Set<string>();
      for (const v of values as Array<Record<string, unknown>>) {
        if (typeof v?.label !== 'string' || v.label === '' || typeof v.value !== 'string' || v.value === '') {
          throw new LogsQueryError('each filter value needs a label and a value');
        }
        names.add(v.value);
      }
      if (attribute !== 'domain') throw new LogsQueryError(`the mock filters on 'domain' only, not '${attribute}'`);
      if (comparator === '=') {
        // Two = conditions on domain: items of both, i.e. of the domains in both lists.
        const both = new Set<string>();
        for (const d of include ?? names) if (names.has(d)) both.add(d);
        include = both;
      } else if (comparator === '!=') exclude = new Set([...(exclude ?? []), ...names]);
      else throw new LogsQueryError(`the mock compares domains with = and != only, not '${comparator}'`);
    }
  }

  const pagination = (b.pagination ?? {}) as Record<string, unknown>;
  if (typeof pagination !== 'object' || Array.isArray(pagination)) throw new LogsQueryError("'pagination' must be an object");
  const sort = pagination.sort ?? 'timestamp:desc';
  if (sort !== 'timestamp:asc' && sort !== 'timestamp:desc') throw new LogsQueryError("'pagination.sort' must be timestamp:asc or timestamp:desc");
  const limit = pagination.limit ?? 10;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LOGS_LIMIT) {
    throw new LogsQueryError(`'pagination.limit' must be between 1 and ${MAX_LOGS_LIMIT}`);
  }
  // The query's identity: what the caller sent, as sent (a default end moves with the clock).
  const fingerprint = fnv(JSON.stringify([b.start, b.end, b.duration, b.events, b.metric_events, b.filter, sort]));
  let cursor: number | null = null;
  if (pagination.token !== undefined && pagination.token !== null && pagination.token !== '') {
    const decoded =
      typeof pagination.token === 'string' ? /^(\d{1,15})\.([0-9a-z]+)$/.exec(Buffer.from(pagination.token, 'base64url').toString('latin1')) : null;
    if (!decoded) throw new LogsQueryError("'pagination.token' is not a token this API gave");
    if (decoded[2] !== fingerprint) throw new LogsQueryError("'pagination.token' belongs to another query");
    cursor = Number(decoded[1]);
  }
  return { startMs, endMs, kinds, include, exclude, ascending: sort === 'timestamp:asc', limit, cursor, fingerprint, includeTotals: b.include_totals === true };
}

function matches(store: MockStore, q: LogsQuery, event: number): boolean {
  if (!q.kinds[store.eventKind[event]!]) return false;
  if (q.include === null && q.exclude === null) return true;
  const domain = store.messageOf(event).domain;
  return (q.include === null || q.include.has(domain)) && (q.exclude === null || !q.exclude.has(domain));
}

function token(cursor: number, q: LogsQuery): string {
  return Buffer.from(`${cursor}.${q.fingerprint}`, 'latin1').toString('base64url');
}

/**
 * One page, as JSON text: up to `limit` matching items from the cursor on, and
 * `pagination.next` only when another matching item exists in the window (its position is the
 * next token).
 */
export function logsPage(store: MockStore, q: LogsQuery, faults: LogsFaults): string {
  const items: string[] = [];
  let next: number | null = null;
  const time = store.eventTime;
  if (q.ascending) {
    for (let i = q.cursor ?? store.firstAtOrAfter(q.startMs); i < store.eventCount && time[i]! <= q.endMs; i++) {
      if (!matches(store, q, i)) continue;
      if (items.length === q.limit) {
        next = i;
        break;
      }
      items.push(item(store, i, faults));
    }
  } else {
    for (let i = Math.min(q.cursor ?? Infinity, store.lastAtOrBefore(q.endMs)); i >= 0 && time[i]! >= q.startMs; i--) {
      if (!matches(store, q, i)) continue;
      if (items.length === q.limit) {
        next = i;
        break;
      }
      items.push(item(store, i, faults));
    }
  }
  const pagination: Record<string, unknown> = {};
  if (next !== null) pagination.next = token(next, q);
  let aggregates = '';
  if (q.includeTotals) {
    let total = 0;
    for (let i = store.firstAtOrAfter(q.startMs); i < store.eventCount && time[i]! <= q.endMs; i++) if (matches(store, q, i)) total++;
    pagination.total = total;
    aggregates = `,"aggregates":${JSON.stringify({ all: total, metrics: {} })}`;
  }
  return `{"start":"${rfc2822(q.startMs)}","end":"${rfc2822(q.endMs)}","items":[${items.join(',')}],"pagination":${JSON.stringify(pagination)}${aggregates}}`;
}

/** A share of items, the same ones on every read, broken in one of three ways. */
function item(store: MockStore, event: number, faults: LogsFaults): string {
  const text = logsItemJson(store, event);
  if (faults.malformedRate === 0 || brokenRoll(faults.seed, store.eventId(event)) >= faults.malformedRate) return text;
  const value = JSON.parse(text) as Record<string, unknown>;
  const way = event % 3;
  if (way === 0) delete value['@timestamp'];
  else if (way === 1) value['user-variables'] = '{"herald-delivery": ';
  else delete value.id;
  return JSON.stringify(value);
}
function brokenRoll(seed: number, id: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 0x1_0000_0000;
}
