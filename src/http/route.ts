import type { FastifySchema, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault, RouteGenericInterface, RouteOptions } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

/**
 * Who may call a route:
 * - `public`: unsubscribe links and Mailgun webhooks come from mail clients and Mailgun,
 *   through whatever name a proxy forwards; each carries its own proof (a signed token, a
 *   signature), so neither Host nor Origin nor a bearer token applies. /healthz too.
 * - `page`: the dashboard page, its static files and /openapi.json hold no data; a browser
 *   cannot send a bearer token when it navigates, so they need none, but without a token
 *   they answer only to the server's own names (DNS rebinding, see requestGuard.ts).
 * - `token`: the API and /metrics, behind HERALD_API_TOKEN, with the cross-site checks.
 */
export type Access = 'public' | 'page' | 'token';

/** What a route reads from the body: nothing, JSON, a streamed CSV upload, or raw bytes. */
export type BodyKind = 'none' | 'json' | 'csv' | 'raw';

export interface RouteConfig {
  access: Access;
  body: BodyKind;
}

type Options<S extends FastifySchema> = RouteOptions<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  RouteGenericInterface,
  RouteConfig,
  S,
  ZodTypeProvider
>;

export type Route = Options<FastifySchema>;

/** One row of the route table; the handler's request is typed from the zod schemas. */
export function route<S extends FastifySchema>(access: Access, body: BodyKind, options: Omit<Options<S>, 'config'>): Route {
  return { ...options, config: { access, body } } as unknown as Route;
}
