import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A throwaway Postgres server that a test may stop and restart: initdb in a temporary
 * folder, its own port. Never the shared server. As root, it runs as the postgres user
 * (initdb refuses root).
 */
export class PrivatePostgres {
  readonly url: string;

  private constructor(
    private readonly dir: string,
    readonly port: number,
    private readonly asUser: string[],
  ) {
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  /** Why private Postgres tests cannot run here, or null when they can. */
  static unavailableReason(): string | null {
    for (const bin of ['initdb', 'pg_ctl']) {
      try {
        execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
      } catch {
        return `no '${bin}' on PATH (a machine with only PGlite); CI installs and runs these`;
      }
    }
    if (process.getuid?.() === 0) {
      try {
        execFileSync('id', ['postgres'], { stdio: 'ignore' });
      } catch {
        return 'running as root with no postgres user to run initdb as';
      }
    }
    return null;
  }

  static async create(port: number): Promise<PrivatePostgres> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-pg-'));
    const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
    if (asUser.length > 0) execFileSync('chown', ['-R', 'postgres', dir]);
    const pg = new PrivatePostgres(dir, port, asUser);
    await pg.exec('initdb', ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await pg.start();
    return pg;
  }

  async start(): Promise<void> {
    const opts = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off`;
    await this.exec('pg_ctl', ['-D', path.join(this.dir, 'data'), '-l', path.join(this.dir, 'log'), '-o', opts, '-w', 'start']);
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.exec('pg_ctl', ['-D', path.join(this.dir, 'data'), '-m', mode, '-w', 'stop']);
  }

  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async exec(bin: string, args: string[]): Promise<void> {
    const [cmd, ...rest] = [...this.asUser, bin, ...args];
    await run(cmd!, rest, { cwd: os.tmpdir() });
  }
}
