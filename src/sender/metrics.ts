import client from 'prom-client';

export type RequestOutcome = 'accepted' | 'throttled' | 'transient' | 'unknown' | 'account' | 'permanent';

/** Queue depths of the send pipeline, read when Prometheus scrapes. */
export interface PipelineDepths {
  /** Claimed recipients waiting for a render thread (in batches of up to renderBatchSize). */
  render: number;
  /** Rendered messages waiting for a sender. */
  send: number;
  /** Messages waiting out a retry delay. */
  retry: number;
  /** Results waiting to be written to the database. */
  report: number;
  /** Requests to the provider in flight. */
  inFlight: number;
}

/**
 * Herald's Prometheus metrics, one registry per process (or per test). The pipeline calls the
 * small methods below; prom-client stays out of the hot path's types.
 */
export class Metrics {
  readonly registry = new client.Registry();
  private readonly recorded: client.Counter<'campaign' | 'status' | 'reason'>;
  private readonly requestSeconds: client.Histogram<'outcome'>;
  private readonly renderSeconds: client.Histogram;
  private readonly reporterRows: client.Histogram;
  private readonly reporterSeconds: client.Histogram;
  private readonly apiReads: client.Counter<'endpoint' | 'outcome'>;
  private depthSources: Array<() => PipelineDepths> = [];
  private funnelSource: (() => Promise<Array<{ campaignId: number; stage: string; n: number }>>) | null = null;
  private readonly events: client.Counter<'source' | 'type' | 'result'>;
  private watchSources: Array<() => { streams: number; pollers: number }> = [];

  constructor() {
    const registers = [this.registry];
    this.recorded = new client.Counter({
      name: 'herald_deliveries_recorded_total',
      help: 'Delivery results written to the database by this process, per campaign, status (sent/failed) and failure reason',
      labelNames: ['campaign', 'status', 'reason'],
      registers,
    });
    this.requestSeconds = new client.Histogram({
      name: 'herald_provider_request_duration_seconds',
      help: 'Time from sending a message request to the provider’s answer',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.renderSeconds = new client.Histogram({
      name: 'herald_render_batch_duration_seconds',
      help: 'Time to render one batch of messages on a render thread, queueing included',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.reporterRows = new client.Histogram({
      name: 'herald_reporter_batch_rows',
      help: 'Results written per database statement',
      buckets: [1, 10, 50, 100, 250, 500, 1000],
      registers,
    });
    this.reporterSeconds = new client.Histogram({
      name: 'herald_reporter_flush_duration_seconds',
      help: 'Time to write one batch of results',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.apiReads = new client.Counter({
      name: 'herald_api_reads_total',
      help: 'Polled API reads (campaign, campaigns) by how they were answered: hit (a kept answer), shared (a query in flight), query (ran the queries)',
      labelNames: ['endpoint', 'outcome'],
      registers,
    });
    const watched = (what: 'streams' | 'pollers') => this.watchSources.reduce((sum, source) => sum + source()[what], 0);
    new client.Gauge({
      name: 'herald_api_event_streams',
      help: 'Open server-sent event streams (GET …/events)',
      registers,
      collect() {
        this.set(watched('streams'));
      },
    });
    new client.Gauge({
      name: 'herald_api_event_pollers',
      help: 'Shared pollers behind the event streams: one per watched campaign (and one for the list), whatever the number of watchers',
      registers,
      collect() {
        this.set(watched('pollers'));
      },
    });
    const depth = (stage: keyof PipelineDepths) => this.depthSources.reduce((sum, source) => sum + source()[stage], 0);
    new client.Gauge({
      name: 'herald_queue_depth',
      help: 'Items waiting between pipeline stages: render (recipient batches), send, retry (messages), report (results)',
      labelNames: ['stage'],
      registers,
      collect() {
        for (const stage of ['render', 'send', 'retry', 'report'] as const) this.set({ stage }, depth(stage));
      },
    });
    this.events = new client.Counter({
      name: 'herald_provider_events_total',
      help: 'Provider events received by this process, per source (webhook/log), event type and result (recorded/duplicate/replayed/unmatched)',
      labelNames: ['source', 'type', 'result'],
      registers,
    });
    const funnel = () => this.funnelSource;
    new client.Gauge({
      name: 'herald_campaign_funnel',
      help: 'Deliveries of recent campaigns per funnel stage: accepted, delivered, bounced_hard, bounced_soft, opened, clicked, complained, unsubscribed (kept counts)',
      labelNames: ['campaign', 'stage'],
      registers,
      async collect() {
        const source = funnel();
        if (!source) return;
        this.reset();
        for (const r of await source()) this.set({ campaign: String(r.campaignId), stage: r.stage }, r.n);
      },
    });
    new client.Gauge({
      name: 'herald_requests_in_flight',
      help: 'Message requests to the provider awaiting an answer',
      registers,
      collect() {
        this.set(depth('inFlight'));
      },
    });
  }

  /** Adds Node's process metrics, event-loop delay (nodejs_eventloop_lag_*) among them. */
  withProcessMetrics(): this {
    client.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    return this;
  }

  /** Where the funnel gauge reads from at each scrape (herald serve: the kept counts). */
  watchFunnels(source: () => Promise<Array<{ campaignId: number; stage: string; n: number }>>): void {
    this.funnelSource = source;
  }

  /** Counts provider events by what became of them. */
  recordEvents(events: ReadonlyArray<{ source: string; type: string; result: string }>): void {
    for (const e of events) this.events.inc({ source: e.source, type: e.type, result: e.result });
  }

  watchDepths(source: () => PipelineDepths): void {
    this.depthSources.push(source);
  }

  /** Reads the event streams' gauges from `source` until the returned function is called. */
  watchStreams(source: () => { streams: number; pollers: number }): () => void {
    this.watchSources.push(source);
    return () => {
      this.watchSources = this.watchSources.filter((s) => s !== source);
    };
  }

  recordApiRead(endpoint: string, outcome: 'hit' | 'shared' | 'query'): void {
    this.apiReads.labels(endpoint, outcome).inc();
  }

  /** Counts one written batch of results; tallied first, so the labels are hashed once per kind. */
  recordResults(results: ReadonlyArray<{ campaignId: number; status: string; errorCode: string | null }>): void {
    const tally = new Map<string, { campaign: string; status: string; reason: string; n: number }>();
    for (const r of results) {
      const key = `${r.campaignId}|${r.status}|${r.errorCode ?? ''}`;
      const entry = tally.get(key);
      if (entry) entry.n++;
      else tally.set(key, { campaign: String(r.campaignId), status: r.status, reason: r.errorCode ?? '', n: 1 });
    }
    for (const { n, ...labels } of tally.values()) this.recorded.inc(labels, n);
  }

  recordRequest(seconds: number, outcome: RequestOutcome): void {
    this.requestSeconds.labels(outcome).observe(seconds);
  }

  recordRender(seconds: number): void {
    this.renderSeconds.observe(seconds);
  }

  recordReporterFlush(rows: number, seconds: number): void {
    this.reporterRows.observe(rows);
    this.reporterSeconds.observe(seconds);
  }

  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
