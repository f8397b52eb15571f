import type { LaunchSpec } from '../config/model.js';
import { ChildProcessTransport, ServerExitedError } from './child.js';
import { CallTimeoutError, McpConnection, type ServerTransport } from './connection.js';
import { serverEnvironment } from './env.js';
import type { RuntimeLogger } from './observability.js';

export interface SupervisorOptions {
  log: RuntimeLogger;
  clientInfo: { name: string; version: string };
  /** Extra environment (resolved secrets), added when each process starts. */
  extraEnv?: () => Promise<Record<string, string>>;
  /** Parent environment to inherit from (default process.env). */
  parentEnv?: NodeJS.ProcessEnv;
  /** Build the transport (tests swap in their own). */
  transport?: (spec: LaunchSpec, env: Record<string, string>, log: RuntimeLogger) => ServerTransport;
  onStart?: (ms: number, pid: number | undefined) => void;
  onCrash?: (message: string) => void;
  onTimeout?: (message: string) => void;
  now?: () => number;
}

function defaultTransport(
  spec: LaunchSpec,
  env: Record<string, string>,
  log: RuntimeLogger,
): ServerTransport {
  const opts: ConstructorParameters<typeof ChildProcessTransport>[0] = {
    command: spec.command,
    args: spec.args,
    env,
    shell: spec.shell,
    onStderr: (line) => {
      log.info(line, { stream: 'stderr' });
    },
    onNoise: (line, count) => {
      log.warn('non-JSON line on the server stdout, skipped', { line, count });
    },
  };
  if (spec.cwd !== undefined) opts.cwd = spec.cwd;
  return new ChildProcessTransport(opts);
}

/**
 * Owns the server process of one Lambda environment: starts it (once, or per call with
 * `isolation: per-invocation`), replaces it after a crash, a timeout or its `recycle` limits,
 * and stops it — always the whole process group.
 */
export class ServerSupervisor {
  private current?: McpConnection;
  private starting?: Promise<McpConnection>;
  private invocations = 0;
  /** Calls running now (a crash during one is reported by that call). */
  private inFlight = 0;
  private lastUsed = 0;
  private readonly stopping = new Set<Promise<void>>();
  private lastStartError?: Error;

  constructor(
    readonly spec: LaunchSpec,
    private readonly opts: SupervisorOptions,
  ) {}

  /** The last start failure, if the server could not be started. */
  get startError(): Error | undefined {
    return this.lastStartError;
  }

  get pid(): number | undefined {
    return this.current?.pid;
  }

  /**
   * Starts the server ahead of the first call (Lambda's init phase), waiting at most `budgetMs`.
   * Never throws: a failure is kept and the first call tries again.
   */
  async warmup(budgetMs: number): Promise<void> {
    if (this.spec.isolation === 'per-invocation') return;
    const started = this.acquireWarm(budgetMs).then(
      () => undefined,
      () => undefined,
    );
    await Promise.race([started, new Promise((r) => setTimeout(r, budgetMs).unref())]);
  }

  /**
   * Runs `fn` with a ready connection, starting the server first when needed; everything must be
   * done by `deadline` (epoch ms), and `fn` is told how much time is left.
   */
  async use<T>(
    deadline: number,
    fn: (conn: McpConnection, timeLeft: () => number) => Promise<T>,
  ): Promise<T> {
    const timeLeft = (): number => Math.max(1, deadline - this.now());
    const conn =
      this.spec.isolation === 'per-invocation'
        ? await this.startNew(timeLeft())
        : await this.acquireWarm(timeLeft());
    this.inFlight += 1;
    try {
      return await fn(conn, timeLeft);
    } catch (err) {
      if (err instanceof CallTimeoutError) {
        this.opts.onTimeout?.(err.message);
        // SIGKILL to the group takes milliseconds: answer once the process is really gone.
        await conn.kill(err.message);
      } else if (err instanceof ServerExitedError) this.opts.onCrash?.(err.message);
      throw err;
    } finally {
      this.inFlight -= 1;
      this.lastUsed = this.now();
      this.invocations += 1;
      if (this.spec.isolation === 'per-invocation') {
        this.retire(conn, 'per-invocation call done');
      } else if (!conn.alive) {
        if (this.current === conn) this.current = undefined;
      } else if (
        this.spec.recycle.maxInvocations !== undefined &&
        this.invocations >= this.spec.recycle.maxInvocations
      ) {
        this.retire(conn, `recycled after ${this.invocations} invocations`);
      }
    }
  }

