import { randomBytes } from 'node:crypto';
import { BodyError, htmlOf, parseMessageBody, type ParsedMessage } from './bodyParser.js';
import { EventQueryError, decodePageToken, eventsPage, parseEventQuery } from './events.js';
import { pickFault, type FaultRates } from './faults.js';
import { FollowUp, type FollowUpRates, linksOf, noFollowUpEvents, Roll, unitRoll } from './followUp.js';
import { createHttp1Server, type MockRequest, type MockResponse } from './http1.js';
import { LogsQueryError, logsPage, parseLogsQuery } from './logs.js';
import { Kind, MockStore, type AcceptedMessage, type RecordMode } from './store.js';
import { WebhookPoster, type MockWebhookOptions } from './webhooks.js';

export interface MockMailgunOptions {
  port: number;
  host: string;
  apiKey: string;
  /** Domains it accepts; empty accepts any. */
  domains: string[];
  latencyMs: number;
  jitterMs: number;
  faults: FaultRates;
  /** Accepted requests per second before answering 429; null for no limit. */
  rateLimit: number | null;
  record: RecordMode;
  /** What follows acceptance (needs `record` full or counts). Default: every recipient delivered at once. */
  followUp: FollowUpRates;
  /** Post signed webhooks for the events that follow acceptance (needs `record` full or counts). */
  webhooks: MockWebhookOptions | null;
  /** Serve `POST /v1/analytics/logs`; false answers it 404, as for an account without the Logs API. */
  logsApi: boolean;
  /** Faults of the Logs API: shares of requests answered 503 or 429, and of items served malformed. */
  logsFaults: { failRate: number; throttleRate: number; malformedRate: number };
  /** Share of accepted messages whose connection is closed instead of answered. */
  dropRate: number;
  /** Share of requests answered only after `stallMs` more (accepted at once). */
  stallRate: number;
  stallMs: number;
  /**
   * Whole-server stalls: every `everyMs`, for `forMs`, requests are neither accepted nor
   * answered until the stall ends (an event loop that stopped), as a provider under load does.
   */
  stalls: { everyMs: number; forMs: number } | null;
  /**
   * Keep the raw request bodies of the last N accepted messages (`GET /mock/bodies`), so a test
   * can compare what Herald sent byte for byte; 0 keeps none (the default: they are large).
   */
  keepBodies: number;
}

const defaultMockOptions: MockMailgunOptions = {
  port: 8025,
  host: '127.0.0.1',
  apiKey: 'key-mock',
  domains: [],
  latencyMs: 0,
  jitterMs: 0,
  faults: { failRate: 0, throttleRate: 0, permanentFailRate: 0, stuckRate: 0, seed: null },
  rateLimit: null,
  record: 'full',
  followUp: noFollowUpEvents,
  webhooks: null,
  logsApi: true,
  logsFaults: { failRate: 0, throttleRate: 0, malformedRate: 0 },
  dropRate: 0,
  stallRate: 0,
  stallMs: 0,
  stalls: null,
  keepBodies: 0,
};

export interface MockMailgun {
  url: string;
  port: number;
  store: MockStore;
  close(): Promise<void>;
}

const MAX_RECIPIENTS = 1000;
const ADDRESS = /^[^\s@<>,]+@[^\s@<>,]+\.[^\s@<>,]+$/;

/**
 * A Mailgun-compatible HTTP server for tests, demos and benchmarks: the messages endpoint,
 * the event log (Logs API, Events API, webhooks) with the events that follow acceptance, as
 * Mailgun's API has them, with latency and fault injection.
 */
