import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { Db } from '../db/connect.js';
import { listen } from '../db/listen.js';
import type { Campaign } from '../db/schema.js';
import type { Logger } from '../config/log.js';
import type { Provider } from '../provider/provider.js';
import { Metrics } from './metrics.js';
import { CAMPAIGN_CHANNEL } from '../sql/notifyCampaignChanged.js';
import { erasedIdsOf } from '../sql/erasure/notifyErased.js';
import { runningCampaigns } from '../sql/runningCampaigns.js';
import { setCampaignsWaiting } from '../sql/setCampaignsWaiting.js';
import { installationId } from '../sql/installationId.js';
import { promoteDueCampaigns } from '../sql/scheduledCampaigns.js';
import { domainKey } from '../domain/email.js';
import { listSendingDomains } from '../sql/listSendingDomains.js';
import { countWorkers } from '../sql/leases/countWorkers.js';
import { expireDeadWorkers } from '../sql/leases/expireDeadWorkers.js';
import { heartbeat } from '../sql/leases/heartbeat.js';
import { foldDeliveryCounts } from '../sql/foldDeliveryCounts.js';
import { startCountFolding } from './countFolding.js';
import { registerWorker } from '../sql/leases/registerWorker.js';
import { unregisterWorker } from '../sql/leases/unregisterWorker.js';
import { CampaignRun, defaultRunSettings, type Renderer, type RunOutcome, type RunSettings } from './campaignRun.js';
import { Reporter, defaultReporterOptions } from './report/reporter.js';
import { ConcurrencyLimit } from './send/concurrencyLimit.js';
import { Pacer } from './send/pacer.js';
import { ProviderGate } from './send/providerGate.js';
import type { CampaignRenderSpec } from './render/types.js';
import type { ContentSnapshot } from '../domain/content.js';
import { findCampaign } from '../sql/findCampaign.js';

export interface SenderProcessOptions {
  run: RunSettings;
  /**
   * A worker silent this long is presumed dead and its open claims become `unknown`. The
   * worker itself stops starting requests once its lease is half gone, and requests time
   * out after a quarter of it, so none is still in flight when another worker takes over.
   */
  leaseMs: number;
  /** How often to look for campaigns to run when nothing is notified. */
  pollMs: number;
  /** A schedule missed by more than this waits for an explicit `campaign start`. */
  scheduleGraceMs: number;
  /** The sending domain of campaigns that name none (MAILGUN_DOMAIN). */
  domain: string;
}

export const defaultSenderProcessOptions: SenderProcessOptions = {
  run: defaultRunSettings,
  leaseMs: 40_000,
  pollMs: 1000,
  scheduleGraceMs: 3_600_000,
  domain: 'default',
};

export interface SenderProcessDeps {
  db: Db;
  log: Logger;
  client: Provider;
  renderer: Renderer;
  renderSpec: (campaign: Campaign) => Promise<CampaignRenderSpec>;
  /** A scheduled campaign's content as it starts (stored with it): see promoteDueCampaigns. */
  contentFor?: (campaign: Campaign) => Promise<ContentSnapshot>;
  /** Decides which cap day it is; injectable so tests can move to the next day. */
  clock?: () => Date;
  /** Where the pipeline's counters, histograms and queue depths go (/metrics). */
  metrics?: Metrics;
}

/** What every campaign sending through one domain shares in this worker. */
interface DomainLimits {
  /** The domain's rate (shared by all workers with Redis); adapts to provider throttling. */
  pacer: Pacer;
  /** This worker's share of the domain's max concurrency. */
  slots: ConcurrencyLimit;
  /** Holds the domain's senders while its provider is down. */
  gate: ProviderGate;
}

/** waiting_reason of a running campaign whose provider is down (the worker probes it). */
const PROVIDER_UNAVAILABLE = 'provider_unavailable';
/** waiting_reason of a running campaign whose worker cannot get rate-limit permits (Redis). */
const LIMITER_UNAVAILABLE = 'rate_limiter_unavailable';

/**
 * How long this process remembers an erased recipient. It needs to only while a claim made
 * before the erasure may still be in its queues (claims are not kept across runs, and a run
 * holds them minutes, not a day); later claims see the erasure in the database.
 */
const WITHDRAWN_KEPT_MS = 24 * 3600_000;

/** Results written per campaign by this process, for progress output. */
export interface CampaignProgress {
  sent: number;
  failed: number;
}

/**
 * A process that sends: holds a lease (heartbeat), runs every running campaign it is asked
 * to, reacts to pause/cancel within about a second (NOTIFY, plus polling), and takes over
 * the open claims of workers whose lease expired.
 */
