import type { Command } from 'commander';

/**
 * V8's cap on the main thread's new space, as its option counts it (V8 doubles it in Node, which
 * is built without pointer compression). 8 is Node 22's default: the young generation then stops
 * at 32 MB, as on Node 20, where Herald's measurements were made.
 */
const SENDING_NEW_SPACE_MB = 8;

/** Either option, given to node, sets the young generation's size itself. */
const GIVEN = /--(max[-_]semi[-_]space[-_]size|scavenger[-_]max[-_]new[-_]space[-_]capacity[-_]mb)/;

/**
 * Restarts a sending command in the same process (`process.execve`) with the main thread's
 * young generation capped. Node 24's V8 raised its default cap fourfold, to 128 MB, and a sending
 * process allocates fast enough to use all of it: peak RSS of a 100k campaign rose far above
 * Node 20's (BENCHMARKS.md, "Memory"). The cap is read when V8 starts, so it cannot
 * be set from inside like the heap growth factor. `--max-semi-space-size` would cap it too, but
 * it also overrides the render threads' own smaller young generation (`resourceLimits`), which
 * this option leaves alone. Runs before the command does anything; a size given to node (command
 * line or NODE_OPTIONS) is left alone, and on a Node without `process.execve` (before 22.15, or
 * on Windows) nothing changes. Node 22 already uses this cap, so there the restart changes nothing.
 */
function restartWithCappedYoungGeneration(): void {
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  if (typeof execve !== 'function') return;
  if (process.execArgv.some((arg) => GIVEN.test(arg)) || GIVEN.test(process.env.NODE_OPTIONS ?? '')) return;
  try {
    execve.call(
      process,
      process.execPath,
      [process.execPath, `--scavenger-max-new-space-capacity-mb=${SENDING_NEW_SPACE_MB}`, ...process.execArgv, ...process.argv.slice(1)],
      process.env,
    );
  } catch {
    // Windows and IBM i have the function but not the system call: the command runs with V8's
    // own sizing, as it would on a Node without execve.
  }
}

/**
 * Applies the restart to a command that sends (`worker`, `serve`, `campaign start --wait`,
 * `demo`); `sends` tells from the parsed options whether this invocation will.
 */
export function capYoungGenerationBeforeAction(command: Command, sends: (opts: Record<string, unknown>) => boolean): Command {
  return command.hook('preAction', (_self, action) => {
    if (sends(action.opts())) restartWithCappedYoungGeneration();
  });
}
