import type { Command } from 'commander';

/** The main thread's semi-space in MB: Node 20's default, which its measurements were made with. */
export const SENDING_SEMI_SPACE_MB = 16;

const FLAG = /--max[-_]semi[-_]space[-_]size/;

/**
 * Restarts a sending command in the same process (`process.execve`) with the main thread's
 * young generation capped. Node 24's V8 lets it grow to 128 MB where Node 20 stopped at 32, and a
 * sending process allocates fast enough to use all of it: peak RSS of a 100k campaign went from
 * ~200 MB on Node 20 to ~320 MB on Node 24 (BENCHMARKS.md). The size is fixed when V8 starts, so
 * it cannot be set from inside like the heap growth factor. Runs before the command does anything;
 * a size given to node (command line or NODE_OPTIONS) is left alone, and on a Node without
 * `process.execve` (before 22.15, or on Windows) nothing changes.
 */
export function restartWithCappedYoungGeneration(): void {
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  if (typeof execve !== 'function') return;
  if (process.execArgv.some((arg) => FLAG.test(arg)) || FLAG.test(process.env.NODE_OPTIONS ?? '')) return;
  try {
    execve.call(process, process.execPath, [process.execPath, `--max-semi-space-size=${SENDING_SEMI_SPACE_MB}`, ...process.execArgv, ...process.argv.slice(1)], process.env);
  } catch {
    // Windows and IBM i have the function but not the system call: the command runs with V8's
    // own sizing, as it would on a Node without execve.
  }
}

/** Applies the restart to a command that sends (`worker`, `serve`, `campaign start --wait`). */
export function capYoungGenerationBeforeAction(command: Command, sends: (opts: Record<string, unknown>) => boolean = () => true): Command {
  return command.hook('preAction', (_self, action) => {
    if (sends(action.opts())) restartWithCappedYoungGeneration();
  });
}
