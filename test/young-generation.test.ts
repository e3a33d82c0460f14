import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';

const moduleUrl = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/app/youngGeneration.js')).href;
// Windows has the function but not the system call.
const hasExecve = typeof (process as { execve?: unknown }).execve === 'function' && process.platform !== 'win32';

describe('a sending command caps the main thread young generation', () => {
  let dir: string;
  let script: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-young-'));
    script = path.join(dir, 'command.mjs');
    // A command built like Herald's: it sends unless --no-send is given, and reports what its
    // process runs with once the action starts (with --thread, also how a thread's heap grew).
    fs.writeFileSync(
      script,
      `import { Command } from ${JSON.stringify(import.meta.resolve('commander'))};
import { capYoungGenerationBeforeAction } from ${JSON.stringify(moduleUrl)};
const program = new Command().exitOverride();
capYoungGenerationBeforeAction(program.command('send').option('--no-send').option('--thread'), (o) => o.send !== false)
  .action(async (o) => {
    if (!o.thread) return console.log(JSON.stringify({ pid: process.pid, execArgv: process.execArgv }));
    // A thread with its own young generation limit, like a render thread: how far its new
    // space grows under allocation that outlives a scavenge or two.
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(\`
      const v8 = require('node:v8');
      const keep = [];
      let most = 0;
      for (let i = 0; i < 600000; i++) {
        keep.push({ i, s: 'x' + i });
        if (keep.length > 100000) keep.splice(0, 50000);
        if (i % 5000 === 0) most = Math.max(most, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size);
      }
      require('node:worker_threads').parentPort.postMessage(most);
    \`, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 12 } });
    const threadNewSpace = await new Promise((resolve) => worker.once('message', resolve));
    await worker.terminate();
    console.log(JSON.stringify({ pid: process.pid, execArgv: process.execArgv, threadNewSpaceMb: threadNewSpace / 2 ** 20 }));
  });
await program.parseAsync(process.argv);
`,
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (
    args: string[],
    env: NodeJS.ProcessEnv = {},
    nodeArgs: string[] = [],
  ): { pid: number; execArgv: string[]; threadNewSpaceMb: number; childPid: number } => {
    const child = spawnSync(process.execPath, [...nodeArgs, script, ...args], { env: { ...process.env, NODE_OPTIONS: '', ...env }, encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    return { ...(JSON.parse(child.stdout.trim()) as { pid: number; execArgv: string[]; threadNewSpaceMb: number }), childPid: child.pid! };
  };

  it(hasExecve ? 'restarts the same process with the cap before the action runs' : 'leaves a Node without process.execve as it is', () => {
    const { pid, execArgv, childPid } = run(['send']);
    assert.equal(pid, childPid, 'the command still runs in the process that was started');
    assert.deepEqual(execArgv, hasExecve ? ['--scavenger-max-new-space-capacity-mb=8'] : []);
  });

  it("leaves a worker thread's own young generation limit in force", () => {
    // A process-wide --max-semi-space-size would override it: 32 MB here instead of ~8–10.
    const { threadNewSpaceMb } = run(['send', '--thread']);
    assert.ok(threadNewSpaceMb > 0 && threadNewSpaceMb <= 16, `the thread's new space reached ${threadNewSpaceMb} MB`);
  });

  it('keeps the node options it was started with', () => {
    const { execArgv } = run(['send'], {}, ['--no-warnings']);
    assert.deepEqual(execArgv, hasExecve ? ['--scavenger-max-new-space-capacity-mb=8', '--no-warnings'] : ['--no-warnings']);
  });

  it('leaves a size given to node alone', () => {
    assert.deepEqual(run(['send'], { NODE_OPTIONS: '--max-semi-space-size=8' }).execArgv, []);
  });

  it('does not restart an invocation that does not send', () => {
    assert.deepEqual(run(['send', '--no-send']).execArgv, []);
  });
});