  /** The warm server's answer to `initialize` (starting it if needed). */
  async initializeResult(deadline: number): Promise<Record<string, unknown>> {
    return this.use(deadline, (conn) => Promise.resolve(conn.initializeResult));
  }

  /** Stops every process this supervisor started, and waits until they are gone. */
  async shutdown(): Promise<void> {
    const conn = this.current;
    this.current = undefined;
    const starting = this.starting;
    this.starting = undefined;
    if (conn) this.retire(conn, 'shutdown');
    if (starting) {
      const late = await starting.catch(() => undefined);
      if (late) this.retire(late, 'shutdown');
    }
    await Promise.all([...this.stopping]);
  }

  private async acquireWarm(budgetMs: number): Promise<McpConnection> {
    const idle = this.spec.recycle.idleSeconds;
    if (this.current && idle !== undefined && this.now() - this.lastUsed > idle * 1000) {
      this.retire(this.current, `recycled after ${idle} s idle`);
      this.current = undefined;
    }
    if (this.current?.alive) return this.current;
    this.current = undefined;
    if (!this.starting) {
      const p = this.startNew(budgetMs).then((conn) => {
        this.current = conn;
        this.invocations = 0;
        this.lastUsed = this.now();
        return conn;
      });
      this.starting = p;
      p.then(
        () => {
          if (this.starting === p) this.starting = undefined;
        },
        () => {
          if (this.starting === p) this.starting = undefined;
        },
      );
    }
    return this.starting;
  }

  private async startNew(budgetMs: number): Promise<McpConnection> {
    const t0 = this.now();
    const extra = this.opts.extraEnv ? await this.opts.extraEnv() : {};
    const env = serverEnvironment(this.spec.id, { ...this.spec.env, ...extra }, this.opts.parentEnv);
    const transport = (this.opts.transport ?? defaultTransport)(this.spec, env, this.opts.log);
    const conn = new McpConnection(this.spec.id, transport, this.opts.log, this.opts.clientInfo);
    try {
      await conn.open(Math.max(1, budgetMs - (this.now() - t0)));
    } catch (err) {
      await conn.kill('start failed');
      const error =
        err instanceof CallTimeoutError
          ? new ServerExitedError(
              `server "${this.spec.id}" did not finish initialize within ${err.ms} ms; it was stopped`,
              { code: null, signal: 'SIGKILL', killedBecause: 'initialize timed out' },
              transport.stderrTail(),
            )
          : (err as Error);
      this.lastStartError = error;
      this.opts.onCrash?.(error.message);
      throw error;
    }
    this.lastStartError = undefined;
    this.opts.onStart?.(this.now() - t0, conn.pid);
    // A crash between calls is reported when it happens, not at the next call.
    void conn.done.then((exit) => {
      if (exit.killedBecause === undefined && this.current === conn && this.inFlight === 0) {
        this.opts.onCrash?.(
          `server "${this.spec.id}" exited between calls (code ${String(exit.code)}, signal ${String(exit.signal)})`,
        );
      }
      if (this.current === conn) this.current = undefined;
    });
    return conn;
  }

  private retire(conn: McpConnection, reason: string): void {
    if (this.current === conn) this.current = undefined;
    this.opts.log.debug('stopping server process', { reason, pid: conn.pid });
    const p = conn.close().finally(() => this.stopping.delete(p));
    this.stopping.add(p);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}
