import type { LaunchSpec } from '../config/model.js';
import { ChildProcessTransport, ServerExitedError } from './child.js';
import {
  CallTimeoutError,
  McpConnection,
  type ClientChannel,
  type ConnectionOptions,
  type ServerTransport,
} from './connection.js';
import { serverEnvironment } from './env.js';
import type { RuntimeLogger } from './observability.js';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';
import { EXPIRED, systemClock, withDeadline, type Clock } from '../platform/time.js';

/** What a call in flight when the environment stops is told (its server `was stopped (…)`). */
export const SHUTDOWN_REASON = 'the environment is shutting down';

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
  /** A warm process's start ended, ready or not (a pool's waiters may look for a slot again). */
  onStartSettled?: () => void;
  onCrash?: (message: string) => void;
  onTimeout?: (message: string) => void;
  /** Time: deadlines, start durations and the waits (default the machine's). */
  clock?: Clock;
  /**
   * Calls share each process (a multi-call host): a call's timeout cancels only its request while
   * other calls are in flight, and a process due for recycling is retired once its calls are done.
   */
  shared?: boolean;
  /** The client of the session these processes serve (see {@link ConnectionOptions.client}). */
  client?: ClientChannel;
}

/** What a call may bring besides its deadline. */
export interface UseOptions {
  /** The caller went away: a call still waiting for a free process leaves the queue. */
  signal?: AbortSignal;
}

/**
 * The warm servers of one environment, as the handler and the backend use them: one
 * {@link ServerSupervisor} (host `function`: one call at a time), or a pool of them (hosts whose
 * environment takes many calls at once).
 */
export interface ServerHost {
  readonly spec: LaunchSpec;
  /** The last start failure, if the server could not be started. */
  readonly startError: Error | undefined;
  /** The (first) server process id, when one is running. */
  readonly pid: number | undefined;
  /** Every server process running now. */
  readonly pids: number[];
  /** Starts the server ahead of the first call and waits for its handshake at most `budgetMs`. */
  warmup(budgetMs: number): Promise<void>;
  /** Runs `fn` with a ready connection, by `deadline` (epoch ms). */
  use<T>(
    deadline: number,
    fn: (conn: McpConnection, timeLeft: () => number) => Promise<T>,
    opts?: UseOptions,
  ): Promise<T>;
  /** The server's answer to `initialize` (starting it if needed). */
  initializeResult(deadline: number): Promise<Record<string, unknown>>;
  /** Finishes (or kills at `deadline`) the stops the calls caused; see {@link ServerSupervisor.settle}. */
  settle(deadline: number): Promise<void>;
  /** Stops every process gracefully and waits until they are gone. */
  shutdown(): Promise<void>;
  /** Kills every process group at once (SIGKILL) and waits until they are gone. */
  kill(reason: string): Promise<void>;
}

/**
 * Local failure: the server had not finished its handshake when the last call waiting for it ran
 * out of time, so its start was given up (the process stopped).
 */
export class ServerStartTimeoutError extends FleetError {
  constructor(
    readonly serverId: string,
    /** How long the start had been running. */
    readonly startedMsAgo: number,
    /** How long the call that gave up could wait. */
    readonly waitedMs: number,
    readonly stderrTail: string,
    /** False when another call still waits for the start (it goes on). */
    readonly stopped = true,
  ) {
    super(
      FLEET_ERROR.startTimeout,
      `server "${serverId}" needs longer to start than the function's timeout allows: it had not finished initialize ${startedMsAgo} ms after it was started, and this invocation could wait ${waitedMs} ms; ${stopped ? 'it was stopped' : 'it goes on for the calls still waiting for it'}. Raise the function's timeout or make the server start faster${stderrTail ? `; its last stderr output: ${stderrTail}` : ''}`,
    );
    this.name = 'ServerStartTimeoutError';
  }

