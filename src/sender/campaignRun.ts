import { setMaxListeners } from 'node:events';
import type { Kysely } from 'kysely';
import type { Campaign, Database } from '../db/schema.js';
import { defaultRetryPolicy, type RetryPolicy } from '../domain/retryPolicy.js';
import type { Logger } from '../config/log.js';
import type { Provider } from '../provider/provider.js';
import type { RequestOutcome } from './metrics.js';
import { describeAccountError } from '../domain/retryPolicy.js';
import { campaignStatus } from '../sql/campaignStatus.js';
import { finishIfComplete } from '../sql/finishIfComplete.js';
import { pauseCampaignFor } from '../sql/pauseCampaignFor.js';
import { releaseClaims } from '../sql/releaseClaims.js';
import { oldestUnknownClaim } from '../sql/oldestUnknownClaim.js';
import { claimBatch, type ClaimedRecipient } from '../sql/claimBatch.js';
import { BoundedQueue } from './queue.js';
import type { Reporter } from './report/reporter.js';
import { resolveUnknownDeliveries } from './recovery.js';
import { BodyBatch } from './render/bodyBatch.js';
import type { CampaignRenderSpec, RenderResult, RenderTask } from './render/types.js';
import { SendBacklog, type OutgoingMessage } from './send/backlog.js';
import type { ConcurrencyLimit } from './send/concurrencyLimit.js';
import { Pacer } from './send/pacer.js';
import type { ProviderGate } from './send/providerGate.js';
import { runSenders } from './send/senders.js';

/** What the send path needs from the render pool. */
export interface Renderer {
  readonly threads: number;
  render(task: RenderTask, options: { timeoutMs: number }): Promise<RenderResult>;
  /** Takes back a result's `bodies` once no message reads it any more (see BodyBatch). */
  recycle(buffer: ArrayBuffer): void;
}

export interface RunSettings {
  /** Recipients claimed per statement. */
  batchSize: number;
  /**
   * Recipients per render task. Smaller than a claim: each task's bodies share one buffer
   * that lives until its last message is sent, so small tasks keep memory low. 50 rather than
   * 100 lowered the peak RSS at no measurable CPU cost (BENCHMARKS.md, "Why these hand-written parts").
   */
  renderBatchSize: number;
  /** Requests in flight per campaign (unless the campaign sets a lower max). */
  concurrency: number;
  renderTimeoutMs: number;
  retryPolicy: RetryPolicy;
  redisUrl?: string;
  /** With Redis: a wait for permits this long is reported (onLimiterTrouble) and the limiter rebuilt. */
  limiterStallMs?: number;
  /** How often a running campaign's status is re-read (LISTEN/NOTIFY makes it sooner). */
  statusPollMs: number;
  /**
   * While its domain's daily cap is used up, how often a campaign looks again (a raised cap
   * or refunded quota lets it go on before the next cap day).
   */
  capRecheckMs: number;
  /**
   * Mailgun's event log is complete only after a while (the API guide: ~30 min), so a send
   * of unknown outcome is looked up only this long after it was claimed; until then the
   * campaign sends everyone else and cannot finish.
   */
  reconcileAfterMs: number;
}

export const defaultRunSettings: RunSettings = {
  batchSize: 500,
  renderBatchSize: 50,
  concurrency: 500,
  renderTimeoutMs: 30_000,
  retryPolicy: defaultRetryPolicy,
  statusPollMs: 1000,
  capRecheckMs: 10_000,
  reconcileAfterMs: 30 * 60_000,
};

export interface RunDeps {
  db: Kysely<Database>;
  log: Logger;
  workerId: string;
  renderer: Renderer;
  client: Provider;
  reporter: Reporter;
  /** The campaign's render spec with its stored content (sender/render/campaignSpec.ts). */
  renderSpec: (campaign: Campaign) => Promise<CampaignRenderSpec>;
  /** Resolves when this worker may send (lease fresh, results recordable). */
  mayProceed: () => Promise<void> | void;
  onRequest?: () => void;
  onResponse?: (latencyMs: number, outcome: RequestOutcome) => void;
  onRender?: (seconds: number) => void;
  /** The sending domain, and its limits shared by every campaign (and worker, with Redis). */
  domain: string;
  domainPacer: Pacer;
  domainSlots: ConcurrencyLimit;
  /** Holds sending while the domain's provider is down. */
  gate: ProviderGate;
  /** Installation-wide prefix of the shared limiter ids in Redis. */
  limiterPrefix: string;
  /** The campaign's limiter cannot hand out permits (err), or can again (null). */
  onLimiterTrouble?: (err: Error | null) => void;
  clock: () => Date;
  /** Recipients erased since they were claimed: not sent (see SendersOptions.withdrawn). */
  withdrawn?: (recipientId: number) => boolean;
}