export async function startMockMailgun(overrides: Partial<MockMailgunOptions> = {}): Promise<MockMailgun> {
  const options: MockMailgunOptions = {
    ...defaultMockOptions,
    ...overrides,
    faults: { ...defaultMockOptions.faults, ...overrides.faults },
    followUp: { ...defaultMockOptions.followUp, ...overrides.followUp },
    logsFaults: { ...defaultMockOptions.logsFaults, ...overrides.logsFaults },
  };
  // Message ids are unique per server run: a random prefix and a counter (cheaper than
  // random bytes per message).
  const idPrefix = randomBytes(4).toString('hex');
  const store = new MockStore(options.record, randomBytes(6).toString('base64url'));
  if (options.webhooks && !store.keepsEvents) throw new Error(`webhooks need the event log: record mode 'full' or 'counts', not '${options.record}'`);
  /** The seed of every roll: reproducible with `faults.seed`, else new each run. */
  const seed = options.faults.seed ?? randomBytes(4).readUInt32BE(0);
  let webhooks: WebhookPoster | null = null;
  const followUp = store.keepsEvents ? new FollowUp(store, options.followUp, seed, (event) => webhooks?.post(event)) : null;
  if (options.webhooks && followUp) {
    webhooks = new WebhookPoster(options.webhooks, store, (event) =>
      unitRoll(followUp.keyOf(store.eventRecipient[event]!), Roll.webhookDrop + store.eventKind[event]!),
    );
  }
  const authorization = `Basic ${Buffer.from(`api:${options.apiKey}`).toString('base64')}`;
  let window = { second: 0, count: 0 };
  let sequence = 0;
  let baseUrl = '';
  /** Until then every message request is answered 503 and nothing is accepted (POST /mock/outage). */
  let outageUntil = 0;
  /** Until then every Logs API request is answered 503 (POST /mock/logs-outage). */
  let logsOutageUntil = 0;
  let logsRequests = 0;
  let eventsRequests = 0;
  const startedAt = Date.now();
  const keptBodies: Array<{ contentType: string; body: string }> = [];
  /** When the whole-server stall in force ends, or 0 when none is. */
  const stallEnds = (now: number): number => {
    if (!options.stalls) return 0;
    const phase = (now - startedAt) % options.stalls.everyMs;
    return phase >= options.stalls.everyMs - options.stalls.forMs ? now + (options.stalls.everyMs - phase) : 0;
  };

  /** `headers` are name, value pairs in one flat list. */
  const send = (res: MockResponse, status: number, body: unknown, headers: string[] = []): void => {
    store.countResponse(status);
    res.respond(status, ['content-type', 'application/json', ...headers], JSON.stringify(body));
  };
  /** A body already written as JSON text. */
  const sendText = (res: MockResponse, status: number, json: string): void => {
    store.countResponse(status);
    res.respond(status, ['content-type', 'application/json'], json);
  };
  const later = (fn: () => void): void => {
    // Whole milliseconds: Node keeps one timer list per distinct delay, so fractional delays
    // made a list (and a priority-queue insert) per request (BENCHMARKS.md, "Why these hand-written parts").
    const delay = Math.round(options.latencyMs + (options.jitterMs > 0 ? (Math.random() * 2 - 1) * options.jitterMs : 0));
    if (delay > 0) setTimeout(fn, delay);
    else fn();
  };

  const handleMessage = (req: MockRequest, res: MockResponse, domain: string, deferred = false): void => {
    const raw = req.body;
    if (!deferred) {
      store.bytesReceived += raw.length;
      store.track(res);
    }
    const stalledUntil = stallEnds(Date.now());
    if (stalledUntil > 0) {
      setTimeout(() => handleMessage(req, res, domain, true), stalledUntil - Date.now());
      return;
    }
    if (Date.now() < outageUntil) return later(() => send(res, 503, { message: 'Service Unavailable' }));
    if (req.headers.authorization !== authorization) return later(() => send(res, 401, { message: 'Forbidden' }));
    if (options.domains.length > 0 && !options.domains.includes(domain)) {
      return later(() => send(res, 404, { message: `Domain not found: ${domain}` }));
    }
    let parsed: ParsedMessage;
    try {
      parsed = parseMessageBody(req.headers['content-type'], req.headers['content-encoding'], raw);
    } catch (err) {
      const message = err instanceof BodyError ? err.message : 'could not read the request body';
      return later(() => send(res, 400, { message }));
    }
    const checked = validate(parsed);
    if (typeof checked === 'string') return later(() => send(res, 400, { message: checked }));

    const userVariables: Record<string, string> = {};
    const headers: Record<string, string> = {};
    for (const [name, values] of parsed.fields) {
      if (name.startsWith('v:')) userVariables[name.slice(2)] = values[0]!;
      else if (name.startsWith('h:')) headers[name.slice(2)] = values[0]!;
    }
    const deliveryId = userVariables['herald-delivery'];
    const attempt = options.faults.seed !== null && deliveryId !== undefined ? store.nextAttempt(deliveryId) : 1;
    const fault = pickFault(options.faults, deliveryId, attempt);
    if (fault === 'permanent') return later(() => send(res, 400, { message: 'to parameter is not a valid address. please check documentation' }));
    if (fault === 'unavailable') return later(() => send(res, 503, { message: 'Service Unavailable' }));
    if (fault === 'throttled') return later(() => throttle(res, domain, 1));

    const now = Date.now();
    if (options.rateLimit !== null) {
      const second = Math.floor(now / 1000);
      if (window.second !== second) window = { second, count: 0 };
      if (window.count >= options.rateLimit) return later(() => throttle(res, domain, Math.max(1, Math.ceil((second + 1) * 1000 - now) / 1000)));
      window.count++;
    }

    const id = `<${now}.${idPrefix}${(++sequence).toString(36)}@${domain}>`;
    // Recorded before the latency: a client that disconnects now still had its mail accepted.
    const accepted = toAccepted(parsed, checked.to, id, now / 1000, domain, userVariables, headers);
    followUp?.beforeAccept(now);
    const first = store.record(accepted);
    if (options.keepBodies > 0) {
      keptBodies.push({ contentType: req.headers['content-type'] ?? '', body: raw.toString('base64') });
      if (keptBodies.length > options.keepBodies) keptBodies.shift();
    }
    if (first >= 0 && followUp) followUp.planMessage(first, checked.to.length, now, () => linksIn(parsed));
    if (options.dropRate > 0 && Math.random() < options.dropRate) return later(() => res.drop());
    if (options.stallRate > 0 && Math.random() < options.stallRate) {
      setTimeout(() => later(() => send(res, 200, { id, message: 'Queued. Thank you.' })), options.stallMs);
      return;
    }
    later(() => send(res, 200, { id, message: 'Queued. Thank you.' }));
  };

  const throttle = (res: MockResponse, domain: string, seconds: number): void => {
    const after = new Date(Date.now() + seconds * 1000).toUTCString().replace('GMT', 'UTC');
    send(res, 429, { message: `Domain ${domain} is not allowed to send: request limit exceeded, try again after ${after}` }, [
      'retry-after',
      String(Math.ceil(seconds)),
    ]);
  };

  const handle = (req: MockRequest, res: MockResponse): void => {
    const rawPath = req.url;
    // The hot path (POST /v3/{domain}/messages) is matched without building a URL object.
    if (req.method === 'POST' && rawPath.startsWith('/v3/') && rawPath.endsWith('/messages')) {
      const domain = rawPath.slice(4, -'/messages'.length);
      if (!domain.includes('/')) return handleMessage(req, res, decodeURIComponent(domain));
    }
    if (req.method === 'POST' && rawPath === '/v1/analytics/logs') return handleLogs(req, res);
    const url = new URL(rawPath, 'http://mock');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && parts[0] === 'v3' && parts[2] === 'events' && parts.length <= 4) {
      eventsRequests++;
      if (req.headers.authorization !== authorization) return send(res, 401, { message: 'Forbidden' });
      const domain = decodeURIComponent(parts[1]!);
      try {
        const query = parts.length === 4 ? decodePageToken(parts[3]!) : parseEventQuery(domain, url.searchParams);
        return send(res, 200, eventsPage(store, query, `${baseUrl}/v3/${encodeURIComponent(domain)}/events`));
      } catch (err) {
        if (err instanceof EventQueryError) return send(res, 400, { message: err.message });
        throw err;
      }
    }
    if (req.method === 'GET' && url.pathname === '/mock/stats') {
      return send(res, 200, {
        ...stats(store),
        eventsPending: followUp?.pending ?? 0,
        clicksWithoutLinks: followUp?.clicksWithoutLinks ?? 0,
        logsRequests,
        eventsRequests,
        webhooksSent: webhooks?.sent ?? 0,
        webhooksFailed: webhooks?.failed ?? 0,
        webhooksDropped: webhooks?.dropped ?? 0,
        webhooksQueued: webhooks?.queued ?? 0,
      });
    }
    if (req.method === 'GET' && url.pathname === '/mock/deliveries') return send(res, 200, store.deliveries.toJSON());
    if (req.method === 'GET' && url.pathname === '/mock/duplicates') return send(res, 200, duplicateAcceptances(store));
    if (req.method === 'GET' && url.pathname === '/mock/messages') return send(res, 200, store.messages);
    if (req.method === 'GET' && url.pathname === '/mock/bodies') return send(res, 200, keptBodies);
    if (req.method === 'POST' && url.pathname === '/mock/outage') {
      // ?ms=N: answer every message request 503 for N ms from now (0 ends it).
      const ms = Number(url.searchParams.get('ms') ?? '0');
      if (!Number.isFinite(ms) || ms < 0) return send(res, 400, { message: 'ms must be a number of milliseconds' });
      outageUntil = Date.now() + ms;
      return send(res, 200, { message: ms > 0 ? `outage for ${ms} ms` : 'outage ended' });
    }
    if (req.method === 'POST' && url.pathname === '/mock/logs-outage') {
      // ?ms=N: answer every Logs API request 503 for N ms from now (0 ends it).
      const ms = Number(url.searchParams.get('ms') ?? '0');
      if (!Number.isFinite(ms) || ms < 0) return send(res, 400, { message: 'ms must be a number of milliseconds' });
      logsOutageUntil = Date.now() + ms;
      return send(res, 200, { message: ms > 0 ? `Logs API outage for ${ms} ms` : 'Logs API outage ended' });
    }
    if (req.method === 'POST' && url.pathname === '/mock/reset') {
      followUp?.clear();
      webhooks?.clear();
      store.reset();
      keptBodies.length = 0;
      return send(res, 200, { message: 'reset' });
    }
    send(res, 404, { message: `not found: ${req.method} ${url.pathname}` });
  };

  /** POST /v1/analytics/logs: the Logs API (fact sheet §4b), with its own faults. */
  const handleLogs = (req: MockRequest, res: MockResponse): void => {
    logsRequests++;
    if (req.headers.authorization !== authorization) return send(res, 401, { message: 'Forbidden' });
    if (!options.logsApi) return send(res, 404, { message: 'Not Found' });
    if (Date.now() < logsOutageUntil) return send(res, 503, { message: 'Service Unavailable' });
    const { failRate, throttleRate, malformedRate } = options.logsFaults;
    if (failRate > 0 || throttleRate > 0) {
      const roll = unitRoll(seed, Roll.logsFault + logsRequests);
      if (roll < failRate) return send(res, 503, { message: 'Service Unavailable' });
      if (roll < failRate + throttleRate) {
        const after = new Date(Date.now() + 1000).toUTCString().replace('GMT', 'UTC');
        return send(res, 429, { message: `Account is not allowed to read logs: request limit exceeded, try again after ${after}` }, ['retry-after', '1']);
      }
    }
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch {
      return send(res, 400, { message: 'the body is not valid JSON' });
    }
    try {
      followUp?.beforeAccept(Date.now());
      return sendText(res, 200, logsPage(store, parseLogsQuery(body, Date.now()), { malformedRate, seed }));
    } catch (err) {
      if (err instanceof LogsQueryError) return send(res, 400, { message: err.message });
      throw err;
    }
  };

  const server = createHttp1Server((req, res) => {
    try {
      handle(req, res);
    } catch {
      send(res, 500, { message: 'internal error' });
    }
  });
  const port = await server.listen(options.port, options.host);
  baseUrl = `http://${options.host}:${port}`;
  return {
    url: baseUrl,
    port,
    store,
    close: async () => {
      followUp?.clear();
      await server.close();
      await webhooks?.close();
    },
  };
}