  override rpcData(): Record<string, unknown> {
    return { reason: 'start_timeout', startedMsAgo: this.startedMsAgo, waitedMs: this.waitedMs };
  }
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
 * One server start (spawn, then the MCP handshake), shared by everyone who waits for it. It has no
 * time limit of its own: it ends when the handshake is done, when the process exits, or when the
 * last call waiting for it gives up (then the process is stopped).
 */
class Start {
  readonly ready: Promise<McpConnection>;
  readonly startedAt: number;
  private waiters = 0;
  private conn?: McpConnection;
  private settled = false;
  /** Set when the last waiter gave the start up (its process is being stopped). */
  private abandoned = false;

  constructor(
    private readonly supervisor: ServerSupervisor,
    open: (start: Start) => Promise<McpConnection>,
    now: number,
  ) {
    this.startedAt = now;
    this.ready = open(this).then(
      (conn) => {
        this.settled = true;
        return conn;
      },
      (err: unknown) => {
        this.settled = true;
        throw err;
      },
    );
    // A failed start is reported to its waiters; nobody else needs to see the rejection.
    this.ready.catch(() => undefined);
  }

  /** Whether the start was given up (a method: it changes while the start runs). */
  givenUp(): boolean {
    return this.abandoned;
  }

  /** The connection being opened (known once the process is spawned). */
  attach(conn: McpConnection): void {
    this.conn = conn;
  }

  /**
   * Waits for the start until `deadline` (epoch ms). When the deadline passes and nobody else is
   * waiting, the start is given up: its process group is stopped before this rejects.
   */
  async wait(deadline: number, clock: Clock): Promise<McpConnection> {
    this.waiters += 1;
    const waitMs = Math.max(1, deadline - clock.now());
    try {
      const winner = await withDeadline(this.ready, clock.now() + waitMs, { clock });
      if (winner !== EXPIRED) return winner;
    } finally {
      this.waiters -= 1;
    }
    // The start just finished: this call can still use it.
    if (this.settled) return this.ready;
    // Another call is still waiting for it (a longer deadline): the start goes on for that one.
    const last = this.waiters === 0;
    const error = new ServerStartTimeoutError(
      this.supervisor.spec.id,
      Math.round(clock.now() - this.startedAt),
      Math.round(waitMs),
      this.conn?.stderrTail() ?? '',
      last,
    );
    if (last) await this.supervisor.giveUp(this, error);
    throw error;
  }

  /** Stops the start: its process group if spawned; otherwise it will not spawn at all. */
  async stop(reason: string): Promise<void> {
    this.abandoned = true;
    if (this.conn) await this.conn.kill(reason);
  }
}

/**
 * Owns the server process of one Lambda environment: starts it (once, or per call with
 * `isolation: per-invocation`), replaces it after a crash, a timeout or its `recycle` limits,
 * and stops it — always the whole process group.
 *
 * Lambda's life cycle, as this class follows it:
 * - init: {@link warmup} starts the server and waits for its handshake up to a budget below
 *   Lambda's 10 s init limit, then lets init end without stopping anything;
 * - invoke: a call waits for that same start within its own deadline; a start is given up only
 *   when its process exits or when the last call waiting for it runs out of time;
 * - between invocations: nothing is left running on our side — every stop a call caused is
 *   finished before the handler returns ({@link settle}), because Lambda freezes the environment
 *   as soon as the response is sent.
 */
export class ServerSupervisor implements ServerHost {
  private current?: McpConnection;
  /** Calls running now on each connection (shared processes). */
  private readonly calls = new Map<McpConnection, number>();
  /** Shared processes due for recycling: no new call goes to them; retired when their last call ends. */
  private readonly draining = new Set<McpConnection>();
  private starting?: Start;
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

  get pids(): number[] {
    return [this.current, ...this.draining].map((c) => c?.pid).filter((p): p is number => p !== undefined);
  }

  /** Calls running now (on every process of this supervisor). */
  get active(): number {
    return this.inFlight;
  }

  /**
   * Starts the server ahead of the first call (Lambda's init phase) and waits for its handshake at
   * most `budgetMs`. Never throws and never stops the start: one that takes longer goes on, and
   * the first call waits for it.
   */
  async warmup(budgetMs: number): Promise<void> {
    if (this.spec.isolation === 'per-invocation') return;
    const start = this.current?.alive ? undefined : this.startWarm();
    if (!start) return;
    const settled = start.ready.then(
      () => undefined,
      () => undefined,
    );
    await withDeadline(settled, this.clock.now() + budgetMs, { clock: this.clock, unref: true });
  }

