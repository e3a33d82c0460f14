import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { packageRoot } from '../../src/config/paths.js';

/** Replaces (or appends) one `## title` section of BENCHMARKS.md, leaving the others alone. */
export function writeBenchmarkSection(title: string, body: string): void {
  const file = path.join(packageRoot, 'BENCHMARKS.md');
  const current = fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8')
    : '# Benchmarks\n\nNumbers measured by the scripts under `scripts/`; re-run them to check.\n';
  const heading = `## ${title}`;
  const section = `${heading}\n\n${body.trim()}\n`;
  const start = current.indexOf(`${heading}\n`);
  let next: string;
  if (start < 0) next = `${current.trimEnd()}\n\n${section}`;
  else {
    const end = current.indexOf('\n## ', start + heading.length);
    next = current.slice(0, start) + section + (end < 0 ? '' : `\n${current.slice(end + 1)}`);
  }
  fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}

export function machineLine(): string {
  return `${os.availableParallelism()} cores (${cpuDescription()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

/**
 * VMs often report a generic CPU name ("Intel(R) Xeon(R) Processor") for CPUs far apart in
 * speed (BENCHMARKS.md, "Method"); the model number from /proc/cpuinfo tells them apart.
 */
function cpuDescription(): string {
  const name = os.cpus()[0]?.model ?? 'unknown CPU';
  let cpuinfo: string;
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return name;
  }
  const model = /^model\s*:\s*(\d+)$/m.exec(cpuinfo)?.[1];
  return model ? `${name}, model ${model}` : name;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A fresh database on the server named by DATABASE_URL; drop() removes it. */
export async function freshDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = process.env.DATABASE_URL;
  if (!admin) throw new Error('set DATABASE_URL to a Postgres server (benchmarks run on real Postgres)');
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const run = async (text: string): Promise<void> => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(text);
    } finally {
      await c.end();
    }
  };
  await run(`create database ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`drop database if exists ${name} with (force)`) };
}

/**
 * The database a benchmark measures on: `reuse` (a URL kept by an earlier run) or a fresh one.
 * done() drops a fresh one, or with `keep` leaves it and prints its URL for a later --reuse.
 */
export async function benchDatabase(
  prefix: string,
  options: { reuse?: string | undefined; keep?: boolean | undefined },
): Promise<{ url: string; reused: boolean; done: () => Promise<void> }> {
  if (options.reuse) return { url: options.reuse, reused: true, done: async () => undefined };
  const fresh = await freshDatabase(prefix);
  return {
    url: fresh.url,
    reused: false,
    done: async () => {
      if (options.keep) console.log(`kept: ${fresh.url}`);
      else await fresh.drop();
    },
  };
}

/**
 * Samples this process's RSS every 100 ms. stop() returns the peak and the medians of the
 * first and last quarter of the samples (MB): equal quarters mean memory did not grow.
 */
export function sampleRss(): { stop: () => { peakMb: number; firstQuarterMb: number; lastQuarterMb: number } } {
  const samples: number[] = [process.memoryUsage.rss()];
  const timer = setInterval(() => samples.push(process.memoryUsage.rss()), 100);
  return {
    stop: () => {
      clearInterval(timer);
      samples.push(process.memoryUsage.rss());
      const mb = (n: number): number => Math.round(n / 2 ** 20);
      const quarter = Math.max(1, Math.floor(samples.length / 4));
      return { peakMb: mb(Math.max(...samples)), firstQuarterMb: mb(median(samples.slice(0, quarter))), lastQuarterMb: mb(median(samples.slice(-quarter))) };
    },
  };
}

// USER_HZ, the unit of /proc/PID/stat times: 100 on every Linux architecture Node supports.
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU seconds used so far by every process of a Postgres server on this machine (backends,
 * those that have exited included, WAL writer, checkpointer, autovacuum), read from /proc; null
 * where there is no /proc or no such process (a remote server). The difference of two readings
 * is what a phase cost it.
 */
export function postgresCpuSeconds(): number | null {
  let ticks = 0;
  let found = false;
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return null;
  }
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      continue; // the process ended while we looked
    }
    if (!stat.includes(' (postgres) ')) continue;
    // Fields after the command name: state is field 3, then utime, stime, cutime and cstime are
    // fields 14-17. The children's times matter: a backend that has exited is counted only in
    // the postmaster's cutime/cstime once it has been reaped.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    found = true;
  }
  return found ? ticks / CLOCK_TICKS_PER_SECOND : null;
}
