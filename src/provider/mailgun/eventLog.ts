import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { Logger } from '../../config/log.js';
import { classifyResponse, nextRetryDelay, type RetryPolicy } from '../../domain/retryPolicy.js';
import { EventLogError, type EventLogPage, type EventLogQuery, type ProviderEvent, type SkippedEvent } from '../provider.js';
import { type MailgunItemShape, parseMailgunEvent } from './parseEvent.js';

/** Mailgun's largest Logs API page. */
export const LOGS_PAGE_LIMIT = 100;
/** The Events API's largest page. */
const EVENTS_PAGE_LIMIT = 300;
/** Tokens of Events API pages (the fallback) carry this prefix; Logs API tokens are passed on as they came. */
const EVENTS_TOKEN = 'events:';
/** A log page is up to 100 items of about a kilobyte; anything far larger is not a page. */
const MAX_PAGE_BYTES = 32 * 1024 * 1024;

export const defaultLogRetry: RetryPolicy = { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 30_000 };

export interface EventLogReaderOptions {
  origin: string;
  /** The base URL's path, without a trailing slash. */
  basePath: string;
  authorization: string;
  /** The domain used when a query names none. */
  domain: string;
  /** Abort a request that has not been answered in this time. */
  timeoutMs: number;
  retry: RetryPolicy;
  log: Logger | undefined;
}

interface Answer {
  status: number;
  text: string;
  headers: IncomingHttpHeaders;
}

/** RFC 2822 as Mailgun's Logs API takes it (and mailgun.js writes it): `Wed, 03 Dec 2025 00:00:00 -0000`. */
export function rfc2822(date: Date): string {
  return `${date.toUTCString().slice(0, 25)} -0000`;
}

/**
 * Reads Mailgun's event log a page at a time: `POST /v1/analytics/logs` (fact sheet §4b), or
 * the deprecated `GET /v3/{domain}/events` (§4) when the account refuses the Logs API. Reads go
 * over connections of their own, so a slow or throttling log never holds up a send.
 */
export class EventLogReader {
  private pool: Pool | null = null;
  /** Why the Logs API was refused (e.g. `http_404`), once it was: from then on the Events API is read. */
  private logsRefused: string | null = null;

  constructor(private readonly options: EventLogReaderOptions) {}

  async page(query: EventLogQuery, signal?: AbortSignal): Promise<EventLogPage> {
    if (query.token?.startsWith(EVENTS_TOKEN) || this.logsRefused !== null) return this.eventsPage(query, signal);
    const domain = query.domain ?? this.options.domain;
    const body: Record<string, unknown> = {
      start: rfc2822(floorToSecond(query.start)),
      end: rfc2822(ceilToSecond(query.end)),
      filter: { AND: [{ attribute: 'domain', comparator: '=', values: [{ label: domain, value: domain }] }] },
      pagination: { sort: 'timestamp:asc', limit: LOGS_PAGE_LIMIT, ...(query.token ? { token: query.token } : {}) },
    };
    if (query.events) body.events = query.events;
    const answer = await this.request('POST', `${this.options.basePath}/v1/analytics/logs`, JSON.stringify(body), signal);
    if (answer.status === 401 || answer.status === 403 || answer.status === 404) {
      const code = `http_${answer.status}`;
      if (query.token) throw new EventLogError(`the Logs API refused a request it had answered before (${code}): ${brief(answer.text)}`, code);
      this.logsRefused = code;
      this.options.log?.warn({ code, message: brief(answer.text) }, `Logs API refused (${code}); reading the deprecated Events API instead`);
      return this.eventsPage(query, signal);
    }
    if (answer.status !== 200) throw new EventLogError(`the Logs API answered ${answer.status}: ${brief(answer.text)}`, `http_${answer.status}`);
    const page = parsePage(answer.text, 'Logs API') as { items?: unknown; pagination?: { next?: unknown } };
    const { items, skipped } = this.parseItems(page.items, 'logs', 'Logs API');
    const next = page.pagination?.next;
    return { items, skipped, next: typeof next === 'string' && next !== '' && items.length + skipped.length > 0 ? next : undefined };
  }

  close(): Promise<void> {
    return this.pool?.close() ?? Promise.resolve();
  }

