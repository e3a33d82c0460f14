import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';

const moduleUrl = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/commands/youngGeneration.js')).href;
// Windows has the function but not the system call.
const hasExecve = typeof (process as { execve?: unknown }).execve === 'function' && process.platform !== 'win32';

describe('a sending command caps the main thread young generation', () => {
  let dir: string;
  let script: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-young-'));
    script = path.join(dir, 'command.mjs');
    // A command built like Herald's: it sends unless --no-send is given, and reports what its
    // process runs with once the action starts.
    fs.writeFileSync(
      script,
      `import { Command } from ${JSON.stringify(import.meta.resolve('commander'))};
import { capYoungGenerationBeforeAction } from ${JSON.stringify(moduleUrl)};
const program = new Command().exitOverride();
capYoungGenerationBeforeAction(program.command('send').option('--no-send'), (o) => o.send !== false)
  .action(() => console.log(JSON.stringify({ pid: process.pid, execArgv: process.execArgv })));
await program.parseAsync(process.argv);
`,
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): { pid: number; execArgv: string[]; childPid: number } => {
    const child = spawnSync(process.execPath, [...nodeArgs, script, ...args], { env: { ...process.env, NODE_OPTIONS: '', ...env }, encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    return { ...(JSON.parse(child.stdout.trim()) as { pid: number; execArgv: string[] }), childPid: child.pid! };
  };

  it(hasExecve ? 'restarts the same process with the cap before the action runs' : 'leaves a Node without process.execve as it is', () => {
    const { pid, execArgv, childPid } = run(['send']);
    assert.equal(pid, childPid, 'the command still runs in the process that was started');
    assert.deepEqual(execArgv, hasExecve ? ['--max-semi-space-size=16'] : []);
  });

  it('keeps the node options it was started with', () => {
    const { execArgv } = run(['send'], {}, ['--no-warnings']);
    assert.deepEqual(execArgv, hasExecve ? ['--max-semi-space-size=16', '--no-warnings'] : ['--no-warnings']);
  });

  it('leaves a size given to node alone', () => {
    assert.deepEqual(run(['send'], { NODE_OPTIONS: '--max-semi-space-size=8' }).execArgv, []);
  });

  it('does not restart an invocation that does not send', () => {
    assert.deepEqual(run(['send', '--no-send']).execArgv, []);
  });
});