/**
 * Splits a `to` value at the commas between addresses, not those inside a quoted display name
 * (RFC 5322: `"Doe, Jane" <jane@example.com>` is one address). Null when a quote is left open.
 * A value without quotes, nearly every message, takes the plain split.
 */
function splitAddressList(value: string): string[] | null {
  if (!value.includes('"')) return value.split(',');
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x5c /* \ */ && quoted) i++;
    else if (c === 0x22 /* " */) quoted = !quoted;
    else if (c === 0x2c /* , */ && !quoted) {
      out.push(value.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) return null;
  out.push(value.slice(start));
  return out;
}

/** Mailgun's checks of a message request: the reason it would refuse it, or its recipients' addresses. */
function validate(parsed: ParsedMessage): string | { to: string[] } {
  const from = parsed.fields.get('from');
  if (!from || from[0]!.trim() === '') return 'from parameter is missing';
  const to = parsed.fields.get('to');
  if (!to || to.every((t) => t.trim() === '')) return 'to parameter is missing';
  const recipients: string[] = [];
  for (const t of to) {
    const list = splitAddressList(t);
    if (list === null) return 'to parameter is not a valid address. please check documentation';
    for (const r of list) if (r.trim() !== '') recipients.push(r.trim());
  }
  if (recipients.length > MAX_RECIPIENTS) return `Too many recipients, max is ${MAX_RECIPIENTS}`;
  const addresses: string[] = [];
  for (const r of recipients) {
    const address = /<([^<>]+)>$/.exec(r)?.[1] ?? r;
    if (!ADDRESS.test(address)) return 'to parameter is not a valid address. please check documentation';
    addresses.push(address);
  }
  if (!parsed.sizes.has('html') && !parsed.sizes.has('text') && !parsed.sizes.has('amp-html') && !parsed.fields.has('template')) {
    return "Need at least one of 'text', 'html' or 'template' parameters specified";
  }
  const recipientVariables = parsed.fields.get('recipient-variables');
  if (recipientVariables) {
    try {
      JSON.parse(recipientVariables[0]!);
    } catch {
      return "'recipient-variables' parameter is not a valid JSON";
    }
  }
  return { to: addresses };
}

