import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { createHttp1Server, type Http1Server } from '../tools/mock-mailgun/http1.js';
import { startMockMailgun } from '../tools/mock-mailgun/server.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Writes `pieces` to a fresh connection (pausing between them so each arrives on its own) and
 * reads until `count` responses are complete or the server closes the connection.
 */
async function exchange(port: number, pieces: Array<string | Buffer>, count: number): Promise<{ responses: RawResponse[]; closed: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = Buffer.alloc(0);
  let closed = false;
  const responses: RawResponse[] = [];
  const parse = (): void => {
    for (;;) {
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = received.toString('latin1', 0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      const status = Number(statusLine!.split(' ')[1]);
      const length = status === 100 ? 0 : Number(headers['content-length'] ?? 0);
      if (received.length < end + 4 + length) return;
      const body = received.toString('utf8', end + 4, end + 4 + length);
      received = received.subarray(end + 4 + length);
      if (status !== 100) responses.push({ status, headers, body });
    }
  };
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      parse();
      if (responses.length >= count) resolve();
    });
    socket.on('close', () => {
      closed = true;
      resolve();
    });
    socket.on('error', () => undefined);
  });
  for (const piece of pieces) {
    socket.write(piece);
    if (pieces.length > 1) await sleep(2);
  }
  await done;
  // A server that closes after its answer does so right after writing it.
  if (!closed) await Promise.race([new Promise((resolve) => socket.once('close', resolve)), sleep(100)]);
  socket.destroy();
  return { responses, closed };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe("the mock's HTTP/1.1 server", () => {
  let server: Http1Server;
  let port: number;

  before(async () => {
    // Echoes what it read; `x-delay` holds the answer back, to answer pipelined requests out of order.
    server = createHttp1Server((req, res) => {
      const answer = (): void =>
        res.respond(
          200,
          ['content-type', 'application/json'],
          JSON.stringify({ method: req.method, url: req.url, bytes: req.body.length, sha: sha(req.body), expect: req.headers.expect ?? null }),
        );
      const delay = Number(req.headers['x-delay'] ?? 0);
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
    port = await server.listen(0, '127.0.0.1');
  });
  after(() => server.close());

  it('reads a body sent in any split, by Content-Length or chunked, to the same bytes', async () => {
    const body = Buffer.from(`${'é'.repeat(3000)}\r\n\r\n--x\r\n${'z'.repeat(5000)}`);
    const fixed = Buffer.concat([Buffer.from(`POST /fixed HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
    const chunked = Buffer.concat([
      Buffer.from('POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'),
      Buffer.from(`${(1000).toString(16)};ext=1\r\n`),
      body.subarray(0, 1000),
      Buffer.from(`\r\n${(body.length - 1000).toString(16).toUpperCase()}\r\n`),
      body.subarray(1000),
      Buffer.from('\r\n0\r\nX-Trailer: t\r\n\r\n'),
    ]);
    for (const message of [fixed, chunked]) {
      for (const pieceSize of [message.length, 7, 1]) {
        const pieces: Buffer[] = [];
        // Byte by byte only through the head and the chunk framing; the rest in one piece keeps the test quick.
        const limit = pieceSize === 1 ? 120 : message.length;
        for (let i = 0; i < message.length; i += i < limit ? pieceSize : message.length)
          pieces.push(message.subarray(i, i < limit ? i + pieceSize : message.length));
        const { responses } = await exchange(port, pieces, 1);
        assert.equal(responses.length, 1, `piece size ${pieceSize}`);
        const echoed = JSON.parse(responses[0]!.body) as { bytes: number; sha: string };
        assert.equal(echoed.bytes, body.length);
        assert.equal(echoed.sha, sha(body));
      }
    }
  });

  it('answers pipelined requests in request order, whichever is ready first, and keeps the connection', async () => {
    const requests = [300, 0, 100].map((delay, i) => `GET /r${i} HTTP/1.1\r\nHost: x\r\nX-Delay: ${delay}\r\n\r\n`).join('');
    const { responses, closed } = await exchange(port, [requests], 3);
    assert.deepEqual(
      responses.map((r) => (JSON.parse(r.body) as { url: string }).url),
      ['/r0', '/r1', '/r2'],
    );
    assert.equal(responses[0]!.headers.connection, 'keep-alive');
    assert.equal(closed, false);
  });

  it('closes the connection after a request that asks for it, and after an HTTP/1.0 request', async () => {
    for (const head of ['GET /a HTTP/1.1\r\nConnection: close\r\n\r\n', 'GET /a HTTP/1.0\r\n\r\n']) {
      const { responses, closed } = await exchange(port, [`${head}GET /never HTTP/1.1\r\n\r\n`], 2);
      assert.equal(responses.length, 1, head);
      assert.equal(responses[0]!.headers.connection, 'close');
      assert.equal(closed, true);
    }
  });

  it('sends 100 Continue to a client that expects it', async () => {
    const { responses } = await exchange(port, ['POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n', 'ok'], 1);
    assert.equal((JSON.parse(responses[0]!.body) as { bytes: number }).bytes, 2);
  });

  it('refuses unreadable requests with a status naming the problem, then closes', async () => {
    const cases: Array<[string, number, RegExp]> = [
      ['GARBAGE\r\n\r\n', 400, /malformed request line 'GARBAGE'/],
      ['GET / HTTP/1.1\r\nBad Header: x\r\n\r\n', 400, /malformed header line 2: 'Bad Header: x'/],
      ['POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400, /both Transfer-Encoding and Content-Length/],
      ['POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 400, /invalid Content-Length '-1'/],
      ['POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n', 413, /larger than/],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', 501, /unsupported Transfer-Encoding 'gzip'/],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, /malformed chunk size line 'zz'/],
      [`GET / HTTP/1.1\r\nX: ${'a'.repeat(70_000)}`, 431, /request head longer than/],
    ];
    for (const [raw, status, message] of cases) {
      const { responses, closed } = await exchange(port, [raw], 1);
      assert.equal(responses[0]?.status, status, raw.slice(0, 40));
      assert.match(responses[0]!.body, message);
      assert.equal(closed, true, raw.slice(0, 40));
    }
    // A good request after a refused one on another connection is unaffected.
    const { responses } = await exchange(port, ['GET /ok HTTP/1.1\r\n\r\n'], 1);
    assert.equal(responses[0]!.status, 200);
  });
});

describe('the mock behind real clients', () => {
  it('takes a chunked multipart message from undici like a sized one', async () => {
    const mock = await startMockMailgun({ apiKey: 'k', record: 'full' });
    try {
      const boundary = 'b0undary';
      const part = (name: string, value: string): string => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
      const body = `${part('from', 'a@example.com')}${part('to', 'b@example.com')}${part('subject', 'Hi')}${part('html', '<p>x</p>'.repeat(4000))}--${boundary}--\r\n`;
      const headers = { authorization: `Basic ${Buffer.from('api:k').toString('base64')}`, 'content-type': `multipart/form-data; boundary=${boundary}` };
      // A stream of unknown length goes out chunked.
      const stream = (): Readable =>
        Readable.from(
          (function* () {
            for (let i = 0; i < body.length; i += 4096) yield Buffer.from(body.slice(i, i + 4096));
          })(),
        );
      for (const payload of [body, stream()]) {
        const res = await request(`${mock.url}/v3/example.com/messages`, { method: 'POST', headers, body: payload });
        assert.equal(res.statusCode, 200, await res.body.text());
      }
      assert.equal(mock.store.messages.length, 2);
      for (const m of mock.store.messages) assert.equal(m.sizes.html, '<p>x</p>'.length * 4000);
      assert.equal(mock.store.inFlight, 0);
      assert.equal(mock.store.peakInFlight, 1);
    } finally {
      await mock.close();
    }
  });
});
