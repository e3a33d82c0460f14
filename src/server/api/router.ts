import type http from 'node:http';
import { HttpError, type Reply } from '../http.js';

export interface RouteContext {
  req: http.IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
}

export type Handler = (ctx: RouteContext) => Promise<Reply>;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/** Method + path patterns like `/api/v1/campaigns/:id/pause`; 404 and 405 when nothing fits. */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${path.replace(/:([a-zA-Z]+)/g, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      })}$`,
    );
    this.routes.push({ method, pattern, names, handler });
    return this;
  }

  async dispatch(req: http.IncomingMessage, url: URL): Promise<Reply> {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1]!)));
      return route.handler({ req, params, query: url.searchParams });
    }
    if (pathMatched) throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}`);
    throw new HttpError(404, `no such endpoint: ${url.pathname}`);
  }
}
