import type { IncomingHttpHeaders } from 'node:http';
import type { Client, Dispatcher } from 'undici';
import type { Logger } from '../../config/log.js';
import { classifyNetworkError, classifyResponse, type RetryPolicy, type SendOutcome } from '../../domain/retryPolicy.js';
import type { AcceptedEvent, AcceptedEventQuery, EventLogPage, EventLogQuery, Provider } from '../provider.js';
import { Connections, type ConnectionHandler } from './connections.js';
import { defaultLogRetry, EventLogReader } from './eventLog.js';

export interface MailgunClientOptions {
  baseUrl: string;
  apiKey: string;
  /** The sending domain used when a call names none. */
  domain: string;
  /** Keep-alive connections; one request per connection at a time (POSTs are not pipelined). */
  connections: number;
  /** Abort a request that has not been answered in this time. */
  timeoutMs: number;
  /** Where skipped event-log items and the fall-back to the Events API are logged. */
  log?: Logger;
  /** Retries of event-log reads (429, 5xx, network errors); default 8 attempts, 0.5 s doubling to 30 s. */
  logRetry?: RetryPolicy;
}

/** Mailgun answers with a small JSON object; anything longer is cut here. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Turns one response into a SendOutcome with one object and one promise per request; undici's
 * `request()` adds a body stream and its promises per response, on the path every message takes.
 */
class ResponseCollector implements ConnectionHandler {
  connection: Client | null = null;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  /** The request started to be written to a connected socket: from here on, it may arrive. */
  private written = false;

  constructor(
    private readonly connections: Connections,
    private readonly settle: (outcome: SendOutcome) => void,
  ) {}

  // Present so undici treats this as a handler of its current (non-deprecated) interface.
  // undici calls it on a connected socket right before it writes the request.
  onRequestStart(): void {
    this.written = true;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.size >= MAX_RESPONSE_BYTES) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  onResponseEnd(): void {
    this.connections.release(this);
    const text = (this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)).toString('utf8', 0, MAX_RESPONSE_BYTES);
    this.settle(classifyResponse(this.status, text, this.headers, Date.now()));
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.connections.release(this);
    this.settle(classifyNetworkError(err, this.written));
  }
}

/** The one place Herald talks HTTP to Mailgun (or anything that speaks its API). */
export class MailgunClient implements Provider {
  private readonly connections: Connections;
  private readonly connectionOptions: Client.Options;
  private readonly authorization: string;
  private readonly messagesPaths = new Map<string, string>();
  private readonly origin: string;
  private readonly basePath: string;
  private readonly logReader: EventLogReader;

  constructor(private readonly options: MailgunClientOptions) {
    const base = new URL(options.baseUrl);
    this.origin = base.origin;
    this.basePath = base.pathname.replace(/\/$/, '');
    this.connectionOptions = {
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: Math.min(options.timeoutMs, 10_000) },
    };
    this.connections = new Connections(this.origin, options.connections, this.connectionOptions);
    this.authorization = `Basic ${Buffer.from(`api:${options.apiKey}`).toString('base64')}`;
    this.logReader = new EventLogReader({
      origin: this.origin,
      basePath: this.basePath,
      authorization: this.authorization,
      domain: options.domain,
      // A page of a hundred events takes longer to answer than a message does.
      timeoutMs: Math.max(options.timeoutMs, 30_000),
      retry: options.logRetry ?? defaultLogRetry,
      log: options.log,
    });
  }

  /** Posts one prebuilt message body through `domain`. Never throws: every failure becomes an outcome. */
  send(body: Uint8Array, contentType: string, domain: string = this.options.domain): Promise<SendOutcome> {
    let path = this.messagesPaths.get(domain);
    if (!path) this.messagesPaths.set(domain, (path = `${this.basePath}/v3/${encodeURIComponent(domain)}/messages`));
    const headers = { authorization: this.authorization, 'content-type': contentType };
    return new Promise((resolve) => this.connections.dispatch({ path, method: 'POST', headers, body }, new ResponseCollector(this.connections, resolve)));
  }

  /** One page of the event log: the Logs API, or the Events API when the account refuses it (see EventLogReader). */
  eventLog(query: EventLogQuery, signal?: AbortSignal): Promise<EventLogPage> {
    return this.logReader.page(query, signal);
  }

  /**
   * The campaign's `accepted` events, read from the event log. The Logs API filters by domain
   * and time only, so the campaign (the `herald-campaign` variable Herald sends with each
   * message) is matched here.
   */
  async *acceptedEvents(query: AcceptedEventQuery, domain: string = this.options.domain): AsyncGenerator<AcceptedEvent> {
    let token: string | undefined;
    do {
      const page = await this.logReader.page({ domain, start: query.begin, end: query.end, events: ['accepted'], ...(token ? { token } : {}) });
      for (const event of page.items) {
        if (event.type !== 'accepted' || (event.campaignId !== undefined && event.campaignId !== query.campaignId)) continue;
        yield { deliveryId: event.deliveryId, messageId: event.messageId };
      }
      token = page.next;
    } while (token);
  }

  async close(): Promise<void> {
    await Promise.all([this.connections.close(), this.logReader.close()]);
  }
}