export type HaltReason = 'paused' | 'cancelled' | 'shutdown' | 'lease_lost' | 'stopped';

export type RunOutcome =
  | { kind: 'finished' }
  /**
   * Everything this run claimed is settled, but the campaign still has open rows elsewhere,
   * or sends of unknown outcome to look up at `retryAt`.
   */
  | { kind: 'drained'; retryAt: Date | null }
  | { kind: 'halted'; reason: HaltReason; released: number; pausedFor?: string };

/**
 * One worker's share of one campaign: claim → render → send → report, with bounded queues
 * between the stages. `halt` stops claiming, drops what was not yet sent, lets requests in
 * flight finish, flushes their results and releases the unsent claims.
 */
export class CampaignRun {
  readonly done: Promise<RunOutcome>;
  /** Set while the sending domain's daily cap holds this run back: when it resets. */
  waitingUntil: Date | null = null;
  private haltReason: HaltReason | null = null;
  /** Aborted on halt: senders waiting for permits or for the provider stop waiting. */
  private readonly halting = new AbortController();
  /** Why this run paused its campaign itself (the provider refused the account). */
  private pausedFor: string | null = null;
  private pausing: Promise<unknown> | null = null;
  private ended = false;
  private readonly renderQueue: BoundedQueue<ClaimedRecipient[]>;
  private readonly backlog: SendBacklog;
  private readonly pacer: Pacer;
  private readonly concurrency: number;
  private readonly wake = new Set<() => void>();
  /** The claimed recipients the producer has not put in the render queue yet, and the batch it is putting. */
  private unqueued: ClaimedRecipient[] = [];
  private putting: ClaimedRecipient[] = [];

  constructor(
    readonly campaign: Campaign,
    private readonly deps: RunDeps,
    private readonly settings: RunSettings = defaultRunSettings,
  ) {
    this.concurrency = Math.min(settings.concurrency, campaign.max_concurrency ?? Infinity);
    // Every sender waiting for permits or for the provider listens for the halt.
    setMaxListeners(0, this.halting.signal);
    // About two claims' worth of work waiting for the render threads.
    this.renderQueue = new BoundedQueue(Math.max(2, Math.ceil((2 * settings.batchSize) / settings.renderBatchSize)));
    // Enough rendered messages to cover a render thread's pause, not a full round of senders:
    // every body waiting here is memory, and the senders take them faster than one render
    // thread refills them anyway. Half the concurrency lowered the peak RSS at the same
    // rate (BENCHMARKS.md, "Why these hand-written parts").
    this.backlog = new SendBacklog(Math.ceil(this.concurrency / 2) + settings.renderBatchSize);
    this.pacer = new Pacer({
      ratePerSecond: campaign.rate_per_second,
      id: `${deps.limiterPrefix}:campaign:${campaign.id}`,
      adaptive: false,
      ...(settings.redisUrl ? { redisUrl: settings.redisUrl } : {}),
      ...(deps.onLimiterTrouble ? { onTrouble: deps.onLimiterTrouble } : {}),
      ...(settings.limiterStallMs ? { stallMs: settings.limiterStallMs } : {}),
    });
    this.done = this.run();
  }

  /** Work waiting between this run's stages, for metrics. */
  depths(): { render: number; send: number; retry: number } {
    return { render: this.renderQueue.size, send: this.backlog.waiting, retry: this.backlog.retrying };
  }

  halt(reason: HaltReason): void {
    if (this.haltReason) return;
    this.haltReason = reason;
    this.deps.log.info({ campaignId: this.campaign.id, reason }, 'stopping campaign run');
    this.halting.abort();
    this.renderQueue.drain();
    this.renderQueue.close();
    this.backlog.stop();
    for (const wake of this.wake) wake();
  }

  /**
   * These recipients were erased: whatever this run holds for them and has not sent (claimed
   * batches waiting to render, messages waiting for a sender or a retry) is dropped and
   * recorded `skipped` (reason `erased`) now, so the erasure sees its claims settled at once.
   * A message being rendered, or taken by a sender and waiting for a permit, is caught by the
   * same check later (dispatch, SendersOptions.withdrawn); one whose request is under way
   * ends as it ends (docs/operations.md, "Erasing a person").
   */
  withdraw(ids: ReadonlySet<number>): void {
    if (this.ended) return;
    const dropped: Array<{ recipientId: number; attempts: number }> = [];
    // In place: the producer holds these arrays while it waits for room in the render queue.
    const dropFrom = (batch: ClaimedRecipient[]): void => {
      let kept = 0;
      for (const r of batch) {
        if (ids.has(r.recipientId)) dropped.push({ recipientId: r.recipientId, attempts: 0 });
        else batch[kept++] = r;
      }
      batch.length = kept;
    };
    dropFrom(this.unqueued);
    dropFrom(this.putting);
    this.renderQueue.rewrite((batch) => {
      dropFrom(batch);
      return batch.length > 0 ? batch : null;
    });
    for (const m of this.backlog.withdraw((m) => ids.has(m.recipientId))) {
      m.batch?.done();
      m.batch = null;
      dropped.push({ recipientId: m.recipientId, attempts: m.attempts });
    }
    for (const d of dropped) void this.deps.reporter.add(this.erasedResult(d.recipientId, d.attempts));
  }

