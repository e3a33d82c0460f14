/**
 * `herald serve` on fastify. Why fastify: routes declare their request schemas once, as the
 * zod schemas in api/schemas.ts; fastify-type-provider-zod types the handlers from them and
 * @fastify/swagger builds /openapi.json from the same schemas, so the document cannot drift
 * from what is validated. It is mature, well kept and fast, and its encapsulated contexts give
 * each group of routes its own body parsers. hono with @hono/zod-openapi would have served as
 * well; fastify's plain Node http server keeps streaming uploads and reports on Node streams.
 */
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import type { Config } from '../config/config.js';
import type { Db } from '../db/connect.js';
import { ConflictError, NotFoundError, UserError } from '../domain/errors.js';
import type { Logger } from '../config/log.js';
import type { Metrics } from '../sender/metrics.js';
import { packageVersion } from '../config/paths.js';
import type { ApiContext } from './api/context.js';
import { CampaignReads } from './api/reads.js';
import { validationError } from './api/schemas.js';
import { findCampaign } from '../sql/findCampaign.js';
import { startCountFolding } from '../sender/countFolding.js';
import { defaultIngesterOptions, EventIngester } from '../events/ingester.js';
import { recentFunnels } from '../sql/recentFunnels.js';
import { bearerCheck } from './bearer.js';
import { loadDashboardAssets } from './dashboard/page.js';
import { hasNul, HttpError } from './errors.js';
import { allowedHosts, foreignHost, foreignOrigin, isLoopback, isStateChanging, wrongContentType } from './requestGuard.js';
import type { Access, RouteConfig } from './route.js';
import { routeTable } from './routes.js';

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
  /** How often this server folds the kept counts' changes (sender/countFolding.ts); 0: never (tests that count queries). */
  foldCountsEveryMs?: number;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** Bodies of unsubscribe forms, webhooks and JSON requests. CSV uploads have their own limit. */
const MAX_BODY = 1024 * 1024;
const UNAUTHORIZED = 'missing or wrong bearer token (Authorization: Bearer HERALD_API_TOKEN)';

/**
 * `herald serve`: one-click unsubscribe and Mailgun webhooks (public), the JSON API, the
 * dashboard and /metrics (bearer token).
 */
