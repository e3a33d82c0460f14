import { STATUS_CODES } from 'node:http';
import net from 'node:net';

/**
 * The mock's HTTP/1.1 front end. In the benchmark the mock shares two cores with the sender,
 * and Node's `http` server (its request and response streams, events and header objects) cost
 * more CPU per 22 KB message request than the mock's own work. This server does only what a
 * mock needs: whole requests with a Content-Length or chunked body, keep-alive and pipelining
 * (answers go out in request order), and a complete response written at once. What it saves
 * is in BENCHMARKS.md, "Why these hand-written parts".
 */

export interface MockRequest {
  method: string;
  /** The request target as sent (path and query). */
  url: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export interface MockResponse {
  /**
   * Sends the whole response: `headers` are name, value pairs in one flat list (Content-Length,
   * Date and Connection are added). Once only; ignored after the connection closed.
   */
  respond(status: number, headers: readonly string[], body: string): void;
  /** Calls `listener` once the response is written or the connection is gone. */
  onClose(listener: () => void): void;
  /** Closes the connection without an answer (a provider that crashed mid-request). */
  drop(): void;
}

export type MockHandler = (req: MockRequest, res: MockResponse) => void;

export interface Http1Server {
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

const MAX_HEAD_BYTES = 64 * 1024;
/** Mailgun takes messages up to 25 MB; base64 and form framing add a third. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Same as Node's server default in the mock before: a client's pool may keep sockets this long. */
const KEEP_ALIVE_MS = 65_000;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,15})[ \t]*(?:;.*)?$/;

class ProtocolError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let dateSecond = -1;
let dateText = '';
/** The Date header, formatted once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/** One response slot, in request order on its connection. */
class Reply implements MockResponse {
  text: string | null = null;
  done = false;
  private listeners: Array<() => void> = [];

  constructor(
    private readonly connection: Connection,
    /** False when the connection closes after this answer. */
    readonly keepAlive: boolean,
    private readonly head: boolean,
  ) {}

  respond(status: number, headers: readonly string[], body: string): void {
    if (this.text !== null || this.done) return;
    let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    for (let i = 0; i + 1 < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    text += `content-length: ${Buffer.byteLength(body)}\r\ndate: ${httpDate()}\r\n`;
    text += this.keepAlive ? `connection: keep-alive\r\nkeep-alive: timeout=${KEEP_ALIVE_MS / 1000}\r\n\r\n` : 'connection: close\r\n\r\n';
    this.text = this.head ? text : text + body;
    this.connection.flush();
  }

  onClose(listener: () => void): void {
    if (this.done) listener();
    else this.listeners.push(listener);
  }

  drop(): void {
    this.connection.destroy();
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    for (const listener of this.listeners) listener();
    this.listeners = [];
  }
}

type FramingState = 'head' | 'fixed' | 'chunkSize' | 'chunkData' | 'chunkEnd' | 'trailers' | 'closing';

/** One client connection: parses requests as bytes arrive, writes answers in order. */
class Connection {
  /** Received bytes not consumed yet (a partial line or head, or the start of a body). */
  private buffer: Buffer = Buffer.alloc(0);
  private state: FramingState = 'head';
  private request: { method: string; url: string; headers: Record<string, string>; keepAlive: boolean } | null = null;
  private bodyParts: Buffer[] = [];
  private bodyLength = 0;
  /** Bytes still to come in the fixed-length body or the current chunk. */
  private remaining = 0;
  private readonly replies: Reply[] = [];

  destroy(): void {
    this.socket.destroy();
  }

  constructor(
    private readonly socket: net.Socket,
    private readonly handler: MockHandler,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(KEEP_ALIVE_MS, () => {
      // Idle, or a request stalled part-way; answers still owed keep the socket open.
      if (this.replies.length === 0) socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      for (const reply of this.replies) reply.finish();
      this.replies.length = 0;
    });
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closing') return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    try {
      this.parse();
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.refuse(err);
    }
  }

  private parse(): void {
    for (;;) {
      switch (this.state) {
        case 'closing':
          return;
        case 'head': {
          const end = this.buffer.indexOf(HEAD_END);
          if (end < 0 || end > MAX_HEAD_BYTES) {
            if (end > MAX_HEAD_BYTES || this.buffer.length > MAX_HEAD_BYTES) throw new ProtocolError(431, `request head longer than ${MAX_HEAD_BYTES} bytes`);
            return;
          }
          this.startRequest(this.buffer.toString('latin1', 0, end));
          this.buffer = this.buffer.subarray(end + HEAD_END.length);
          break;
        }
        case 'fixed':
        case 'chunkData': {
          const n = Math.min(this.remaining, this.buffer.length);
          if (n > 0) {
            this.bodyParts.push(this.buffer.subarray(0, n));
            this.buffer = this.buffer.subarray(n);
            this.remaining -= n;
          }
          if (this.remaining > 0) return;
          if (this.state === 'fixed') this.finishRequest();
          else this.state = 'chunkEnd';
          break;
        }
        case 'chunkSize': {
          const line = this.line();
          if (line === null) return;
          const match = CHUNK_SIZE.exec(line);
          if (!match) throw new ProtocolError(400, `malformed chunk size line '${line.slice(0, 40)}'`);
          const size = parseInt(match[1]!, 16);
          if (size === 0) {
            this.state = 'trailers';
          } else {
            this.bodyLength += size;
            if (this.bodyLength > MAX_BODY_BYTES) throw new ProtocolError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
            this.remaining = size;
            this.state = 'chunkData';
          }
          break;
        }
        case 'chunkEnd': {
          if (this.buffer.length < 2) return;
          if (this.buffer[0] !== 0x0d || this.buffer[1] !== 0x0a) throw new ProtocolError(400, 'chunk data not followed by CRLF');
          this.buffer = this.buffer.subarray(2);
          this.state = 'chunkSize';
          break;
        }
        case 'trailers': {
          const line = this.line();
          if (line === null) return;
          // Trailer fields carry nothing the mock needs; the empty line ends the message.
          if (line === '') this.finishRequest();
          break;
        }
      }
    }
  }