  /**
   * Runs `fn` with a ready connection, starting the server first when needed; everything must be
   * done by `deadline` (epoch ms), and `fn` is told how much time is left.
   */
  async use<T>(
    deadline: number,
    fn: (conn: McpConnection, timeLeft: () => number) => Promise<T>,
    _opts: UseOptions = {},
  ): Promise<T> {
    const timeLeft = (): number => Math.max(1, deadline - this.now());
    const conn =
      this.spec.isolation === 'per-invocation'
        ? await this.newStart().wait(deadline, this.clock)
        : await this.acquireWarm(deadline);
    this.inFlight += 1;
    this.calls.set(conn, (this.calls.get(conn) ?? 0) + 1);
    try {
      return await fn(conn, timeLeft);
    } catch (err) {
      if (err instanceof CallTimeoutError) {
        this.opts.onTimeout?.(err.message);
        // The answer says the process was stopped: it (its whole group) is gone before we answer.
        // (A shared process whose request was only cancelled goes on.)
        if (err.stopped) await conn.kill(err.message);
      } else if (err instanceof ServerExitedError) this.opts.onCrash?.(err.message);
      throw err;
    } finally {
      this.inFlight -= 1;
      this.lastUsed = this.now();
      this.invocations += 1;
      const left = (this.calls.get(conn) ?? 1) - 1;
      if (left === 0) this.calls.delete(conn);
      else this.calls.set(conn, left);
      this.afterCall(conn, left);
    }
  }

  /** After a call on `conn` (`left` calls still on it): per-invocation stop, crash, recycling. */
  private afterCall(conn: McpConnection, left: number): void {
    if (this.spec.isolation === 'per-invocation') {
      this.retire(conn, 'per-invocation call done');
    } else if (!conn.alive) {
      this.draining.delete(conn);
      if (this.current === conn) this.current = undefined;
    } else if (this.draining.has(conn)) {
      if (left === 0)
        this.retire(conn, `recycled after ${this.spec.recycle.maxInvocations ?? 0} invocations`);
    } else if (
      this.spec.recycle.maxInvocations !== undefined &&
      this.invocations >= this.spec.recycle.maxInvocations
    ) {
      if (this.opts.shared === true && left > 0) {
        // Other calls still run on it: new calls go to a new process, this one ends after them.
        if (this.current === conn) this.current = undefined;
        this.draining.add(conn);
      } else this.retire(conn, `recycled after ${this.invocations} invocations`);
    }
  }

  /** A ready warm connection (starting the server if needed), without counting a call. */
  connection(deadline: number): Promise<McpConnection> {
    return this.acquireWarm(deadline);
  }

  /** The warm server's answer to `initialize` (starting it if needed). */
  async initializeResult(deadline: number): Promise<Record<string, unknown>> {
    return this.use(deadline, (conn) => Promise.resolve(conn.initializeResult));
  }

  /**
   * Finishes every stop in progress (recycled or per-invocation processes closing gracefully),
   * by `deadline` at the latest: what is still running then is killed. The handler calls this
   * before it returns, so nothing it started is left working while the environment is frozen.
   */
  async settle(deadline: number): Promise<void> {
    if (this.stopping.size === 0) return;
    const all = Promise.all([...this.stopping]);
    if ((await withDeadline(all, deadline, { clock: this.clock })) === EXPIRED) {
      for (const conn of this.closing) void conn.kill('the invocation ended before it closed');
      await all;
    }
  }

  /** Stops every process this supervisor started, and waits until they are gone. */
  async shutdown(): Promise<void> {
    const conns = [this.current, ...this.draining];
    this.current = undefined;
    this.starting = undefined;
    this.draining.clear();
    for (const conn of conns) if (conn) this.retire(conn, SHUTDOWN_REASON);
    await Promise.all([...this.starts].map((s) => s.stop(SHUTDOWN_REASON)));
    await Promise.all([...this.stopping]);
  }