/** The http(s) links of a message's html part (none when it has none or it cannot be read). */
function linksIn(parsed: ParsedMessage): string[] {
  try {
    const html = htmlOf(parsed);
    return html ? linksOf(html) : [];
  } catch {
    return [];
  }
}

function toAccepted(
  parsed: ParsedMessage,
  to: string[],
  id: string,
  timestamp: number,
  domain: string,
  userVariables: Record<string, string>,
  headers: Record<string, string>,
): AcceptedMessage {
  return {
    id,
    timestamp,
    domain,
    to,
    from: parsed.fields.get('from')?.[0] ?? '',
    subject: parsed.fields.get('subject')?.[0] ?? '',
    tags: parsed.fields.get('o:tag') ?? [],
    headers,
    userVariables,
    sizes: Object.fromEntries(parsed.sizes),
  };
}

/** Deliveries accepted more than once, with each acceptance's time (from the event log). */
function duplicateAcceptances(store: MockStore): Record<string, number[]> {
  const times = new Map<string, number[]>();
  for (let i = 0; i < store.eventCount; i++) {
    if (store.eventKind[i] !== Kind.accepted) continue;
    const id = store.messageOf(i).deliveryId;
    if (id === undefined) continue;
    const at = store.eventTime[i]! / 1000;
    const list = times.get(id);
    if (list) list.push(at);
    else times.set(id, [at]);
  }
  const out: Record<string, number[]> = {};
  for (const [id, list] of times) if (list.length > 1) out[id] = list;
  return out;
}

function stats(store: MockStore): Record<string, unknown> {
  return {
    accepted: store.accepted,
    duplicates: store.duplicates(),
    bytesReceived: store.bytesReceived,
    peakInFlight: store.peakInFlight,
    responses: Object.fromEntries(store.responses),
    perSecond: Object.fromEntries(store.perSecond),
    events: {
      accepted: store.kindCounts[Kind.accepted],
      delivered: store.kindCounts[Kind.delivered],
      failedTemporary: store.kindCounts[Kind.temporaryFailure],
      failedPermanent: store.kindCounts[Kind.permanentFailure],
      opened: store.kindCounts[Kind.opened],
      clicked: store.kindCounts[Kind.clicked],
      complained: store.kindCounts[Kind.complained],
      unsubscribed: store.kindCounts[Kind.unsubscribed],
    },
  };
}
