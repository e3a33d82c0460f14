import type { IncomingHttpHeaders } from 'node:http';
import { Client, type Dispatcher } from 'undici';
import { classifyNetworkError, classifyResponse, type SendOutcome } from '../../domain/retryPolicy.js';
import type { AcceptedEvent, AcceptedEventQuery, Provider } from '../provider.js';
import { Connections, type ConnectionHandler } from './connections.js';

export interface MailgunClientOptions {
  baseUrl: string;
  apiKey: string;
  /** The sending domain used when a call names none. */
  domain: string;
  /** Keep-alive connections; one request per connection at a time (POSTs are not pipelined). */
  connections: number;
  /** Abort a request that has not been answered in this time. */
  timeoutMs: number;
}

export interface MailgunEvent {
  id: string;
  event: string;
  timestamp: number;
  recipient?: string;
  message?: { headers?: { 'message-id'?: string } };
  'user-variables'?: Record<string, string>;
}

export interface EventQuery {
  begin: Date;
  end?: Date;
  event?: string;
  limit?: number;
  /** Sent as `user-variables`; the provider may ignore it, so callers still filter. */
  userVariables?: Record<string, string>;
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
  }

  /** Posts one prebuilt message body through `domain`. Never throws: every failure becomes an outcome. */
  send(body: Uint8Array, contentType: string, domain: string = this.options.domain): Promise<SendOutcome> {
    let path = this.messagesPaths.get(domain);
    if (!path) this.messagesPaths.set(domain, (path = `${this.basePath}/v3/${encodeURIComponent(domain)}/messages`));
    const headers = { authorization: this.authorization, 'content-type': contentType };
    return new Promise((resolve) => this.connections.dispatch({ path, method: 'POST', headers, body }, new ResponseCollector(this.connections, resolve)));
  }

  /** Pages through GET /v3/{domain}/events in ascending order. */
  async *events(query: EventQuery, domain: string = this.options.domain): AsyncGenerator<MailgunEvent> {
    const params = new URLSearchParams({
      begin: String(query.begin.getTime() / 1000),
      ascending: 'yes',
      limit: String(query.limit ?? 300),
    });
    if (query.end) params.set('end', String(query.end.getTime() / 1000));
    if (query.event) params.set('event', query.event);
    if (query.userVariables) params.set('user-variables', JSON.stringify(query.userVariables));
    let path: string | null = `${this.basePath}/v3/${encodeURIComponent(domain)}/events?${params}`;
    // Pages are read one after another, on a connection of their own.
    const connection = new Client(this.origin, this.connectionOptions);
    try {
      while (path) {
        const res = await connection.request({ path, method: 'GET', headers: { authorization: this.authorization } });
        const text = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`events API answered ${res.statusCode}: ${text.slice(0, 200)}`);
        const page = JSON.parse(text) as { items: MailgunEvent[]; paging?: { next?: string } };
        if (page.items.length === 0) return;
        yield* page.items;
        const next = page.paging?.next ? new URL(page.paging.next) : null;
        path = next ? `${next.pathname}${next.search}` : null;
      }
    } finally {
      await connection.close();
    }
  }

  /** The campaign's `accepted` events, read from the events API by the user-variable Herald sends with each message. */
  async *acceptedEvents(query: AcceptedEventQuery, domain: string = this.options.domain): AsyncGenerator<AcceptedEvent> {
    for await (const event of this.events(
      {
        begin: query.begin,
        end: query.end,
        event: 'accepted',
        userVariables: { 'herald-campaign': String(query.campaignId) },
      },
      domain,
    )) {
      yield { deliveryId: event['user-variables']?.['herald-delivery'], messageId: event.message?.headers?.['message-id'] };
    }
  }

  close(): Promise<void> {
    return this.connections.close();
  }
}
