import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../metrics.js';
import type { RunningServer } from './app.js';
import { bearerCheck } from './bearer.js';

/** `herald worker --metrics-port`: GET /metrics only; behind HERALD_API_TOKEN when it is set. */
export async function startMetricsServer(metrics: Metrics, host: string, port: number, token: string | undefined): Promise<RunningServer> {
  const authorized = bearerCheck(token);
  const server = http.createServer((req, res) => {
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
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