  private erasedResult(recipientId: number, attempts: number) {
    return {
      campaignId: this.campaign.id,
      recipientId,
      status: 'skipped' as const,
      attempts,
      providerId: null,
      errorCode: 'erased',
      errorMessage: null,
      sentAt: null,
    };
  }

  /** Re-reads the campaign status now (called on NOTIFY). */
  async checkStatus(): Promise<void> {
    if (this.ended) return;
    const status = await campaignStatus(this.deps.db, this.campaign.id);
    if (this.ended) return;
    if (status === 'paused') this.halt('paused');
    else if (status === 'cancelled') this.halt('cancelled');
    else if (status !== 'running') this.halt('stopped');
  }

  private async run(): Promise<RunOutcome> {
    const { db, log } = this.deps;
    const id = this.campaign.id;
    const watcher = setInterval(() => {
      this.checkStatus().catch((err: Error) => log.warn({ campaignId: id, err: err.message }, 'status check failed'));
    }, this.settings.statusPollMs);
    try {
      await this.retrying('resolve unknown deliveries', () =>
        resolveUnknownDeliveries(
          db,
          this.deps.client,
          id,
          this.campaign.unknown_policy,
          log,
          this.deps.domain,
          new Date(this.deps.clock().getTime() - this.settings.reconcileAfterMs),
        ),
      );
      // Read once per run: every render loop and every recipient of this run renders the content
      // stored at the campaign's start.
      const spec = await this.retrying('read the campaign content', () => this.deps.renderSpec(this.campaign), true);
      const renderLoops = spec ? Array.from({ length: this.deps.renderer.threads + 1 }, () => this.renderLoop(spec)) : [];
      const rendered = Promise.all(renderLoops).then(() => this.backlog.close());
      const sending = runSenders({
        client: this.deps.client,
        domain: this.deps.domain,
        backlog: this.backlog,
        pacers: [this.pacer, this.deps.domainPacer],
        domainSlots: this.deps.domainSlots,
        retryPolicy: this.settings.retryPolicy,
        concurrency: this.concurrency,
        gate: this.deps.gate,
        signal: this.halting.signal,
        mayProceed: this.deps.mayProceed,
        abandoned: () => this.haltReason !== null,
        ...(this.deps.withdrawn ? { withdrawn: this.deps.withdrawn } : {}),
        report: (r) => this.deps.reporter.add(r),
        onAccountError: (outcome) => this.pauseForAccount(outcome),
        ...(this.deps.onRequest ? { onRequest: this.deps.onRequest } : {}),
        ...(this.deps.onResponse ? { onResponse: this.deps.onResponse } : {}),
      });
      await this.produce();
      await Promise.all([rendered, sending]);
      await this.retrying('flush results', () => this.deps.reporter.flush());

      if (this.haltReason) {
        // The campaign is paused in the database before its claims go back, or a worker would
        // see it running and claim them again.
        if (this.pausing) await this.pausing;
        if (this.haltReason === 'lease_lost') return { kind: 'halted', reason: this.haltReason, released: 0 };
        const released = await this.retrying('release unsent claims', () => releaseClaims(db, id, this.deps.workerId, this.deps.domain));
        return { kind: 'halted', reason: this.haltReason, released: released ?? 0, ...(this.pausedFor ? { pausedFor: this.pausedFor } : {}) };
      }
      const finished = await this.retrying('finish campaign', () => finishIfComplete(db, id));
      if (finished) return { kind: 'finished' };
      const oldest = this.campaign.unknown_policy === 'reconcile' ? await this.retrying('look for unknown deliveries', () => oldestUnknownClaim(db, id)) : null;
      return { kind: 'drained', retryAt: oldest ? new Date(oldest.getTime() + this.settings.reconcileAfterMs) : null };
    } finally {
      this.ended = true;
      clearInterval(watcher);
      await this.pacer.close();
    }
  }

  /**
   * The provider refused the account, key or domain: every other message would be refused the
   * same way, so the campaign pauses itself with the reason (status, API and dashboard show
   * it), and its unsent claims are released. No recipient is marked failed; `resume` after the
   * fix sends them all.
   */
  private pauseForAccount(outcome: { code: string; message: string }): void {
    if (this.pausedFor || this.haltReason) return;
    const reason = describeAccountError(outcome.code, outcome.message, this.deps.domain);
    this.pausedFor = reason;
    this.deps.log.error({ campaignId: this.campaign.id, code: outcome.code }, `pausing the campaign: ${reason}`);
    this.pausing = this.retrying('pause the campaign', () => pauseCampaignFor(this.deps.db, this.campaign.id, reason));
    this.halt('paused');
  }

