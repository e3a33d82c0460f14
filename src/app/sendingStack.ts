import type { Config } from '../config/config.js';
import { requireMailgun } from '../config/config.js';
import type { Db } from '../db/connect.js';
import type { Logger } from '../config/log.js';
import { MailgunClient } from '../provider/mailgun/client.js';
import type { Metrics } from '../sender/metrics.js';
import { tuneGarbageCollection } from './gcTuning.js';
import { openRendering } from '../sender/render/openRendering.js';
import { SenderProcess, defaultSenderProcessOptions, type SenderProcessOptions } from '../sender/senderProcess.js';
import { defaultRunSettings } from '../sender/campaignRun.js';
import { assertRedisReachable, RedisUnreachableError } from '../sender/send/pacer.js';
import { UserError } from '../domain/errors.js';

export interface SendingOptions {
  concurrency?: number;
  batchSize?: number;
  leaseMs?: number;
  renderThreads?: number;
  /** Longest render of one recipient before it fails with render_timeout (tests shorten it). */
  renderTimeout?: number;
  requestTimeout?: number;
  scheduleGrace?: number;
  maxAttempts?: number;
  /** Which cap day it is; tests move it forward. */
  clock?: () => Date;
  reconcileAfter?: number;
  /** With Redis: how long a wait for permits may last before it is reported (default 15 s). */
  limiterStall?: number;
  /** How often a capped campaign looks again (default 10 s). */
  capRecheckMs?: number;
  metrics?: Metrics;
}

export interface SendingStack {
  worker: SenderProcess;
  close(): Promise<void>;
}

/** Wires a SenderProcess to the provider, the render pool and the database for a sending command. */
export async function openSendingStack(config: Config, db: Db, log: Logger, options: SendingOptions = {}): Promise<SendingStack> {
  const mailgun = requireMailgun(config);
  if (config.redisUrl) {
    try {
      await assertRedisReachable(config.redisUrl);
    } catch (err) {
      throw err instanceof RedisUnreachableError ? new UserError(err.message) : err;
    }
  }
  tuneGarbageCollection();
  const run = {
    ...defaultRunSettings,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    ...(options.maxAttempts ? { retryPolicy: { ...defaultRunSettings.retryPolicy, maxAttempts: options.maxAttempts } } : {}),
    ...(options.capRecheckMs ? { capRecheckMs: options.capRecheckMs } : {}),
    ...(options.renderTimeout ? { renderTimeoutMs: options.renderTimeout } : {}),
    ...(options.reconcileAfter !== undefined ? { reconcileAfterMs: options.reconcileAfter } : {}),
    ...(options.limiterStall !== undefined ? { limiterStallMs: options.limiterStall } : {}),
    ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
  };
  const leaseMs = options.leaseMs ?? defaultSenderProcessOptions.leaseMs;
  const client = new MailgunClient({
    ...mailgun,
    connections: run.concurrency,
    // See SenderProcessOptions.leaseMs: a request must end before the lease could expire.
    timeoutMs: Math.min(options.requestTimeout ?? 10_000, Math.floor(leaseMs / 4)),
    log,
  });
  const { renderer, specFor, contentFor } = await openRendering(config, db, options);
  const workerOptions: SenderProcessOptions = {
    ...defaultSenderProcessOptions,
    run,
    leaseMs,
    domain: mailgun.domain,
    ...(options.scheduleGrace !== undefined ? { scheduleGraceMs: options.scheduleGrace } : {}),
  };
  const worker = new SenderProcess(
    {
      db,
      log,
      client,
      renderer,
      renderSpec: specFor,
      contentFor,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    },
    workerOptions,
  );
  await worker.start();
  // Called by both the signal handler and the command's own cleanup: close once.
  let closing: Promise<void> | null = null;
  return {
    worker,
    close: () =>
      (closing ??= (async () => {
        await worker.stop();
        await renderer.close();
        await client.close();
      })()),
  };
}