export class SenderProcess {
  id = newWorkerId();
  readonly reporter: Reporter;
  readonly progress = new Map<number, CampaignProgress>();
  readonly latency: RecordableHistogram = createHistogram();
  private readonly runs = new Map<number, CampaignRun>();
  private lastBeat = 0;
  private beatTimer: NodeJS.Timeout | null = null;
  private stopFolding: (() => Promise<void>) | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private stopping = false;
  private wakeLoop: (() => void) | null = null;
  private readonly warnedMissed = new Set<number>();
  private sendGate: Promise<void> | null = null;
  private readonly domains = new Map<string, DomainLimits>();
  /** Drained campaigns whose sends of unknown outcome can be looked up only from then on. */
  private readonly deferred = new Map<number, number>();
  private inFlight = 0;
  /** Recipients erased while this process runs (id → when it heard): never sent to. */
  private readonly withdrawn = new Map<number, number>();
  private readonly metrics: Metrics;
  /** Prefix of the limiter ids in Redis: this installation's own (see installationId). */
  private limiterPrefix = 'herald';

  constructor(
    private readonly deps: SenderProcessDeps,
    private readonly options: SenderProcessOptions = defaultSenderProcessOptions,
  ) {
    this.metrics = deps.metrics ?? new Metrics();
    this.reporter = new Reporter(deps.db.kysely, deps.log, {
      ...defaultReporterOptions,
      onWritten: (results, seconds) => {
        this.metrics.recordReporterFlush(results.length, seconds);
        this.metrics.recordResults(results);
        for (const r of results) {
          let p = this.progress.get(r.campaignId);
          if (!p) this.progress.set(r.campaignId, (p = { sent: 0, failed: 0 }));
          if (r.status === 'sent') p.sent++;
          else if (r.status === 'failed') p.failed++;
        }
      },
    });
    this.metrics.watchDepths(() => {
      const depths = { render: 0, send: 0, retry: 0, report: this.reporter.buffered, inFlight: this.inFlight };
      for (const run of this.runs.values()) {
        const d = run.depths();
        depths.render += d.render;
        depths.send += d.send;
        depths.retry += d.retry;
      }
      return depths;
    });
  }

  /** When a campaign held back by its domain's daily cap goes on; null when it is not waiting. */
  waitingUntil(campaignId: number): Date | null {
    return this.runs.get(campaignId)?.waitingUntil ?? null;
  }

