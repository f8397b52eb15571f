import type { LaunchSpec } from '../config/model.js';
import { MULTI_CALL_HOSTS } from '../config/limits.js';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';
import { onAbort } from '../platform/abort.js';
import { systemClock, type Clock, type ClockTimer } from '../platform/time.js';
import { CallCancelledError, type McpConnection } from './connection.js';
import { ServerSupervisor, type ServerHost, type SupervisorOptions, type UseOptions } from './supervisor.js';

/**
 * Local failure: every process of the pool was taking all the calls it may (`concurrency`) until
 * the call's deadline, so the call was never sent.
 */
export class PoolBusyError extends FleetError {
  constructor(
    readonly serverId: string,
    readonly processes: number,
    readonly concurrency: number,
    readonly waitedMs: number,
  ) {
    super(
      FLEET_ERROR.callTimeout,
      `server "${serverId}" is busy: its ${processes} process${processes === 1 ? '' : 'es'} (processes: ${processes}) each had ${concurrency} call${concurrency === 1 ? '' : 's'} running (concurrency: ${concurrency}) for the ${waitedMs} ms this call could wait for a free one; it was not sent. Raise processes or concurrency, or the timeout`,
    );
    this.name = 'PoolBusyError';
  }

  override rpcData(): Record<string, unknown> {
    return {
      reason: 'busy',
      processes: this.processes,
      concurrency: this.concurrency,
      waitedMs: this.waitedMs,
    };
  }
}

/** Local failure: the environment is shutting down. */
class PoolClosedError extends FleetError {
  constructor(serverId: string) {
    super(FLEET_ERROR.serverExited, `server "${serverId}": the environment is shutting down`);
    this.name = 'PoolClosedError';
  }
}

/** One warm server process of the pool (a supervisor: it replaces its process after a crash). */
interface Member {
  supervisor: ServerSupervisor;
  /** Calls given this member and not yet done. */
  active: number;
  /** Its first start has not ended yet (while one has not, the pool starts no other). */
  starting: boolean;
}

/** A call waiting for a free process. */
interface Waiter {
  resolve: (member: Member) => void;
  reject: (err: Error) => void;
  timer: ClockTimer;
  unwatch: () => void;
}

/**
 * The server processes of one environment whose host takes many calls at once (`web-function`,
 * `managed-instances`): up to `spec.processes` warm processes, each a {@link ServerSupervisor}
 * (started on demand, replaced after a crash), each taking at most `spec.concurrency` calls at
 * once. A call goes to the least busy process with a free slot; when none has one and the pool
 * is full, it waits (first come, first served) until a slot frees, its deadline passes
 * ({@link PoolBusyError}) or its caller goes away. Without `concurrency`, one process takes every
 * call of the environment.
 *
 * One process starts at a time: while a new process has not finished starting, a call that finds
 * every slot taken waits for a slot (on it or on another) instead of starting one more. A burst
 * of calls on a cold environment then pays one server start, not `processes` starts sharing the
 * environment's CPUs (each slower for it), and the pool grows only as far as the load still needs
 * once the first process serves.
 *
 * Nothing here blocks one call on another's stop: {@link settle} returns at once (these hosts do
 * not freeze an environment between invocations, so a process closing finishes on its own).
 */
export class ServerPool implements ServerHost {
  private readonly members: Member[] = [];
  private readonly queue: Waiter[] = [];
  private closed = false;
  /** Calls one process takes at once. */
  readonly concurrency: number;
  /** Processes at most. */
  readonly processes: number;
  private readonly memberSpec: LaunchSpec;

  constructor(
    readonly spec: LaunchSpec,
    private readonly opts: SupervisorOptions,
  ) {
    this.concurrency = spec.concurrency ?? Infinity;
    this.processes = spec.concurrency === undefined ? 1 : Math.max(1, spec.processes ?? 1);
    // Each process is a warm server: per-invocation isolation belongs to host `function`.
    this.memberSpec = { ...spec, isolation: 'warm' };
  }

  get startError(): Error | undefined {
    return this.members.map((m) => m.supervisor.startError).find((e) => e !== undefined);
  }

  get pid(): number | undefined {
    return this.pids[0];
  }

  get pids(): number[] {
    return this.members.flatMap((m) => m.supervisor.pids);
  }

  /** Calls running now on each process (for tests and status). */
  get load(): number[] {
    return this.members.map((m) => m.active);
  }

  /** Starts the first process only; the others start when calls need them. */
  async warmup(budgetMs: number): Promise<void> {
    if (this.closed) return;
    await this.first().supervisor.warmup(budgetMs);
  }

