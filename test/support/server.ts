import { loadConfig } from '../../src/config/config.js';
import { Metrics } from '../../src/sender/metrics.js';
import type { ServerOptions } from '../../src/http/app.js';

/** Options for startServer on a free loopback port; tests override what they are about. */
export function serverOptions(overrides: Partial<ServerOptions> = {}): ServerOptions {
  return {
    host: '127.0.0.1',
    port: 0,
    unsubscribeSecret: 'test-unsubscribe-secret',
    webhookSigningKey: undefined,
    apiToken: undefined,
    config: loadConfig({ ...process.env, MAILGUN_API_KEY: '', MAILGUN_DOMAIN: '' }),
    metrics: new Metrics(),
    ...overrides,
  };
}
