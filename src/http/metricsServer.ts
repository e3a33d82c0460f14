import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../sender/metrics.js';
import type { RunningServer } from './app.js';
import { UserError } from '../domain/errors.js';
import { bearerCheck } from './bearer.js';
import { allowedHosts, foreignHost, isLoopback } from './requestGuard.js';

/**
 * `herald worker --metrics-port`: GET /metrics only; behind HERALD_API_TOKEN when it is set.
 * Without a token it listens on loopback only and answers only to its own names, as `serve`.
 */
export async function startMetricsServer(metrics: Metrics, host: string, port: number, token: string | undefined): Promise<RunningServer> {
  if (!token && !isLoopback(host)) {
    throw new UserError(`HERALD_API_TOKEN is not set: refusing to serve metrics on ${host}; set it, or use --metrics-host 127.0.0.1`);
  }
  const authorized = bearerCheck(token);
  let hosts: ReadonlySet<string> = new Set();
  const server = http.createServer((req, res) => {
    const refused = token ? null : foreignHost(req, hosts);
    if (refused) return void res.writeHead(403).end(refused);
    if (req.url !== '/metrics' || req.method !== 'GET') return void res.writeHead(404).end('not found');
    if (!authorized(req)) {
      return void res.writeHead(401, { 'www-authenticate': 'Bearer realm="herald"' }).end('missing or wrong bearer token');
    }
    metrics.exposition().then(
      (body) => res.writeHead(200, { 'content-type': metrics.contentType }).end(body),
      () => res.writeHead(500).end('could not collect metrics'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  hosts = allowedHosts(host, bound, undefined);
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
