import type { FastifyReply } from 'fastify';

/**
 * A client that does not read its stream is dropped once this much is waiting for it, rather
 * than kept in memory: it reconnects (EventSource does by itself) and gets the latest answer.
 */
const MAX_UNSENT_BYTES = 1024 * 1024;
/** What EventSource waits before reconnecting after a dropped stream. */
const RETRY_MS = 2000;

/**
 * Answers with a server-sent event stream (text/event-stream) fed by `subscribe`, which gets
 * the function that writes to this stream and returns the one that ends the subscription;
 * that is called when the client goes away or the server closes.
 */
export function openEventStream(reply: FastifyReply, subscribe: (send: (chunk: string) => void) => () => void): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // Reverse proxies (nginx) would otherwise hold events back to fill a buffer.
    'x-accel-buffering': 'no',
  });
  res.write(`retry: ${RETRY_MS}\n\n`);
  let unsubscribe: (() => void) | null = null;
  const end = () => {
    unsubscribe?.();
    unsubscribe = null;
  };
  res.on('close', end);
  unsubscribe = subscribe((chunk) => {
    if (res.destroyed) return end();
    if (res.writableLength > MAX_UNSENT_BYTES) {
      res.destroy();
      return end();
    }
    res.write(chunk);
  });
  // The client may have left while subscribing.
  if (res.destroyed) end();
}
