import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import type { Db } from '../db/connect.js';
import { ConflictError, NotFoundError, UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { packageVersion } from '../paths.js';
import { campaignRoutes } from './api/campaigns.js';
import { deliveryRoutes } from './api/deliveries.js';
import { listRoutes } from './api/lists.js';
import { openApiDocument } from './api/openapi.js';
import { Router } from './api/router.js';
import { suppressionRoutes } from './api/suppressions.js';
import { bearerCheck } from './bearer.js';
import { dashboardPage } from './dashboard/page.js';
import { HttpError, html, json, readBody, text, type Reply } from './http.js';
import { allowedHosts, foreignHost, foreignOrigin, isLoopback, isStateChanging, wrongContentType } from './requestGuard.js';
import { unsubscribe, unsubscribePage } from './unsubscribe.js';
import { handleMailgunWebhook } from './webhooks.js';

export interface ServerOptions {
  host: string;
  port: number;
  /** Signs and verifies unsubscribe links. */
  unsubscribeSecret: string;
  /** Verifies Mailgun webhooks; without it the webhook endpoint answers 503. */
  webhookSigningKey: string | undefined;
  /** Bearer token for the API and /metrics; without one the server must listen on loopback only. */
  apiToken: string | undefined;
  config: Config;
  metrics: Metrics;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

const MAX_FORM_BODY = 1024 * 1024;

/**
 * `herald serve`: one-click unsubscribe and Mailgun webhooks (public), the JSON API, the
 * dashboard and /metrics (bearer token).
 */
export async function startServer(db: Db, log: Logger, options: ServerOptions): Promise<RunningServer> {
  if (!options.apiToken && !isLoopback(options.host)) {
    throw new UserError(`HERALD_API_TOKEN is not set: refusing to serve the API on ${options.host}; set it, or listen on 127.0.0.1`);
  }
  const authorized = bearerCheck(options.apiToken);

  const api = new Router();
  const ctx = { db, config: options.config };
  listRoutes(api, ctx);
  campaignRoutes(api, ctx);
  deliveryRoutes(api, ctx);
  suppressionRoutes(api, ctx);
  const openApi = JSON.stringify(openApiDocument(packageVersion()));
  // Known once the server listens (port 0 picks one).
  let hosts: ReadonlySet<string> = new Set();

  async function route(req: http.IncomingMessage, url: URL): Promise<Reply> {
    const path = url.pathname;
    // Unsubscribe links and webhooks come from mail clients and Mailgun, through whatever
    // name a proxy forwards; each carries its own proof (a signed token, a signature), so
    // neither Host nor Origin says anything about them. Everything else answers only to its
    // own names when no token guards it.
    const external = path.startsWith('/u/') || path === '/webhooks/mailgun' || path === '/healthz';
    if (!external && !options.apiToken) {
      const refused = foreignHost(req, hosts);
      if (refused) return json(403, { error: refused });
    }
    const unsub = /^\/u\/([A-Za-z0-9_.-]+)$/.exec(path);
    if (unsub) {
      if (req.method === 'GET') return unsubscribePage(unsub[1]!, options.unsubscribeSecret);
      if (req.method === 'POST') {
        await readBody(req, MAX_FORM_BODY);
        const outcome = await unsubscribe(db.kysely, unsub[1]!, options.unsubscribeSecret);
        if (outcome.status !== 200) log.warn({ path: '/u/…' }, 'unsubscribe with an invalid token');
        return outcome;
      }
    }
    if (path === '/webhooks/mailgun' && req.method === 'POST') {
      const body = (await readBody(req, MAX_FORM_BODY)).toString('utf8');
      if (!options.webhookSigningKey) return text(503, 'MAILGUN_WEBHOOK_SIGNING_KEY is not set');
      const outcome = await handleMailgunWebhook(db.kysely, options.webhookSigningKey, body, Date.now());
      if (outcome.status >= 400) log.warn({ status: outcome.status, reason: outcome.message }, 'webhook rejected');
      return text(outcome.status, outcome.message);
    }
    if (path === '/healthz') return text(200, 'ok');
    if (path === '/openapi.json' && req.method === 'GET') return { status: 200, contentType: 'application/json; charset=utf-8', body: openApi };
    // The page itself holds no data; everything it shows comes from the API with the token.
    if ((path === '/' || path === '/dashboard') && req.method === 'GET') return html(200, dashboardPage(options.apiToken !== undefined));
    if (path === '/metrics' || path.startsWith('/api/')) {
      if (!authorized(req)) {
        return json(401, { error: 'missing or wrong bearer token (Authorization: Bearer HERALD_API_TOKEN)' }, { 'www-authenticate': 'Bearer realm="herald"' });
      }
      if (path === '/metrics') return { status: 200, contentType: options.metrics.contentType, body: await options.metrics.exposition() };
      if (isStateChanging(req)) {
        const crossSite = foreignOrigin(req, options.config.publicUrl);
        if (crossSite) return json(403, { error: crossSite });
        const wrongType = wrongContentType(req, /^\/api\/v1\/lists\/[^/]+\/recipients$/.test(path) ? 'csv' : 'json');
        if (wrongType) return json(415, { error: wrongType });
      }
      return api.dispatch(req, url);
    }
    return text(404, 'not found');
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://herald');
    route(req, url)
      .catch((err: unknown) => errorReply(err, log, url.pathname))
      .then((reply) => {
        res.writeHead(reply.status, { 'content-type': reply.contentType, 'cache-control': 'no-store', ...reply.headers }).end(reply.body);
      })
      .catch(() => res.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  hosts = allowedHosts(options.host, port, options.config.publicUrl);
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function errorReply(err: unknown, log: Logger, path: string): Reply {
  if (err instanceof HttpError) return json(err.status, { error: err.message, ...(err.fields ? { fields: err.fields } : {}) }, err.headers);
  if (err instanceof NotFoundError) return json(404, { error: err.message });
  if (err instanceof ConflictError) return json(409, { error: err.message });
  if (err instanceof UserError) return json(400, { error: err.message });
  log.error({ err: (err as Error).message, path }, 'request failed');
  return json(500, { error: 'internal error' });
}
