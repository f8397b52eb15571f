import { spawn, type ChildProcess } from 'node:child_process';
import { isMessage, type JsonRpcMessage } from '../protocol/jsonrpc.js';
import { LineSplitter, StderrSink } from './lines.js';
import {
  MAX_NOISE_LOGS,
  MAX_STDERR_LINE_BYTES,
  GROUP_EXIT_WAIT_MS,
  MAX_STDOUT_LINE_BYTES,
  SHUTDOWN_GRACE_MS,
  STDERR_LOG_BYTES_PER_SECOND,
  STDERR_TAIL_BYTES,
} from './limits.js';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';
import { signalGroup, waitGroupGone } from '../platform/processes.js';
import { EXPIRED, within } from '../platform/time.js';

export interface ChildOptions {
  command: string;
  args: readonly string[];
  env: Record<string, string>;
  cwd?: string;
  /** Run the command through /bin/sh. */
  shell?: boolean;
  /** A stderr line of the server (already rate-limited). */
  onStderr?: (line: string) => void;
  /** A stdout line that is not a JSON-RPC message (logged, then skipped). */
  onNoise?: (line: string, count: number) => void;
}

/** How a child ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  spawnError?: Error;
  /** Set when we ended it, and why. */
  killedBecause?: string;
}

/** Local failure: the server process is gone or broken. */
export class ServerExitedError extends FleetError {
  constructor(
    message: string,
    readonly exit: ExitInfo,
    readonly stderrTail: string,
  ) {
    super(FLEET_ERROR.serverExited, message);
    this.name = 'ServerExitedError';
  }

  override rpcData(): Record<string, unknown> {
    return { reason: 'server_exited', exitCode: this.exit.code, signal: this.exit.signal };
  }
}

export function describeExit(exit: ExitInfo): string {
  if (exit.spawnError) return `could not be started: ${exit.spawnError.message}`;
  if (exit.killedBecause !== undefined) return `was stopped (${exit.killedBecause})`;
  if (exit.signal !== null) return `was killed by ${exit.signal}`;
  return `exited with code ${String(exit.code)}`;
}

/**
 * A stdio MCP server as a transport (the MCP SDK's `Transport` shape: start / send / close with
 * onmessage / onerror / onclose). The process runs in its own process group, and every way out
 * kills the whole group, so nothing it started is left behind.
 */
