import { randomBytes } from 'node:crypto';
import v8 from 'node:v8';
import { Piscina } from 'piscina';
import { defaultRenderThreads } from '../../config/config.js';
import type { RenderResult, RenderTask } from './types.js';

export interface RenderPoolOptions {
  threads?: number;
}

/** `progress[0]` before a render thread has picked the task up. */
const NOT_STARTED = -2;

function failAll(n: number, code: 'render_timeout', message: string): RenderResult {
  return {
    bodies: new ArrayBuffer(0),
    offsets: new Int32Array(n).fill(-1),
    lengths: new Int32Array(n),
    contentType: '',
    failures: Array.from({ length: n }, (_, index) => ({ index, code, message })),
  };
}

/**
 * Renders campaign batches on worker threads so the event loop that sends never renders.
 * A recipient that renders past the timeout is aborted (piscina replaces the thread) and
 * fails alone with `render_timeout`; see render().
 */
export class RenderPool {
  readonly threads: number;
  private readonly pool: Piscina;
  /** Spent batch buffers waiting to ride along with the next task. */
  private readonly spares: ArrayBuffer[] = [];

  constructor(options: RenderPoolOptions = {}) {
    this.threads = options.threads ?? defaultRenderThreads();
    // Rendering builds many short-lived strings per message. V8's allocation-site
    // pretenuring sees them survive the render threads' small young generation and starts
    // allocating them straight into the old generation, which then needs a full collection
    // every few milliseconds (BENCHMARKS.md, "Why these hand-written parts").
    // The flag is process-wide and read when the threads' heaps make that decision.
    v8.setFlagsFromString('--no-allocation-site-pretenuring');
    this.pool = new Piscina({
      filename: new URL('./renderThread.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      resourceLimits: { maxYoungGenerationSizeMb: 12 },
      // Shared by every thread (and every thread piscina starts in place of an aborted one):
      // see renderAround, which joins bodies from several threads under one Content-Type.
      workerData: { boundary: `herald-${randomBytes(18).toString('base64url')}` },
    });
  }

  /**
   * Renders a task; `timeoutMs` limits each recipient's render, not the task's. A recipient
   * still rendering after `timeoutMs` (measured from when its thread started it, so time spent
   * waiting for a free thread does not count) has its thread aborted (piscina starts a new
   * one) and alone fails with `render_timeout`. The recipients before it lost their bodies with
   * the thread and those after it were never reached: both are rendered again as tasks of
   * their own, so one slow recipient never fails the others of its batch.
   */
  async render(task: RenderTask, options: { timeoutMs: number }): Promise<RenderResult> {
    const { timeoutMs } = options;
    const n = task.recipients.length;
    const progress = new Int32Array(new SharedArrayBuffer(8));
    progress[0] = NOT_STARTED;
    const progressBase = Date.now();
    const controller = new AbortController();
    let culprit = NOT_STARTED;
    let timer: NodeJS.Timeout;
    const check = (): void => {
      const index = Atomics.load(progress, 0);
      const startedAt = Atomics.load(progress, 1);
      if (index === NOT_STARTED) {
        timer = setTimeout(check, timeoutMs);
        return;
      }
      // The thread moved on to the next recipient while we read: look again at once.
      if (Atomics.load(progress, 0) !== index) {
        timer = setTimeout(check, 1);
        return;
      }
      const elapsed = Date.now() - progressBase - startedAt;
      if (elapsed < timeoutMs) {
        timer = setTimeout(check, timeoutMs - elapsed);
        return;
      }
      culprit = index;
      controller.abort();
    };
    timer = setTimeout(check, timeoutMs);
    const spareBuffers = this.spares.splice(0);
    let result: RenderResult;
    try {
      result = (await this.pool.run(
        { ...task, spareBuffers, progress, progressBase },
        { signal: controller.signal, transferList: spareBuffers },
      )) as RenderResult;
    } catch (err) {
      if (!controller.signal.aborted) throw err;
      if (culprit < 0) {
        // Compiling the templates took too long: nothing about one recipient to blame.
        return failAll(n, 'render_timeout', `compiling the templates took longer than ${timeoutMs} ms`);
      }
      return this.renderAround(task, culprit, options);
    } finally {
      clearTimeout(timer!);
    }
    return result;
  }

  /** Renders a task's recipients except `culprit`, which failed with `render_timeout`, into one result. */
  private async renderAround(task: RenderTask, culprit: number, options: { timeoutMs: number }): Promise<RenderResult> {
    const n = task.recipients.length;
    const parts = [
      { from: 0, to: culprit },
      { from: culprit + 1, to: n },
    ].filter((p) => p.to > p.from);
    const results = await Promise.all(parts.map((p) => this.render({ ...task, recipients: task.recipients.slice(p.from, p.to) }, options)));
    let total = 0;
    for (const r of results) total += r.bodies.byteLength;
    const bodies = new ArrayBuffer(total, { maxByteLength: Math.max(total, 16 * 1024 * 1024) });
    const into = new Uint8Array(bodies);
    const offsets = new Int32Array(n).fill(-1);
    const lengths = new Int32Array(n);
    const failures: RenderResult['failures'] = [
      { index: culprit, code: 'render_timeout', message: `rendering this recipient took longer than ${options.timeoutMs} ms` },
    ];
    let contentType = '';
    let at = 0;
    results.forEach((r, k) => {
      const shift = parts[k]!.from;
      into.set(new Uint8Array(r.bodies), at);
      for (let i = 0; i < r.offsets.length; i++) {
        if (r.offsets[i]! < 0) continue;
        offsets[shift + i] = at + r.offsets[i]!;
        lengths[shift + i] = r.lengths[i]!;
      }
      for (const f of r.failures) failures.push({ ...f, index: shift + f.index });
      // Every thread of this pool writes with the same boundary, so one Content-Type fits all.
      contentType ||= r.contentType;
      at += r.bodies.byteLength;
      this.recycle(r.bodies);
    });
    failures.sort((a, b) => a.index - b.index);
    return { bodies, offsets, lengths, contentType, failures };
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
