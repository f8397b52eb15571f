import { spawn, type ChildProcess } from 'node:child_process';
import { GUARDIAN_FILE } from './files.js';
import type { Guardian } from './environment.js';

/**
 * The service's side of the guardian (guardian.ts): started with the first environment, told of
 * each environment and of each freeze and thaw, ended by {@link close}. Should this process die
 * first, the guardian's stdin ends and it kills every environment still running.
 */
export class GuardianProcess implements Guardian {
  private child?: ChildProcess;

  started(pid: number): void {
    this.write([`E${pid}`]);
  }

  ended(pid: number): void {
    this.write([`e${pid}`]);
  }

  frozen(pids: readonly number[]): void {
    this.write(pids.map((p) => `+${p}`));
  }

  thawed(pids: readonly number[]): void {
    this.write(pids.map((p) => `-${p}`));
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin?.end();
    await exited;
  }

  private write(lines: string[]): void {
    if (lines.length === 0) return;
    if (!this.child) {
      // Its own session: a Ctrl-C in the terminal reaches the service (which stops its
      // environments), not the guardian.
      this.child = spawn(process.execPath, [GUARDIAN_FILE], {
        stdio: ['pipe', 'ignore', 'ignore'],
        detached: true,
      });
      this.child.stdin?.on('error', () => undefined);
    }
    this.child.stdin?.write(`${lines.join('\n')}\n`);
  }
}