export class ChildProcessTransport {
  onmessage?: (message: JsonRpcMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;

  private child?: ChildProcess;
  private exitInfo?: ExitInfo;
  private readonly exited: Promise<ExitInfo>;
  private resolveExited!: (info: ExitInfo) => void;
  private readonly stderr: StderrSink;
  private noise = 0;
  private killReason?: string;

  constructor(private readonly opts: ChildOptions) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.stderr = new StderrSink({
      tailBytes: STDERR_TAIL_BYTES,
      maxLineBytes: MAX_STDERR_LINE_BYTES,
      bytesPerSecond: STDERR_LOG_BYTES_PER_SECOND,
      forward: (line) => opts.onStderr?.(line),
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Set once the process has ended. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** Resolves when the process has ended (or could not start). */
  get done(): Promise<ExitInfo> {
    return this.exited;
  }

  stderrTail(): string {
    return this.stderr.lastOutput();
  }

  start(): Promise<void> {
    if (this.child) throw new Error('already started');
    const { command, args, env, cwd, shell } = this.opts;
    const child = spawn(command, [...args], {
      env,
      cwd,
      shell: shell === true ? '/bin/sh' : false,
      // Its own process group (setsid): a kill of -pid reaches everything it started.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    this.child = child;

    const stdout = new LineSplitter(
      MAX_STDOUT_LINE_BYTES,
      (line) => {
        this.onStdoutLine(line);
      },
      (bytes) => {
        this.fail(
          `the server wrote a line of ${bytes} bytes to stdout, over the ${MAX_STDOUT_LINE_BYTES}-byte limit`,
        );
      },
    );
    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
    });
    child.stdout.on('end', () => {
      stdout.end();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr.push(chunk);
    });
    child.stderr.on('end', () => {
      this.stderr.end();
    });
    // EPIPE and friends: the exit handler reports what happened.
    child.stdin.on('error', () => undefined);

    return new Promise((resolve) => {
      child.once('spawn', () => {
        resolve();
      });
      child.once('error', (err) => {
        // Only spawn failures reach here before 'spawn'; later errors are kill failures.
        if (this.exitInfo === undefined && child.pid === undefined) {
          this.finish({ code: null, signal: null, spawnError: err });
          resolve();
        } else {
          this.onerror?.(err);
        }
      });
      child.once('exit', (code, signal) => {
        // Anything still in the group dies with its leader.
        this.killGroup('SIGKILL');
        // Let stdout drain what was written just before the exit.
        setImmediate(() => {
          const info: ExitInfo = { code, signal };
          if (this.killReason !== undefined) info.killedBecause = this.killReason;
          this.finish(info);
        });
      });
    });
  }

  send(message: JsonRpcMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || this.exitInfo || stdin.destroyed || !stdin.writable) {
      return Promise.reject(
        new ServerExitedError(
          'the server process is not running',
          this.exitInfo ?? { code: null, signal: null },
          this.stderrTail(),
        ),
      );
    }
    // Each request goes at once, in a write of its own. Corking what one turn sends into one write
    // was measured slower on a managed instance (the server starts on the first request later) and
    // delayed a call that comes alone: see "Calls that come together" in docs/benchmarks.md.
    return new Promise((resolve, reject) => {
      stdin.write(`${JSON.stringify(message)}\n`, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /**
   * Graceful stop: close stdin, then SIGTERM, then SIGKILL, to the whole group. Resolves once no
   * process of the group is left (or after a bounded wait for one that cannot die at once). A call
   * still waiting is told the server `was stopped (<reason>)`.
   */
  async close(reason = 'closed'): Promise<void> {
    if (this.child && !this.exitInfo) {
      this.killReason ??= reason;
      this.child.stdin?.end();
      if (!(await this.exitedWithin(SHUTDOWN_GRACE_MS))) {
        this.killGroup('SIGTERM');
        if (!(await this.exitedWithin(SHUTDOWN_GRACE_MS))) this.killGroup('SIGKILL');
      }
    }
    await this.gone();
  }

  /** Immediate stop of the whole group (a hung or broken server); resolves once the group is gone. */
  async kill(reason: string): Promise<void> {
    if (this.child && !this.exitInfo) {
      this.killReason ??= reason;
      this.killGroup('SIGKILL');
    }
    await this.gone();
  }

  /** Resolves when the process has ended and nothing of its process group is left running. */
  private async gone(): Promise<void> {
    await this.exited;
    const pid = this.child?.pid;
    if (pid !== undefined) await waitGroupGone(pid, GROUP_EXIT_WAIT_MS);
  }

  private async exitedWithin(ms: number): Promise<boolean> {
    return (await within(this.exited, ms)) !== EXPIRED;
  }

  private killGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid !== undefined) signalGroup(pid, signal); // false: the group is already gone
  }

  private onStdoutLine(line: Buffer): void {
    const text = line.toString('utf8').trim();
    if (text === '') return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      message = undefined;
    }
    if (message !== undefined && isMessage(message)) {
      this.onmessage?.(message);
      return;
    }
    this.noise += 1;
    if (this.noise <= MAX_NOISE_LOGS || this.noise % 1000 === 0)
      this.opts.onNoise?.(text.slice(0, 1000), this.noise);
  }

  /** A fatal transport fault: report it, then end the process. */
  private fail(message: string): void {
    this.onerror?.(new Error(message));
    void this.kill(message);
  }

  private finish(info: ExitInfo): void {
    if (this.exitInfo) return;
    this.exitInfo = info;
    this.resolveExited(info);
    this.onclose?.();
  }
}
