import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs go to stderr so stdout stays clean for command output (ids, CSV reports).
 * Anything that could carry a credential is redacted by path, whatever the caller passes.
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'apiKey',
          '*.apiKey',
          'password',
          '*.password',
          'authorization',
          '*.authorization',
          'headers.authorization',
          'signingKey',
          '*.signingKey',
          'secret',
          '*.secret',
          'databaseUrl',
          '*.databaseUrl',
          'apiToken',
          '*.apiToken',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
