import v8 from 'node:v8';
import { Piscina } from 'piscina';
import { defaultRenderThreads } from '../../config.js';
import type { RenderResult, RenderTask } from './types.js';

export interface RenderPoolOptions {
  threads?: number;
}

/**
 * Renders campaign batches on worker threads so the event loop that sends never renders.
 * A batch that runs past its timeout is aborted (piscina replaces the worker) and all its
 * recipients fail with `render_timeout`.
 */
export class RenderPool {
  readonly threads: number;
  private readonly pool: Piscina;
  /** Spent batch buffers waiting to ride along with the next task. */
  private readonly spares: ArrayBuffer[] = [];

  constructor(options: RenderPoolOptions = {}) {
    this.threads = options.threads ?? defaultRenderThreads();
    // Rendering builds ~100 KB of short-lived strings per message. V8's allocation-site
    // pretenuring sees them survive the render threads' small young generation and starts
    // allocating them straight into the old generation, which then needs a full collection
    // every few milliseconds: measured ~17% of render time per message (BENCHMARKS.md).
    // The flag is process-wide and read when the threads' heaps make that decision.
    v8.setFlagsFromString('--no-allocation-site-pretenuring');
    this.pool = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      resourceLimits: { maxYoungGenerationSizeMb: 12 },
    });
  }

  async render(task: RenderTask, options: { timeoutMs: number }): Promise<RenderResult> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeoutMs);
    const spareBuffers = this.spares.splice(0);
    try {
      return (await this.pool.run({ ...task, spareBuffers }, { signal: controller.signal, transferList: spareBuffers })) as RenderResult;
    } catch (err) {
      if (!controller.signal.aborted) throw err;
      const n = task.recipients.length;
      return {
        bodies: new ArrayBuffer(0),
        offsets: new Int32Array(n).fill(-1),
        lengths: new Int32Array(n),
        contentType: '',
        failures: task.recipients.map((_, index) => ({ index, code: 'render_timeout' as const, message: `rendering took longer than ${options.timeoutMs} ms` })),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Takes back a batch buffer nothing reads any more, for a later task to fill. Not capped
   * here: the next task takes all of them, and no more can wait than batches were in the send
   * pipeline; the render thread keeps the ones that fit best.
   */
  recycle(buffer: ArrayBuffer): void {
    this.spares.push(buffer);
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
