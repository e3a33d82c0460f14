import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { onRealPostgres, openTestDb } from './db.js';

/** The compiled CLI next to this build of the tests. */
export const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

export const MOCK_KEY = 'key-test';
export const MOCK_DOMAIN = 'mg.example.test';

export interface MockProcess {
  url: string;
  process: ChildProcess;
  /** delivery id → times accepted */
  deliveries(): Promise<Record<string, number>>;
  stats(): Promise<{ accepted: number; duplicates: number } & Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * Herald's Mailgun mock in its own process, as users run it (and so its CPU is not the
 * caller's). `nodeArgs` go to Node, e.g. a benchmark's --cpu-prof.
 */
export async function startMockProcess(args: string[] = [], nodeArgs: string[] = []): Promise<MockProcess> {
  const child = spawn(process.execPath, [...nodeArgs, cliPath, 'mock-mailgun', '--port', '0', '--api-key', MOCK_KEY, '--domain', MOCK_DOMAIN, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  let url: string | undefined;
  for await (const line of lines) {
    const match = /(http:\/\/\S+)/.exec(line);
    if (match) {
      url = match[1]!.replace(/\/$/, '');
      break;
    }
  }
  if (!url) throw new Error('mock-mailgun exited before listening');
  const base = url;
  const getJson = async <T>(p: string): Promise<T> => (await (await request(`${base}${p}`)).body.json()) as T;
  return {
    url: base,
    process: child,
    deliveries: () => getJson('/mock/deliveries'),
    stats: () => getJson('/mock/stats'),
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

export interface HeraldProcess {
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs `herald ARGS` as a child process with the given environment additions. */
/** Waits for `check` while `worker` runs; on a timeout, kills it and fails with its output. */
export async function waitWhileRunning(what: string, worker: HeraldProcess, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      worker.process.kill('SIGKILL');
      throw new Error(`timed out waiting until ${what}; the worker's output:\n${worker.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function spawnHerald(args: string[], env: Record<string, string | undefined>): HeraldProcess {
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ...process.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { process: child, output: () => output, exited };
}

/** Runs `herald ARGS` to completion; rejects with its output when it exits non-zero. */
export async function runHerald(args: string[], env: Record<string, string | undefined>): Promise<string> {
  const p = spawnHerald(args, env);
  const code = await p.exited;
  if (code !== 0) throw new Error(`herald ${args.join(' ')} exited ${code}:\n${p.output()}`);
  return p.output();
}

/**
 * Environment for running `herald` commands against this test's database: its own Postgres
 * database when DATABASE_URL is set, else a PGlite folder of its own.
 */
export async function cliDatabaseEnv(dir: string): Promise<{ env: Record<string, string>; dispose: () => Promise<void> }> {
  if (!onRealPostgres) return { env: { DATABASE_URL: '', HERALD_DATA_DIR: `${dir}/db` }, dispose: async () => undefined };
  const db = await openTestDb();
  return { env: { DATABASE_URL: db.url! }, dispose: () => db.dispose() };
}

export interface CliSandbox {
  /** A folder of its own (CSV files, PGlite data). */
  dir: string;
  /** Null when the sandbox was opened without one. */
  mock: MockProcess | null;
  /** Database, and Mailgun settings pointing at the mock. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * What a test that runs `herald` commands needs: a folder, a database and (unless `mockArgs`
 * is null) a Mailgun mock of its own.
 */
export async function openCliSandbox(prefix: string, mockArgs: string[] | null): Promise<CliSandbox> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `herald-${prefix}-`));
  const mock = mockArgs ? await startMockProcess(mockArgs) : null;
  const database = await cliDatabaseEnv(dir);
  return {
    dir,
    mock,
    env: { ...(mock ? { MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, MAILGUN_BASE_URL: mock.url } : {}), ...database.env },
    close: async () => {
      await mock?.stop();
      await database.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