  async use<T>(
    deadline: number,
    fn: (conn: McpConnection, timeLeft: () => number) => Promise<T>,
    opts: UseOptions = {},
  ): Promise<T> {
    const member = await this.acquire(deadline, opts.signal);
    try {
      return await member.supervisor.use(deadline, fn);
    } finally {
      this.release(member);
    }
  }

  /** From the first process (started if needed), without taking a slot: no request is sent. */
  async initializeResult(deadline: number): Promise<Record<string, unknown>> {
    if (this.closed) throw new PoolClosedError(this.spec.id);
    const conn = await this.first().supervisor.connection(deadline);
    return conn.initializeResult;
  }

  /** Returns at once: other calls run on, and a process closing finishes in the background. */
  settle(_deadline: number): Promise<void> {
    return Promise.resolve();
  }

  async shutdown(): Promise<void> {
    this.close();
    await Promise.all(this.members.map((m) => m.supervisor.shutdown()));
  }

  async kill(reason: string): Promise<void> {
    this.close();
    await Promise.all(this.members.map((m) => m.supervisor.kill(reason)));
  }

  private close(): void {
    this.closed = true;
    for (const waiter of this.queue.splice(0)) this.drop(waiter, new PoolClosedError(this.spec.id));
  }

  private first(): Member {
    return this.members[0] ?? this.add();
  }

  private add(): Member {
    const supervisor = new ServerSupervisor(this.memberSpec, {
      ...this.opts,
      shared: true,
      onStartSettled: () => {
        member.starting = false;
        this.opts.onStartSettled?.();
        this.drain();
      },
    });
    const member: Member = { supervisor, active: 0, starting: true };
    this.members.push(member);
    return member;
  }

  /**
   * The least busy process with a free slot; else a new one, while the pool is not full and no
   * process is starting; else none.
   */
  private free(): Member | undefined {
    let best: Member | undefined;
    for (const m of this.members)
      if (m.active < this.concurrency && (!best || m.active < best.active)) best = m;
    if (best) return best;
    if (this.members.length >= this.processes || this.members.some((m) => m.starting)) return undefined;
    return this.add();
  }

  private acquire(deadline: number, signal: AbortSignal | undefined): Promise<Member> {
    if (this.closed) return Promise.reject(new PoolClosedError(this.spec.id));
    if (signal?.aborted === true)
      return Promise.reject(new CallCancelledError('the call', 'the caller went away while it waited'));
    const member = this.queue.length === 0 ? this.free() : undefined;
    if (member) {
      member.active += 1;
      return Promise.resolve(member);
    }
    const since = this.clock.now();
    return new Promise<Member>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: this.clock.setTimeout(
          () => {
            const waited = Math.round(this.clock.now() - since);
            this.drop(waiter, new PoolBusyError(this.spec.id, this.processes, this.concurrency, waited));
          },
          Math.max(1, deadline - since),
        ),
        unwatch: () => undefined,
      };
      // In the queue before its signal is watched: the signal is not aborted (checked above), and
      // a drop must find it there.
      this.queue.push(waiter);
      waiter.unwatch = onAbort(signal, () => {
        this.drop(waiter, new CallCancelledError('the call', 'the caller went away while it waited'));
      });
    });
  }

  /** A waiter leaves the queue with an error. */
  private drop(waiter: Waiter, err: Error): void {
    const at = this.queue.indexOf(waiter);
    if (at !== -1) this.queue.splice(at, 1);
    this.clock.clearTimeout(waiter.timer);
    waiter.unwatch();
    waiter.reject(err);
  }

  /** A call is done: its slot goes to the first waiter, if any. */
  private release(member: Member): void {
    member.active -= 1;
    this.drain();
  }

  /** Waiters, first come first served, get the free slots (or new processes) there are. */
  private drain(): void {
    if (this.closed) return;
    for (;;) {
      const waiter = this.queue[0];
      const next = waiter && this.free();
      if (!waiter || !next) return;
      this.queue.shift();
      this.clock.clearTimeout(waiter.timer);
      waiter.unwatch();
      next.active += 1;
      waiter.resolve(next);
    }
  }

  private get clock(): Clock {
    return this.opts.clock ?? systemClock;
  }
}

/**
 * The warm servers of an environment for its host: a {@link ServerPool} where one environment
 * takes many calls at once (`web-function`, `managed-instances`), else one {@link ServerSupervisor}
 * (host `function`: one call at a time, as before).
 */
export function serversFor(spec: LaunchSpec, opts: SupervisorOptions): ServerHost {
  return spec.host !== undefined && MULTI_CALL_HOSTS.includes(spec.host)
    ? new ServerPool(spec, opts)
    : new ServerSupervisor(spec, opts);
}
