import fs from 'node:fs';
import { monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';

/**
 * Numbers about one sending run, for benchmarks and capacity planning: throughput, request
 * latency, event-loop delay (proof that rendering stays off the main thread), peak RSS, CPU.
 */
export class RunStats {
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  private readonly cpuStart = process.cpuUsage();
  private peakRss = process.memoryUsage().rss;
  private peakHeap = 0;
  private peakBuffers = 0;
  private ticks = 0;
  private readonly sampler: NodeJS.Timeout;

  constructor() {
    this.loop.enable();
    this.sampler = setInterval(() => {
      this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
      // The full breakdown is costlier to read: every half second is enough.
      if (++this.ticks % 5 === 0) {
        const m = process.memoryUsage();
        this.peakHeap = Math.max(this.peakHeap, m.heapUsed);
        this.peakBuffers = Math.max(this.peakBuffers, m.arrayBuffers);
      }
    }, 100);
    this.sampler.unref();
  }

  write(file: string, run: { campaignId: number; status: string; sent: number; seconds: number; latency: RecordableHistogram }): void {
    this.loop.disable();
    clearInterval(this.sampler);
    const cpu = process.cpuUsage(this.cpuStart);
    const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
    const stats = {
      campaignId: run.campaignId,
      status: run.status,
      sent: run.sent,
      seconds: Math.round(run.seconds * 100) / 100,
      messagesPerSecond: Math.round(run.sent / Math.max(run.seconds, 0.001)),
      // Latencies are recorded in microseconds.
      latencyP50Ms: Math.round(run.latency.percentile(50) / 10) / 100,
      latencyP99Ms: Math.round(run.latency.percentile(99) / 10) / 100,
      eventLoopDelayP99Ms: ms(this.loop.percentile(99)),
      eventLoopDelayMaxMs: ms(this.loop.max),
      peakRssMb: Math.round(Math.max(this.peakRss, process.memoryUsage().rss) / 2 ** 20),
      peakHeapUsedMb: Math.round(this.peakHeap / 2 ** 20),
      peakArrayBuffersMb: Math.round(this.peakBuffers / 2 ** 20),
      cpuSeconds: Math.round((cpu.user + cpu.system) / 1e4) / 100,
    };
    fs.writeFileSync(file, `${JSON.stringify(stats, null, 2)}\n`);
  }
}