export async function startServer(db: Db, log: Logger, options: ServerOptions): Promise<RunningServer> {
  if (!options.apiToken && !isLoopback(options.host)) {
    throw new UserError(`HERALD_API_TOKEN is not set: refusing to serve the API on ${options.host}; set it, or listen on 127.0.0.1`);
  }
  const authorized = bearerCheck(options.apiToken);
  // Known once the server listens (port 0 picks one).
  let hosts: ReadonlySet<string> = new Set();

  const app = Fastify({
    logger: false,
    bodyLimit: MAX_BODY,
    // Unsubscribe tokens are longer than find-my-way's default of 100 characters.
    // Repeated query keys: the last one counts, as URLSearchParams → Object.fromEntries did.
    routerOptions: { maxParamLength: 8192, ignoreTrailingSlash: false, querystringParser: (s) => Object.fromEntries(new URLSearchParams(s)) },
    // A GET route answers GET only, as before: HEAD gets the 405 any other method gets.
    exposeHeadRoutes: false,
    forceCloseConnections: true,
    // A malformed percent-encoding in the path is the client's mistake.
    frameworkErrors: (err, req, res) => {
      const reply = res as unknown as FastifyReply;
      if (guard(req, reply, accessOfPath(req.url))) return;
      const raw = req.url.split('?')[0]!;
      const message = err.code === 'FST_ERR_BAD_URL' ? `path '${raw.slice(0, 200)}' is not valid percent-encoding (UTF-8)` : err.message;
      void reply.code(400).send({ error: message });
    },
  }).withTypeProvider<ZodTypeProvider>();

  // Validation with the zod schemas, answering 400 with the fields named as the API always has.
  app.setValidatorCompiler(({ schema, httpPart }) => (data: unknown) => {
    // fastify hands a missing body over as null; an optional body means "none sent".
    const result = (schema as z.ZodType).safeParse(httpPart === 'body' && data === null ? undefined : data);
    if (result.success) return { value: result.data };
    const where = httpPart === 'querystring' ? 'query' : httpPart === 'params' ? 'params' : httpPart === 'headers' ? 'headers' : 'body';
    return { error: validationError(result.error.issues, where) };
  });
  // Response schemas describe answers in the OpenAPI document; answers are plain JSON.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Herald API', version: packageVersion(), description: 'Bulk email campaigns: lists, campaigns, deliveries, suppressions.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'HERALD_API_TOKEN' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  function accessOf(req: FastifyRequest): Access {
    const config = req.routeOptions.config as Partial<RouteConfig> | undefined;
    return config?.access ?? accessOfPath(req.url);
  }

  /**
   * The access checks of a request's group; true when it has been answered (refused).
   * Everything but the public group answers only to the server's own names when no token
   * guards it; the token group needs the bearer token, and its state-changing requests must
   * come from no other site and carry the body type the route reads (requestGuard.ts).
   */
  function guard(req: FastifyRequest, reply: FastifyReply, access: Access, body: RouteConfig['body'] = 'json'): boolean {
    if (access === 'public') return false;
    if (!options.apiToken) {
      const refused = foreignHost(req.raw, hosts);
      if (refused) return refuse(reply, 403, refused);
    }
    if (access !== 'token') return false;
    if (!authorized(req.raw)) {
      void reply.header('www-authenticate', 'Bearer realm="herald"');
      return refuse(reply, 401, UNAUTHORIZED);
    }
    if (isStateChanging(req.raw)) {
      const crossSite = foreignOrigin(req.raw, options.config.publicUrl);
      if (crossSite) return refuse(reply, 403, crossSite);
      const wrongType = wrongContentType(req.raw, body === 'csv' ? 'csv' : 'json');
      if (wrongType) return refuse(reply, 415, wrongType);
    }
    return false;
  }

  app.addHook('onRequest', async (req, reply) => {
    const config = req.routeOptions.config as Partial<RouteConfig> | undefined;
    const access = accessOf(req);
    if (guard(req, reply, access, config?.body)) return reply;
    if (access !== 'token') return;
    // Postgres cannot store a NUL in text: refused here as the client's mistake, not a 500.
    for (const [key, value] of new URLSearchParams(req.url.split('?')[1] ?? '')) {
      if (key.includes('\0') || value.includes('\0')) throw new HttpError(400, `query parameter ${JSON.stringify(key)} contains a NUL byte`);
    }
    for (const value of Object.values((req.params ?? {}) as Record<string, string>)) {
      if (value.includes('\0')) throw new HttpError(400, `path segment '${encodeURIComponent(value)}' contains a NUL byte`);
    }
  });
  // A JSON route sent no body at all (and so no content type) is told what it should send.
  app.addHook('preValidation', async (req) => {
    const config = req.routeOptions.config as Partial<RouteConfig> | undefined;
    const bodySchema = req.routeOptions.schema?.body as z.ZodType | undefined;
    if (config?.body === 'json' && req.body === undefined && bodySchema && !bodySchema.safeParse(undefined).success) {
      throw new HttpError(415, `expected content-type application/json, got '${req.headers['content-type'] || 'none'}'`);
    }
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    void reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setErrorHandler(async (err: unknown, req, reply) => {
    const e = err as Error & { code?: string; statusCode?: number; validationContext?: string };
    // A campaign that does not exist is the answer before a body that does not fit: the
    // handlers look the campaign up first, and a client fixing its body would still get 404.
    if (e.validationContext === 'body' && req.url.startsWith('/api/v1/campaigns/')) {
      const id = Number((req.params as { id?: unknown } | undefined)?.id);
      if (Number.isSafeInteger(id) && !(await findCampaign(db.kysely, id))) return reply.code(404).send({ error: `campaign ${id} does not exist` });
    }
    if (e instanceof HttpError) {
      if (e.headers) void reply.headers(e.headers);
      return reply.code(e.status).send({ error: e.message, ...(e.fields ? { fields: e.fields } : {}) });
    }
    if (err instanceof UserError) {
      const status = err instanceof NotFoundError ? 404 : err instanceof ConflictError ? 409 : 400;
      return reply.code(status).send({ error: err.message, ...(err.fields ? { fields: err.fields } : {}) });
    }
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `request body larger than ${MAX_BODY} bytes` });
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return reply.code(e.statusCode).send({ error: e.message });
    log.error({ err: e.message, path: req.url.split('?')[0] }, 'request failed');
    return reply.code(500).send({ error: 'internal error' });
  });

  const reads = new CampaignReads(db, options.config.apiCacheMs, options.metrics, log);
  const unwatch = options.metrics.watchStreams(() => reads.watchers.counts());
  app.addHook('onClose', async () => {
    reads.close();
    unwatch();
  });
  const ctx: ApiContext = {
    db,
    config: options.config,
    log,
    metrics: options.metrics,
    unsubscribeSecret: options.unsubscribeSecret,
    webhookSigningKey: options.webhookSigningKey,
    tokenRequired: options.apiToken !== undefined,
    ingester: new EventIngester(db.kysely, log, defaultIngesterOptions, (events) => options.metrics.recordEvents(events)),
    reads,
  };
  const table = routeTable(ctx, loadDashboardAssets(), () => app.swagger());
  // Body parsers differ per group, so each group is its own encapsulated context.
  await app.register(async (publicRoutes: FastifyInstance) => {
    // Unsubscribe forms and webhooks: the raw bytes, whatever the type (the webhook signature
    // is checked over them; a one-click POST's form says nothing the token does not).
    publicRoutes.removeAllContentTypeParsers();
    publicRoutes.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY }, (_req, body, done) => done(null, body));
    for (const r of table) if (r.config?.access !== 'token') publicRoutes.route(r);
  });
  await app.register(async (apiRoutes: FastifyInstance) => {
    apiRoutes.removeAllContentTypeParsers();
    apiRoutes.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: MAX_BODY }, (_req, raw, done) => {
      const text = raw as string;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return done(new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`), undefined);
      }
      if (text.includes('\\u0000') && hasNul(value)) return done(new HttpError(400, 'request body contains a NUL character (\\u0000)'), undefined);
      done(null, value);
    });
    // CSV uploads are not read here: the handler streams them to disk under its own limit.
    apiRoutes.addContentTypeParser('text/csv', (_req, _payload, done) => done(null, undefined));
    for (const r of table) if (r.config?.access === 'token' && r.config.body !== 'none') apiRoutes.route(r);
  });
  await app.register(async (noBodyRoutes: FastifyInstance) => {
    // A route that reads no body ignores whatever was sent, of any size, as it always has:
    // the bytes are drained, never buffered, so there is nothing to limit.
    noBodyRoutes.removeAllContentTypeParsers();
    noBodyRoutes.addContentTypeParser('*', (_req, payload, done) => {
      payload.resume();
      done(null, undefined);
    });
    for (const r of table) if (r.config?.access === 'token' && r.config.body === 'none') noBodyRoutes.route(r);
  });

  // Under /api/ and at /metrics, a path that some route serves with another method is a 405; anything else 404.
  const patterns = table.map((r) => ({
    methods: new Set([r.method].flat()),
    pattern: new RegExp(`^${r.url.replace(/:[A-Za-z]+/g, '[^/]+')}$`),
  }));
  app.setNotFoundHandler(async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (!path.startsWith('/api/') && path !== '/metrics') return reply.code(404).type('text/plain; charset=utf-8').send('not found');
    if (patterns.some((p) => p.pattern.test(path) && !p.methods.has(req.method as never))) throw new HttpError(405, `${req.method} is not allowed on ${path}`);
    throw new HttpError(404, `no such endpoint: ${path}`);
  });

  // Webhooks and API writes change deliveries too; their count changes are folded here as well.
  const stopFolding = options.foldCountsEveryMs === 0 ? async () => undefined : startCountFolding(db.kysely, log, options.foldCountsEveryMs);
  options.metrics.watchFunnels(() => recentFunnels(db.kysely, 7));
  app.addHook('onClose', async () => {
    await ctx.ingester.close();
    await stopFolding();
  });
  await app.listen({ port: options.port, host: options.host });
  const { port } = app.server.address() as AddressInfo;
  hosts = allowedHosts(options.host, port, options.config.publicUrl);
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, close: () => app.close() };
}

/** The group of a path no route serves (for 404s, 405s and malformed URLs). */
function accessOfPath(url: string): Access {
  const path = url.split('?')[0]!;
  if (path.startsWith('/u/') || path === '/webhooks/mailgun' || path === '/healthz') return 'public';
  if (path === '/metrics' || path.startsWith('/api/')) return 'token';
  return 'page';
}

function refuse(reply: FastifyReply, status: number, error: string): true {
  void reply.code(status).send({ error });
  return true;
}
