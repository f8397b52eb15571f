import { spawn, type ChildProcess } from 'node:child_process';
import { GUARDIAN_FILE } from './files.js';
import type { FreezeGuardian } from './environment.js';

/**
 * The service's side of the guardian (guardian.ts): started the first time an environment is
 * frozen, told each freeze and thaw, ended by {@link close}. Should this process die first, the
 * guardian's stdin ends and it kills whatever is still frozen.
 */
export class GuardianProcess implements FreezeGuardian {
  private child?: ChildProcess;

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
      // Its own session: a Ctrl-C in the terminal reaches the service (which thaws), not the guardian.
      this.child = spawn(process.execPath, [GUARDIAN_FILE], {
        stdio: ['pipe', 'ignore', 'ignore'],
        detached: true,
      });
      this.child.stdin?.on('error', () => undefined);
    }
    this.child.stdin?.write(`${lines.join('\n')}\n`);
  }
}