  /**
   * Kills every process of this supervisor at once (SIGKILL to each whole group: running, starting,
   * draining or closing) and waits until they are gone. Calls in flight fail with the reason.
   */
  async kill(reason: string): Promise<void> {
    const conns = [this.current, ...this.draining, ...this.closing];
    this.current = undefined;
    this.starting = undefined;
    this.draining.clear();
    await Promise.all([...conns.map((c) => c?.kill(reason)), ...[...this.starts].map((s) => s.stop(reason))]);
    await Promise.all([...this.stopping]);
  }

  /** Called by a {@link Start} that its last waiter gave up: stops its process, keeps the reason. */
  async giveUp(start: Start, error: ServerStartTimeoutError): Promise<void> {
    if (this.starting === start) this.starting = undefined;
    this.lastStartError = error;
    this.opts.onTimeout?.(error.message);
    await start.stop('its start was given up');
  }

  /** Connections closing gracefully (killed when an invocation cannot wait for them). */
  private readonly closing = new Set<McpConnection>();
  /** Starts in progress (warm or per-invocation). */
  private readonly starts = new Set<Start>();

  private async acquireWarm(deadline: number): Promise<McpConnection> {
    const idle = this.spec.recycle.idleSeconds;
    // A shared process with calls running is not idle, however long ago the last call ended.
    const busy = this.opts.shared === true && this.current !== undefined && this.calls.has(this.current);
    if (this.current && idle !== undefined && !busy && this.now() - this.lastUsed > idle * 1000) {
      this.retire(this.current, `recycled after ${idle} s idle`);
      this.current = undefined;
    }
    if (this.current?.alive) return this.current;
    this.current = undefined;
    return this.startWarm().wait(deadline, this.clock);
  }

  /** The warm start in progress, or a new one. */
  private startWarm(): Start {
    if (this.starting) return this.starting;
    const start = this.newStart();
    this.starting = start;
    start.ready.then(
      (conn) => {
        if (this.starting === start) this.starting = undefined;
        this.current = conn;
        this.invocations = 0;
        this.lastUsed = this.now();
        this.opts.onStartSettled?.();
      },
      () => {
        if (this.starting === start) this.starting = undefined;
        this.opts.onStartSettled?.();
      },
    );
    return start;
  }

  private newStart(): Start {
    const start = new Start(this, (s) => this.open(s), this.now());
    this.starts.add(start);
    const forget = (): void => {
      this.starts.delete(start);
    };
    start.ready.then(forget, forget);
    return start;
  }

  private async open(start: Start): Promise<McpConnection> {
    const t0 = this.now();
    const extra = this.opts.extraEnv ? await this.opts.extraEnv() : {};
    // Given up while its secrets were being read: nothing to spawn.
    if (start.givenUp()) throw new Error(`server "${this.spec.id}": its start was given up`);
    const env = serverEnvironment(this.spec.id, { ...this.spec.env, ...extra }, this.opts.parentEnv);
    const transport = (this.opts.transport ?? defaultTransport)(this.spec, env, this.opts.log);
    const options: ConnectionOptions = {
      shared: this.opts.shared === true,
      host: this.spec.host ?? 'function',
    };
    if (this.opts.client) options.client = this.opts.client;
    const conn = new McpConnection(
      this.spec.id,
      transport,
      this.opts.log,
      this.opts.clientInfo,
      this.clock,
      options,
    );
    start.attach(conn);
    try {
      await conn.open();
    } catch (err) {
      await conn.kill('start failed');
      // A start given up by its last waiter was reported by it.
      if (!start.givenUp()) {
        this.lastStartError = err as Error;
        this.opts.onCrash?.((err as Error).message);
      }
      throw err;
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
    this.closing.add(conn);
    const p = conn.close(reason).finally(() => {
      this.stopping.delete(p);
      this.closing.delete(conn);
    });
    this.stopping.add(p);
  }

  private get clock(): Clock {
    return this.opts.clock ?? systemClock;
  }

  private now(): number {
    return this.clock.now();
  }
}
