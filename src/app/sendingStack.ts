import type { Config } from './config.js';
import type { Campaign } from '../db/schema.js';
import type { CampaignRenderSpec } from '../sender/render/types.js';
import { requireMailgun } from './config.js';
import type { Db } from '../db/connect.js';
import type { Logger } from './log.js';
import { MailgunClient } from '../provider/mailgun/client.js';
import type { Metrics } from '../sender/metrics.js';
import { templatesDir } from './paths.js';
import { tuneGarbageCollection } from './gcTuning.js';
import { RenderPool } from '../sender/render/pool.js';
import { renderSpecFor } from '../sender/render/spec.js';
import { SenderProcess, defaultSenderProcessOptions, type SenderProcessOptions } from '../sender/senderProcess.js';
import { defaultRunSettings } from '../sender/campaignRun.js';
import { unsubscribeSecret } from '../sql/settings.js';
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
  });
  const { renderer, specFor } = await openRendering(config, db, options);
  const workerOptions: SenderProcessOptions = {
    ...defaultSenderProcessOptions,
    run,
    leaseMs,
    domain: mailgun.domain,
    ...(options.scheduleGrace !== undefined ? { scheduleGraceMs: options.scheduleGrace } : {}),
  };
  const worker = new SenderProcess(
    { db, log, client, renderer, renderSpec: specFor, ...(options.clock ? { clock: options.clock } : {}), ...(options.metrics ? { metrics: options.metrics } : {}) },
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

export interface Rendering {
  renderer: RenderPool;
  specFor: (campaign: Campaign) => CampaignRenderSpec;
}

/** The render pool and how to describe a campaign to it, as every sending path needs them. */
export async function openRendering(config: Config, db: Db, options: SendingOptions = {}): Promise<Rendering> {
  const renderer = new RenderPool(options.renderThreads ? { threads: options.renderThreads } : {});
  const runKey = String(Date.now());
  // Every message carries one-click unsubscribe headers, signed with HERALD_SECRET or a
  // secret generated once and kept in the database.
  const signing = { ...config, secret: await unsubscribeSecret(db.kysely, config.secret) };
  const dir = templatesDir();
  return { renderer, specFor: (campaign) => renderSpecFor(campaign, signing, dir, runKey) };
}

export function openMailgunClient(config: Config, concurrency = 4, timeoutMs = 10_000): MailgunClient {
  return new MailgunClient({ ...requireMailgun(config), connections: concurrency, timeoutMs });
}
