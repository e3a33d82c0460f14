import type { Logger } from '../config/log.js';

/**
 * First SIGINT/SIGTERM: graceful stop (finish requests in flight, flush results, release
 * unsent claims), bounded by `timeoutMs`. A second signal, or the timeout, exits at once.
 */
export function onShutdownSignal(log: Logger, timeoutMs: number, gracefulStop: () => Promise<void>): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal, timeoutMs }, 'stopping gracefully (send the signal again to exit now)');
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'graceful stop timed out: exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    gracefulStop().then(
      () => clearTimeout(timer),
      (err: Error) => {
        log.error({ err: err.message }, 'graceful stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** For servers that run until stopped: resolves once SIGINT/SIGTERM came and `close` finished. */
export function closeOnSignal(close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
