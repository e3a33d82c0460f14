import { Client, type Dispatcher } from 'undici';

/** A request waiting for a connection to come free. */
interface Waiting {
  options: Dispatcher.DispatchOptions;
  handler: ConnectionHandler;
}

/** A response handler that hands its connection back when the response has ended or failed. */
export interface ConnectionHandler extends Dispatcher.DispatchHandler {
  /** Set by `Connections` before the request is written. */
  connection: Client | null;
}

/**
 * Keep-alive connections to one origin, one request at a time on each, opened as needed up to
 * `limit`. undici's Pool finds a free connection by walking its whole list, twice for every
 * request: with hundreds of connections busy that walk cost the sending thread CPU on every
 * message (BENCHMARKS.md, "Why these hand-written parts"). Here a free connection is popped
 * from a stack; requests
 * beyond the limit wait in order, as they would in the Pool's queue.
 */
export class Connections {
  private readonly idle: Client[] = [];
  private readonly all: Client[] = [];
  private readonly waiting: Waiting[] = [];
  private closed = false;

  constructor(
    private readonly origin: string,
    private readonly limit: number,
    private readonly options: Client.Options,
  ) {}

  dispatch(options: Dispatcher.DispatchOptions, handler: ConnectionHandler): void {
    if (this.closed) throw new Error('the connections to the provider are closed');
    let connection = this.idle.pop();
    if (!connection && this.all.length < this.limit) {
      connection = new Client(this.origin, this.options);
      this.all.push(connection);
    }
    if (!connection) {
      this.waiting.push({ options, handler });
      return;
    }
    handler.connection = connection;
    connection.dispatch(options, handler);
  }

  /** Called by a handler once its response has ended or failed: the connection takes the next request. */
  release(handler: ConnectionHandler): void {
    const connection = handler.connection;
    if (!connection) return;
    handler.connection = null;
    const next = this.waiting.shift();
    if (next) {
      next.handler.connection = connection;
      connection.dispatch(next.options, next.handler);
    } else {
      this.idle.push(connection);
    }
  }

  /** Lets requests in flight finish, then closes every connection. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.all.map((connection) => connection.close()));
  }
}
