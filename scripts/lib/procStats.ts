import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** USER_HZ, the unit of /proc/PID/stat times, as `getconf CLK_TCK` reports it (100 where it cannot be asked). */
export const clockTicksPerSecond: number = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of one process (all its threads), in ticks; null when it is gone. */
export function processTicks(pid: number): number | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // Fields after the command name: state is field 3, utime and stime fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** A process's peak resident set so far (VmHWM), in MB; null when it is gone. */
export function peakRssMb(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/**
 * Watches a process's peak RSS until stop(): VmHWM is read every 200 ms, so the last reading
 * before the process exits is kept.
 */
export function watchPeakRss(pid: number): { stop: () => number | null } {
  let peak: number | null = peakRssMb(pid);
  const timer = setInterval(() => {
    const now = peakRssMb(pid);
    if (now !== null) peak = Math.max(peak ?? 0, now);
  }, 200);
  return {
    stop: () => {
      clearInterval(timer);
      const now = peakRssMb(pid);
      if (now !== null) peak = Math.max(peak ?? 0, now);
      return peak;
    },
  };
}

/**
 * CPU ticks of a changing set of processes (e.g. the backends of one database): call
 * sample(pids) now and then; total() is what they used since their first sample, plus all
 * of it for processes first seen after the first sample (they started during the window).
 * A process that exits loses what it used after its last sample.
 */
export class TickCounter {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private started = false;

  sample(pids: Iterable<number>): void {
    for (const pid of pids) {
      const ticks = processTicks(pid);
      if (ticks === null) continue;
      if (!this.first.has(pid)) this.first.set(pid, this.started ? 0 : ticks);
      this.last.set(pid, ticks);
    }
    this.started = true;
  }

  /** CPU seconds used by the sampled processes between the first sample and the last. */
  seconds(): number {
    let ticks = 0;
    for (const [pid, last] of this.last) ticks += last - this.first.get(pid)!;
    return ticks / clockTicksPerSecond;
  }
}
