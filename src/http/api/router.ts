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
    // Postgres cannot store a NUL in text: refused here as the client's mistake, not a 500.
    for (const [key, value] of url.searchParams) {
      if (key.includes('\0') || value.includes('\0')) throw new HttpError(400, `query parameter ${JSON.stringify(key)} contains a NUL byte`);
    }
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeSegment(m[i + 1]!)));
      return route.handler({ req, params, query: url.searchParams });
    }
    if (pathMatched) throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}`);
    throw new HttpError(404, `no such endpoint: ${url.pathname}`);
  }
}

/** A path segment, percent-decoded; malformed encoding and NUL bytes are the client's error. */
function decodeSegment(raw: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, `path segment '${raw}' is not valid percent-encoding (UTF-8)`);
  }
  if (value.includes('\0')) throw new HttpError(400, `path segment '${raw}' contains a NUL byte`);
  return value;
}
