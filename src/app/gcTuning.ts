import os from 'node:os';
import v8 from 'node:v8';

/** Whether node was started with this V8 option (either spelling); a given option is left alone. */
function given(option: RegExp): boolean {
  return process.execArgv.some((arg) => option.test(arg));
}

/**
 * Garbage-collector settings for a process that sends, and for `campaign report` (a page of rows
 * lives while it is written, the same pattern). Both flags are read at every collection,
 * so setting them now takes effect, and both are process-wide (main and render threads).
 *
 * Heap growth: each V8 heap may grow to twice what survived its last full collection before
 * it collects again. V8 picks that factor itself, up to 4× for a small heap that it collects
 * quickly, and a sending process is just that: a small live heap, plus a steady stream of message,
 * request and result objects that outlive the young generation and die soon after. At 2× the
 * peak RSS of a 100k campaign fell at no measurable CPU cost (BENCHMARKS.md, "Memory").
 *
 * Scavenges on two cores or fewer: V8 splits each young-generation collection among helper
 * threads, but with the render thread, the sending thread (and on a small box, Postgres) busy,
 * those helpers have no idle core: the render thread's scavenges waited for them, taking longer
 * than done alone, and the helpers' own CPU fell without them (BENCHMARKS.md, "Why these
 * hand-written parts"). With more
 * cores the helpers find idle ones, so V8's default stays.
 */
export function tuneGarbageCollection(): void {
  if (!given(/^--heap[-_]growing[-_]percent/)) v8.setFlagsFromString('--heap-growing-percent=100');
  if (os.availableParallelism() <= 2 && !given(/^--(no[-_])?parallel[-_]scavenge/)) v8.setFlagsFromString('--no-parallel-scavenge');
}