  /** One page of `GET /v3/{domain}/events`, ascending; its next page's URL becomes the token. */
  private async eventsPage(query: EventLogQuery, signal: AbortSignal | undefined): Promise<EventLogPage> {
    let path: string;
    if (query.token?.startsWith(EVENTS_TOKEN)) {
      path = query.token.slice(EVENTS_TOKEN.length);
    } else if (query.token) {
      throw new EventLogError('a Logs API page token cannot be read from the Events API', 'bad_token');
    } else {
      const domain = query.domain ?? this.options.domain;
      const params = new URLSearchParams({
        begin: String(Math.floor(query.start.getTime() / 1000)),
        end: String(Math.ceil(query.end.getTime() / 1000)),
        ascending: 'yes',
        limit: String(EVENTS_PAGE_LIMIT),
      });
      if (query.events && query.events.length > 0) params.set('event', query.events.join(' OR '));
      path = `${this.options.basePath}/v3/${encodeURIComponent(domain)}/events?${params}`;
    }
    const answer = await this.request('GET', path, undefined, signal);
    if (answer.status !== 200) throw new EventLogError(`the Events API answered ${answer.status}: ${brief(answer.text)}`, `http_${answer.status}`);
    const page = parsePage(answer.text, 'Events API') as { items?: unknown; paging?: { next?: unknown } };
    const { items, skipped } = this.parseItems(page.items, 'events', 'Events API');
    let next: string | undefined;
    if (items.length + skipped.length > 0 && typeof page.paging?.next === 'string') {
      try {
        const url = new URL(page.paging.next);
        next = `${EVENTS_TOKEN}${url.pathname}${url.search}`;
      } catch {
        throw new EventLogError(`the Events API gave a next page that is not a URL: ${brief(page.paging.next)}`, 'bad_response');
      }
    }
    return { items, skipped, next };
  }

  private parseItems(raw: unknown, shape: MailgunItemShape, api: string): { items: ProviderEvent[]; skipped: SkippedEvent[] } {
    if (!Array.isArray(raw)) throw new EventLogError(`the ${api} answered a page without an items list`, 'bad_response');
    const items: ProviderEvent[] = [];
    const skipped: SkippedEvent[] = [];
    for (let index = 0; index < raw.length; index++) {
      const parsed = parseMailgunEvent(raw[index], shape);
      if ('error' in parsed) {
        const entry = { index, id: parsed.id, reason: parsed.error };
        skipped.push(entry);
        this.options.log?.warn(entry, `skipped a malformed ${api} item (${parsed.id ? `id ${parsed.id}` : `item ${index} of its page`}): ${parsed.error}`);
      } else {
        items.push(parsed);
      }
    }
    return { items, skipped };
  }

  /**
   * One request, retried while the answer is throttling (429, waiting as long as it asks), a
   * server error (5xx, 408) or no answer at all, with exponential backoff up to the retry
   * policy's attempts. Any other answer is returned to the caller.
   */
  private async request(method: 'GET' | 'POST', path: string, body: string | undefined, signal: AbortSignal | undefined): Promise<Answer> {
    const retry = this.options.retry;
    const headers: Record<string, string> = { authorization: this.options.authorization, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let answer: Answer | null = null;
      let failure: string;
      let retryAfterMs: number | null = null;
      try {
        const res = await this.connections().request({ path, method, headers, body, signal: signal ?? null });
        const text = await readText(res.body);
        answer = { status: res.statusCode, text, headers: res.headers };
        if (res.statusCode !== 429 && res.statusCode !== 408 && res.statusCode < 500) return answer;
        failure = `http_${res.statusCode}`;
        const outcome = classifyResponse(res.statusCode, text, res.headers, Date.now());
        if (outcome.kind === 'transient') retryAfterMs = outcome.retryAfterMs;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (err instanceof EventLogError) throw err;
        failure = ((err as { code?: string }).code ?? 'network_error').toLowerCase();
      }
      const delay = nextRetryDelay(retry, attempt, retryAfterMs, Math.random());
      if (delay === null || (retryAfterMs !== null && retryAfterMs > retry.maxDelayMs)) {
        const said = answer ? `: ${brief(answer.text)}` : '';
        throw new EventLogError(`reading the provider's event log failed ${attempt} times (${failure}${said})`, failure, retryAfterMs);
      }
      this.options.log?.debug({ failure, attempt, delayMs: Math.round(delay) }, 'provider event log read failed; retrying');
      await sleep(delay, undefined, signal ? { signal } : undefined);
    }
  }

  private connections(): Pool {
    this.pool ??= new Pool(this.options.origin, {
      connections: 2,
      keepAliveTimeout: 30_000,
      headersTimeout: this.options.timeoutMs,
      bodyTimeout: this.options.timeoutMs,
      connect: { timeout: Math.min(this.options.timeoutMs, 10_000) },
    });
    return this.pool;
  }
}

async function readText(body: AsyncIterable<Buffer> & { dump(): Promise<void> }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_PAGE_BYTES) {
      await body.dump().catch(() => undefined);
      throw new EventLogError(`the provider's log answered more than ${MAX_PAGE_BYTES} bytes`, 'bad_response');
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
}

function parsePage(text: string, api: string): Record<string, unknown> {
  let page: unknown;
  try {
    page = JSON.parse(text);
  } catch {
    throw new EventLogError(`the ${api} answered something that is not JSON: ${brief(text)}`, 'bad_response');
  }
  if (typeof page !== 'object' || page === null || Array.isArray(page))
    throw new EventLogError(`the ${api} answered a page that is not an object`, 'bad_response');
  return page as Record<string, unknown>;
}

function brief(text: string): string {
  return text.slice(0, 200);
}

function floorToSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function ceilToSecond(date: Date): Date {
  return new Date(Math.ceil(date.getTime() / 1000) * 1000);
}
