import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Logger } from '../log.js';
import { unsubscribe, unsubscribePage } from './unsubscribe.js';
import { handleMailgunWebhook } from './webhooks.js';

export interface ServerOptions {
  host: string;
  port: number;
  /** Signs and verifies unsubscribe links. */
  unsubscribeSecret: string;
  /** Verifies Mailgun webhooks; without it the webhook endpoint answers 503. */
  webhookSigningKey: string | undefined;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

/** `herald serve`: one-click unsubscribe and Mailgun webhooks. */
export async function startServer(db: Kysely<Database>, log: Logger, options: ServerOptions): Promise<RunningServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        res.writeHead(413, { 'content-type': 'text/plain' }).end('request body too large');
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      route(req, Buffer.concat(chunks).toString('utf8'))
        .then(({ status, contentType, body }) => {
          res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body);
        })
        .catch((err: Error) => {
          log.error({ err: err.message, path: req.url }, 'request failed');
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
        });
    });
  });

  const text = (status: number, body: string) => ({ status, contentType: 'text/plain; charset=utf-8', body });

  async function route(req: http.IncomingMessage, body: string): Promise<{ status: number; contentType: string; body: string }> {
    const path = (req.url ?? '/').split('?')[0]!;
    const unsub = /^\/u\/([A-Za-z0-9_.-]+)$/.exec(path);
    if (unsub) {
      if (req.method === 'GET') return unsubscribePage(unsub[1]!, options.unsubscribeSecret);
      if (req.method === 'POST') {
        const outcome = await unsubscribe(db, unsub[1]!, options.unsubscribeSecret);
        if (outcome.status !== 200) log.warn({ path: '/u/…' }, 'unsubscribe with an invalid token');
        return outcome;
      }
    }
    if (path === '/webhooks/mailgun' && req.method === 'POST') {
      if (!options.webhookSigningKey) return text(503, 'MAILGUN_WEBHOOK_SIGNING_KEY is not set');
      const outcome = await handleMailgunWebhook(db, options.webhookSigningKey, body, Date.now());
      if (outcome.status >= 400) log.warn({ status: outcome.status, reason: outcome.message }, 'webhook rejected');
      return text(outcome.status, outcome.message);
    }
    if (path === '/healthz') return text(200, 'ok');
    return text(404, 'not found');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
