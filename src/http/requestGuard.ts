import type http from 'node:http';

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * The `Host` values a browser sends to reach this server on its own: the bound address and
 * the loopback names, each with the port (bare on port 80), and the public host from
 * HERALD_PUBLIC_URL (where a reverse proxy forwards unsubscribe links and webhooks).
 */
export function allowedHosts(boundHost: string, port: number, publicUrl: string | undefined): Set<string> {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]', boundHost.includes(':') && !boundHost.startsWith('[') ? `[${boundHost}]` : boundHost]);
  const hosts = new Set<string>();
  for (const name of names) {
    hosts.add(`${name.toLowerCase()}:${port}`);
    if (port === 80) hosts.add(name.toLowerCase());
  }
  if (publicUrl && URL.canParse(publicUrl)) hosts.add(new URL(publicUrl).host.toLowerCase());
  return hosts;
}

/**
 * Refuses a request whose `Host` is not this server. Without HERALD_API_TOKEN the server is
 * open to anything that can reach loopback, and that includes web pages the operator visits:
 * through DNS rebinding a page's own name resolves to 127.0.0.1, so its requests are
 * "same-origin" to the browser and only the Host header tells them apart. Returns the reason
 * to refuse, or null.
 */
export function foreignHost(req: http.IncomingMessage, allowed: ReadonlySet<string>): string | null {
  const host = (req.headers.host ?? '').toLowerCase();
  if (allowed.has(host)) return null;
  return `Host '${host.slice(0, 100) || 'none'}' is not this server (expected one of ${[...allowed].join(', ')}; set HERALD_PUBLIC_URL for another name)`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isStateChanging(req: http.IncomingMessage): boolean {
  return !SAFE_METHODS.has(req.method ?? 'GET');
}

/**
 * Refuses a state-changing request sent by another site's page. Browsers send `Origin` with
 * every cross-origin POST (forms and `fetch` in no-cors mode included, which need no CORS
 * preflight), and `Sec-Fetch-Site` on top in current browsers; command-line clients send
 * neither. The origin must be the one the request was sent to, or HERALD_PUBLIC_URL's.
 */
export function foreignOrigin(req: http.IncomingMessage, publicUrl: string | undefined): string | null {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  const ownHost = (req.headers.host ?? '').toLowerCase();
  const publicHost = publicUrl && URL.canParse(publicUrl) ? new URL(publicUrl).host.toLowerCase() : null;
  const originHost = URL.canParse(origin) ? new URL(origin).host.toLowerCase() : null;
  if (originHost !== null && originHost !== '' && (originHost === ownHost || originHost === publicHost)) return null;
  return `cross-origin request refused (Origin: ${origin.slice(0, 100)})`;
}

/**
 * Where a body is expected it must be the type the route reads; where none is expected
 * (start, pause, DELETE …) there must be none, or a JSON one. A page on another site can send
 * text/plain, form-encoded or multipart bodies without asking the server first (no CORS
 * preflight), never application/json or text/csv.
 */
export function wrongContentType(req: http.IncomingMessage, expected: 'json' | 'csv'): string | null {
  const type = req.headers['content-type'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  const want = expected === 'csv' ? /^text\/csv\s*(;|$)/i : /^application\/json\s*(;|$)/i;
  if (type === undefined ? !hasBody : want.test(type)) return null;
  return `expected content-type ${expected === 'csv' ? 'text/csv' : 'application/json'}, got '${(type ?? 'none').slice(0, 100)}'`;
}