  private async produce(): Promise<void> {
    try {
      while (!this.haltReason) {
        const claim = await this.retrying(
          'claim recipients',
          () => claimBatch(this.deps.db, this.campaign.id, this.deps.workerId, this.settings.batchSize, { domain: this.deps.domain, now: this.deps.clock() }),
          true,
        );
        if (claim === undefined || claim.state === 'exhausted') return;
        if (claim.state === 'capped') {
          if (!this.waitingUntil)
            this.deps.log.info(
              { campaignId: this.campaign.id, domain: claim.domain, until: claim.until.toISOString() },
              'daily cap of the sending domain reached; waiting',
            );
          this.waitingUntil = claim.until;
          await this.sleep(Math.max(0, Math.min(this.settings.capRecheckMs, claim.until.getTime() - this.deps.clock().getTime())));
          continue;
        }
        this.waitingUntil = null;
        if (claim.state === 'stopped') {
          await this.checkStatus();
          this.halt(this.haltReason ?? 'stopped');
          return;
        }
        // What is not in the render queue yet stays where withdraw() can reach it.
        this.unqueued = claim.recipients;
        // Erased while this claim was on its way back (it committed before the erasure began).
        const erased = this.deps.withdrawn ? claim.recipients.filter((r) => this.deps.withdrawn!(r.recipientId)) : [];
        if (erased.length > 0) this.withdraw(new Set(erased.map((r) => r.recipientId)));
        while (this.unqueued.length > 0 && !this.haltReason) {
          this.putting = this.unqueued.splice(0, this.settings.renderBatchSize);
          await this.renderQueue.put(this.putting).catch(() => undefined);
          // Once in the queue it is withdraw()'s through the queue; once taken, a render may be
          // reading it, so it must not change any more (dispatch pairs it with the bodies by index).
          this.putting = [];
        }
        this.unqueued = [];
        this.putting = [];
      }
    } finally {
      this.renderQueue.close();
    }
  }

  private async renderLoop(spec: CampaignRenderSpec): Promise<void> {
    for (;;) {
      const recipients = await this.renderQueue.take();
      if (!recipients || this.haltReason) return;
      // Everyone in it was erased while it waited to go in (withdraw).
      if (recipients.length === 0) continue;
      const started = performance.now();
      const result = await this.deps.renderer.render({ spec, recipients }, { timeoutMs: this.settings.renderTimeoutMs });
      this.deps.onRender?.((performance.now() - started) / 1000);
      if (this.haltReason) return;
      await this.dispatch(recipients, result);
    }
  }

  private async dispatch(recipients: ClaimedRecipient[], result: RenderResult): Promise<void> {
    const failed = new Map(result.failures.map((f) => [f.index, f]));
    const { renderer } = this.deps;
    const batch = new BodyBatch(result.bodies, recipients.length - failed.size, (b) => renderer.recycle(b));
    for (let i = 0; i < recipients.length; i++) {
      const recipientId = recipients[i]!.recipientId;
      const failure = failed.get(i);
      if (!failure && this.deps.withdrawn?.(recipientId)) {
        batch.done();
        await this.deps.reporter.add(this.erasedResult(recipientId, 0));
        continue;
      }
      if (failure) {
        await this.deps.reporter.add({
          campaignId: this.campaign.id,
          recipientId,
          status: 'failed',
          attempts: 0,
          providerId: null,
          errorCode: failure.code,
          errorMessage: failure.message,
          sentAt: null,
        });
        continue;
      }
      const message: OutgoingMessage = {
        campaignId: this.campaign.id,
        recipientId,
        body: new Uint8Array(result.bodies, result.offsets[i]!, result.lengths[i]!),
        contentType: result.contentType,
        attempts: 0,
        failures: 0,
        batch,
      };
      if (!(await this.backlog.put(message))) return;
    }
  }

  /**
   * Runs a database step until it succeeds: an outage pauses the campaign instead of
   * failing it. Gives up (undefined) only when the run is halted meanwhile.
   */
  private async retrying<T>(what: string, step: () => Promise<T>, abortOnHalt = false): Promise<T | undefined> {
    let delay = 200;
    for (;;) {
      try {
        return await step();
      } catch (err) {
        this.deps.log.warn({ campaignId: this.campaign.id, err: (err as Error).message }, `could not ${what}; retrying`);
        if (this.haltReason === 'lease_lost' || (abortOnHalt && this.haltReason)) return undefined;
        await this.sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /** Waits `ms`, or less if the run is halted meanwhile. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wake.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wake.add(wake);
    });
  }
}