  async start(): Promise<void> {
    this.limiterPrefix = `herald:${await installationId(this.deps.db.kysely)}`;
    await registerWorker(this.deps.db.kysely, this.id);
    this.lastBeat = Date.now();
    this.beatTimer = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.options.leaseMs / 3)));
    this.stopFolding = startCountFolding(this.deps.db.kysely, this.deps.log);
    this.unlisten = await listen(
      this.deps.db,
      CAMPAIGN_CHANNEL,
      (payload) => {
        const erased = erasedIdsOf(payload);
        if (erased) {
          this.withdraw(erased);
          return;
        }
        void this.runs
          .get(Number(payload))
          ?.checkStatus()
          .catch(() => undefined);
        this.wakeLoop?.();
      },
      (err) => this.deps.log.warn({ err: err.message }, 'campaign notifications interrupted'),
    );
  }

  /**
   * Runs campaigns until none that `wanted` accepts is left running (or, with `watch`, until
   * stopped). Campaigns already running when they are drained are looked at again, so rows
   * released by other workers or recovered from dead ones are still sent.
   */
  async runCampaigns(wanted: (c: Campaign) => boolean, watch: boolean): Promise<void> {
    while (!this.stopping) {
      let campaigns: Campaign[] = [];
      try {
        await expireDeadWorkers(this.deps.db.kysely, this.options.leaseMs);
        const contentFor = this.deps.contentFor;
        const { missed, failed } = await promoteDueCampaigns(
          this.deps.db.kysely,
          this.options.scheduleGraceMs,
          contentFor &&
            (async (id) => {
              const campaign = await findCampaign(this.deps.db.kysely, id);
              if (!campaign) throw new Error(`campaign ${id} does not exist`);
              return contentFor(campaign);
            }),
        );
        for (const id of missed) {
          if (this.warnedMissed.has(id)) continue;
          this.warnedMissed.add(id);
          this.deps.log.warn({ campaignId: id }, 'schedule missed by more than the grace period: not starting it; use campaign start');
        }
        for (const { id, message } of failed) {
          if (this.warnedMissed.has(id)) continue;
          this.warnedMissed.add(id);
          this.deps.log.warn(
            { campaignId: id, err: message },
            'scheduled campaign could not start: its audience or its content could not be fixed; it stays scheduled',
          );
        }
        const running = (await runningCampaigns(this.deps.db.kysely)).filter(wanted);
        for (const c of running) this.limitsFor(this.domainOf(c));
        // A run starts only once its domain's limits are known.
        await this.refreshDomainLimits();
        campaigns = running;
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message }, 'could not look for campaigns; retrying');
      }
      for (const campaign of campaigns) {
        const notBefore = this.deferred.get(campaign.id);
        if (notBefore !== undefined && notBefore > this.now().getTime()) continue;
        if (!this.runs.has(campaign.id) && !this.stopping) this.startRun(campaign);
      }
      if (this.runs.size === 0 && campaigns.length === 0 && !watch) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.pollMs);
        this.wakeLoop = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeLoop = null;
    }
    await Promise.all([...this.runs.values()].map((r) => r.done));
  }

  /** Graceful stop: halts every run (claims released, results flushed), then leaves. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const run of this.runs.values()) run.halt('shutdown');
    this.wakeLoop?.();
    await Promise.all([...this.runs.values()].map((r) => r.done));
    await this.reporter.close();
    for (const limits of this.domains.values()) {
      limits.gate.close();
      await limits.pacer.close();
    }
    if (this.beatTimer) clearInterval(this.beatTimer);
    await this.stopFolding?.();
    // What this process wrote is folded before it leaves, so a reader after it finds few changes.
    await foldDeliveryCounts(this.deps.db.kysely).catch(() => undefined);
    await this.unlisten?.();
    await unregisterWorker(this.deps.db.kysely, this.id).catch(() => undefined);
  }

  private readonly now = (): Date => (this.deps.clock ? this.deps.clock() : new Date());

  /** An erasure was committed: whatever this process holds for these recipients stays unsent. */
  private withdraw(ids: readonly number[]): void {
    const now = Date.now();
    for (const [id, at] of this.withdrawn) if (now - at > WITHDRAWN_KEPT_MS) this.withdrawn.delete(id);
    for (const id of ids) this.withdrawn.set(id, now);
    const erased = new Set(ids);
    for (const run of this.runs.values()) run.withdraw(erased);
    this.deps.log.info({ recipients: ids.length }, 'recipients erased: claims of them held here will not be sent');
  }

  private domainOf(campaign: Campaign): string {
    // Lower-cased like registered domains, so MAILGUN_DOMAIN=MG.Example.com finds its limits.
    return domainKey(campaign.sending_domain ?? this.options.domain);
  }

  /** Provider throttling is per domain, so the domain's pacer is the adaptive one. */
  private limitsFor(domain: string): DomainLimits {
    let limits = this.domains.get(domain);
    if (!limits) {
      limits = {
        pacer: new Pacer({
          ratePerSecond: null,
          id: `${this.limiterPrefix}:domain:${domain}`,
          adaptive: true,
          ...(this.options.run.redisUrl ? { redisUrl: this.options.run.redisUrl } : {}),
          onTrouble: (err) => this.limiterTrouble(this.campaignsOn(domain), err),
          ...(this.options.run.limiterStallMs ? { stallMs: this.options.run.limiterStallMs } : {}),
        }),
        slots: new ConcurrencyLimit(Infinity),
        gate: new ProviderGate((outage) => {
          const ids = this.campaignsOn(domain);
          if (outage) {
            this.deps.log.warn({ domain, lastError: outage.lastError }, 'the provider is not answering: holding sending for the domain and probing it');
            this.hold(ids, { reason: PROVIDER_UNAVAILABLE, detail: outage.lastError, until: null });
          } else {
            this.deps.log.info({ domain }, 'the provider answers again: sending resumes');
            this.hold(ids, null, PROVIDER_UNAVAILABLE);
          }
        }),
      };
      this.domains.set(domain, limits);
    }
    return limits;
  }

  /**
   * Applies `herald domains set` changes while running. A domain's max concurrency is split
   * evenly among the live workers, so together they stay within it.
   */
  private async refreshDomainLimits(): Promise<void> {
    if (this.domains.size === 0) return;
    const [settings, workers] = await Promise.all([listSendingDomains(this.deps.db.kysely), countWorkers(this.deps.db.kysely)]);
    for (const [name, limits] of this.domains) {
      const domain = settings.find((d) => d.name === name);
      limits.pacer.setRate(domain?.rate_per_second ?? null);
      limits.slots.setLimit(domain?.max_concurrency ? Math.floor(domain.max_concurrency / Math.max(1, workers)) : Infinity);
    }
  }

  private campaignsOn(domain: string): number[] {
    return [...this.runs.values()].filter((r) => this.domainOf(r.campaign) === domain).map((r) => r.campaign.id);
  }

  /** Says in the database why these campaigns hold their sending (null: they no longer do). */
  private hold(ids: number[], hold: { reason: string; detail: string | null; until: Date | null } | null, clearing = hold?.reason ?? ''): void {
    setCampaignsWaiting(this.deps.db.kysely, ids, hold, clearing).catch((err: Error) =>
      this.deps.log.warn({ err: err.message }, 'could not record why campaigns wait'),
    );
  }

  private limiterTrouble(ids: number[], err: Error | null): void {
    if (err) {
      this.deps.log.warn(
        { campaignIds: ids, err: err.message },
        'cannot get rate-limit permits (is Redis at REDIS_URL reachable?): holding sending until it answers',
      );
      this.hold(ids, { reason: LIMITER_UNAVAILABLE, detail: err.message, until: null });
    } else {
      this.deps.log.info({ campaignIds: ids }, 'rate-limit permits come again: sending resumes');
      this.hold(ids, null, LIMITER_UNAVAILABLE);
    }
  }

  private startRun(campaign: Campaign): void {
    const domain = this.domainOf(campaign);
    const limits = this.limitsFor(domain);
    const outage = limits.gate.outage;
    if (outage) this.hold([campaign.id], { reason: PROVIDER_UNAVAILABLE, detail: outage.lastError, until: null });
    const run = new CampaignRun(
      campaign,
      {
        db: this.deps.db.kysely,
        log: this.deps.log,
        workerId: this.id,
        renderer: this.deps.renderer,
        client: this.deps.client,
        reporter: this.reporter,
        renderSpec: this.deps.renderSpec,
        mayProceed: () => this.mayProceed(),
        onRequest: () => this.inFlight++,
        onResponse: (ms, outcome) => {
          this.inFlight--;
          this.latency.record(Math.max(1, Math.round(ms * 1000)));
          this.metrics.recordRequest(ms / 1000, outcome);
        },
        onRender: (seconds) => this.metrics.recordRender(seconds),
        domain,
        domainPacer: limits.pacer,
        domainSlots: limits.slots,
        gate: limits.gate,
        limiterPrefix: this.limiterPrefix,
        onLimiterTrouble: (err) => this.limiterTrouble([campaign.id], err),
        clock: this.now,
        withdrawn: (recipientId) => this.withdrawn.size > 0 && this.withdrawn.has(recipientId),
      },
      this.options.run,
    );
    this.runs.set(campaign.id, run);
    void run.done.then(
      (outcome: RunOutcome) => {
        this.runs.delete(campaign.id);
        if (outcome.kind === 'drained' && outcome.retryAt) this.deferred.set(campaign.id, outcome.retryAt.getTime());
        else this.deferred.delete(campaign.id);
        this.deps.log.info({ campaignId: campaign.id, ...outcome }, 'campaign run ended');
        this.wakeLoop?.();
      },
      (err: Error) => {
        this.runs.delete(campaign.id);
        this.deps.log.error({ campaignId: campaign.id, err: err.message }, 'campaign run failed');
        this.wakeLoop?.();
      },
    );
  }

  /**
   * Sending waits while the lease may be stale (another worker could be about to take these
   * claims over) or while results cannot be written: nothing is sent that cannot be recorded.
   */
  private mayProceed(): Promise<void> | void {
    if (this.canSend()) return;
    // One shared wait for every sender, however many are held back.
    this.sendGate ??= new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (this.canSend() || this.stopping) {
          clearInterval(timer);
          this.sendGate = null;
          resolve();
        }
      }, 50);
    });
    return this.sendGate;
  }

  private canSend(): boolean {
    return Date.now() - this.lastBeat < this.options.leaseMs / 2 && this.reporter.healthy;
  }

  private async beat(): Promise<void> {
    // The lease counts from when the heartbeat was sent: the row may say an earlier time than
    // when the answer arrived, never a later one.
    const sentAt = Date.now();
    try {
      if (await heartbeat(this.deps.db.kysely, this.id)) {
        this.lastBeat = sentAt;
        return;
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'heartbeat failed');
      return;
    }
    // Our lease was taken away: our open claims are `unknown` now and belong to recovery.
    this.deps.log.error({ workerId: this.id }, 'lease lost; abandoning claims and re-registering');
    for (const run of this.runs.values()) run.halt('lease_lost');
    this.id = newWorkerId();
    await registerWorker(this.deps.db.kysely, this.id).catch(() => undefined);
    this.lastBeat = Date.now();
  }
}

function newWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
