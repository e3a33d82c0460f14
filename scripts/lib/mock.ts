import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * `herald mock-mailgun` in a child process of its own (so its CPU is not the benchmark's),
 * on a free port; resolves once it prints its URL. `args` follow `mock-mailgun`; `nodeArgs`
 * go to Node (e.g. --cpu-prof).
 */
export async function startBenchMock(cli: string, args: string[], nodeArgs: string[] = []): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...nodeArgs, cli, 'mock-mailgun', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const line of createInterface({ input: child.stdout! })) {
    const m = /(http:\/\/\S+)/.exec(line);
    if (m)
      return {
        url: m[1]!,
        stop: async () => {
          child.kill('SIGTERM');
          await once(child, 'exit');
        },
      };
  }
  throw new Error('mock did not start');
}