  /** The next CRLF-terminated line, consumed; null until it has arrived. */
  private line(): string | null {
    const end = this.buffer.indexOf(CRLF);
    if (end < 0) {
      if (this.buffer.length > MAX_HEAD_BYTES) throw new ProtocolError(431, `line longer than ${MAX_HEAD_BYTES} bytes`);
      return null;
    }
    const text = this.buffer.toString('latin1', 0, end);
    this.buffer = this.buffer.subarray(end + 2);
    return text;
  }

  private startRequest(head: string): void {
    const lines = head.split('\r\n');
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    let first = 0;
    while (lines[first] === '' && first < lines.length - 1) first++;
    const requestLine = REQUEST_LINE.exec(lines[first]!);
    if (!requestLine) throw new ProtocolError(400, `malformed request line '${lines[first]!.slice(0, 80)}'`);
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    for (let i = first + 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!TOKEN.test(name)) throw new ProtocolError(400, `malformed header line ${i - first + 1}: '${line.slice(0, 80)}'`);
      const key = name.toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
    }
    const connection = headers.connection?.toLowerCase();
    const keepAlive = requestLine[3] === '1' ? connection !== 'close' : connection === 'keep-alive';
    this.request = { method: requestLine[1]!, url: requestLine[2]!, headers, keepAlive };
    this.bodyParts = [];
    this.bodyLength = 0;

    const transferEncoding = headers['transfer-encoding'];
    const contentLength = headers['content-length'];
    if (transferEncoding !== undefined) {
      // Both framings at once is how requests are smuggled (RFC 9112 §6.3): refuse it.
      if (contentLength !== undefined) throw new ProtocolError(400, 'both Transfer-Encoding and Content-Length');
      if (transferEncoding.toLowerCase() !== 'chunked') throw new ProtocolError(501, `unsupported Transfer-Encoding '${transferEncoding}'`);
      this.state = 'chunkSize';
    } else if (contentLength !== undefined) {
      if (!/^\d{1,15}$/.test(contentLength)) throw new ProtocolError(400, `invalid Content-Length '${contentLength}'`);
      this.remaining = Number(contentLength);
      if (this.remaining > MAX_BODY_BYTES) throw new ProtocolError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
      this.bodyLength = this.remaining;
      this.state = 'fixed';
    } else {
      this.remaining = 0;
      this.state = 'fixed';
    }
    if (headers.expect?.toLowerCase() === '100-continue') this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
  }

  private finishRequest(): void {
    const { method, url, headers, keepAlive } = this.request!;
    const parts = this.bodyParts;
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.bodyLength);
    this.request = null;
    this.bodyParts = [];
    // After a request that closes the connection, whatever else arrives is not read.
    this.state = keepAlive ? 'head' : 'closing';
    const reply = new Reply(this, keepAlive, method === 'HEAD');
    this.replies.push(reply);
    try {
      this.handler({ method, url, headers, body }, reply);
    } catch {
      reply.respond(500, ['content-type', 'text/plain'], 'internal error');
    }
  }

  /** A request the server cannot read: answered in turn, then the connection is closed. */
  private refuse(err: ProtocolError): void {
    this.state = 'closing';
    this.request = null;
    this.bodyParts = [];
    this.buffer = Buffer.alloc(0);
    const reply = new Reply(this, false, false);
    this.replies.push(reply);
    reply.respond(err.status, ['content-type', 'text/plain'], `${err.message}\n`);
  }

  /** Writes every answer that is ready and has no unanswered request before it. */
  flush(): void {
    if (this.socket.destroyed) return;
    while (this.replies.length > 0 && this.replies[0]!.text !== null) {
      const reply = this.replies.shift()!;
      this.socket.write(reply.text!);
      reply.finish();
      if (!reply.keepAlive) {
        this.socket.end();
        for (const later of this.replies) later.finish();
        this.replies.length = 0;
        return;
      }
    }
  }
}

export function createHttp1Server(handler: MockHandler): Http1Server {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    new Connection(socket, handler);
  });
  return {
    listen: (port, host) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as net.AddressInfo).port);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
