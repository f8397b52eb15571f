/**
 * A function's environments as Lambda scales them: one with room is reused (thawed), a new one is
 * started under the concurrency limit (a cold start), and beyond it a call waits in a bounded
 * queue, or is throttled. A freed environment goes to the next waiting call first; otherwise it is
 * frozen once it has had no call for {@link FREEZE_AFTER_IDLE_MS} (a call that comes sooner, as the
 * next call of a client that calls in a row does, takes it as it is: no freeze and thaw of every
 * thread of its processes in between). Environments idle for too long are stopped.
 *
 * An environment takes `capacity` calls at once: 1 for an event function; many for a web function
 * or managed instances, where calls that come while an environment starts wait for it (its free
 * places) rather than each starting one of their own, as Lambda queues them for a new environment.
 */
import { FLEET_ERROR, FleetError } from '../../contract/errors.js';
import { onAbort } from '../../platform/abort.js';
import type { Clock } from '../../platform/time.js';
import type { ExecutionEnvironment, InitOutcome } from './environment.js';

/** An environment for one invocation: warm, cold (its init done), or to be initialized inside it. */
export type Lease =
  | { env: ExecutionEnvironment; cold: boolean; initMs?: number }
  | { env: undefined; cold: true; failedInit: InitOutcome };

/** Lambda's throttling error (HTTP 429). */
export class ThrottledError extends FleetError {
  readonly errorType = 'TooManyRequestsException';
  /** `why`: what is full, when it is not the concurrency limit and queue. */
  constructor(functionName: string, limit: number, why?: string) {
    super(
      FLEET_ERROR.throttled,
      `Rate Exceeded. ${functionName} ${why ?? `is at its concurrency limit (${limit}) and its queue is full`}.`,
    );
    this.name = 'TooManyRequestsException';
  }
}

/** The caller stopped waiting (its deadline passed, or it went away) before an environment was free. */
export class CallerGoneError extends FleetError {
  constructor(functionName: string, why: string) {
    super(FLEET_ERROR.callerGone, `${functionName}: the caller stopped waiting for an environment (${why})`);
    this.name = 'CallerGoneError';
  }
}

/**
 * How long a freed environment stays unfrozen, waiting for the next call, before it is frozen. A
 * freeze and the thaw after it stop and continue every thread of every process of the environment
 * (22 threads for a Node.js worker and a Node.js server): about a millisecond of CPU per call for
 * a client that calls in a row (docs/benchmarks.md). A server cannot tell 10 ms from Lambda's
 * "frozen once the response is out"; what Lambda's freeze shows (timers that do not fire between
 * invocations, connections that go stale, background work that never ends) shows the same.
 */
export const FREEZE_AFTER_IDLE_MS = 10;

export interface PoolOptions {
  /** The function's name (in errors). */
  name: string;
  /** Environments at most (reserved concurrency); read at each decision. */
  limit: () => number;
  /** Calls waiting for an environment before Lambda's throttling error. */
  queueLimit: number;
  /** A cold start: a new environment through its init (it calls {@link EnvironmentPool.track}). */
  coldStart: () => Promise<Lease>;
  /** Calls one environment takes at once (default 1). */
  capacity?: number;
  clock: Clock;
}

/** A cold start under way, and the calls that wait for it (the first started it). */
interface Starting {
  takers: number;
  lease: Promise<Lease>;
}

interface Waiter {
  resolve: (lease: Lease) => void;
  reject: (err: Error) => void;
}

export class EnvironmentPool {
  private readonly envs = new Set<ExecutionEnvironment>();
  /** Calls running in each environment. */
  private readonly load = new Map<ExecutionEnvironment, number>();
  /** The most calls each environment ran at once. */
  private readonly peaks = new Map<ExecutionEnvironment, number>();
  /** Cold starts under way with places left (capacity above 1). */
  private readonly starting = new Set<Starting>();
  /** Cold starts under way that hold a place under the concurrency limit. */
  private reserved = 0;
  private readonly waiting: Waiter[] = [];
  /** Callers of {@link whenIdle}. */
  private idleWaiters: (() => void)[] = [];
  /** How many times each environment became idle: a freeze is for the idle period it was planned in. */
  private readonly idlePeriods = new WeakMap<ExecutionEnvironment, number>();

  /** Why the pool was shut down, once it was: it takes no call and starts no environment. */
  private closed: string | undefined;

  constructor(private readonly opts: PoolOptions) {}

  /** Whether no call is running, starting or queued. */
  get idle(): boolean {
    return (
      this.reserved === 0 &&
      this.waiting.length === 0 &&
      [...this.envs].every((e) => e.state === 'idle' || e.state === 'stopped')
    );
  }

  /** Resolves once no call is running, starting or queued. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.idle) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  get size(): number {
    return this.envs.size;
  }

  private get capacity(): number {
    return Math.max(1, this.opts.capacity ?? 1);
  }

  /** Calls running in an environment now. */
  loadOf(env: ExecutionEnvironment): number {
    return this.load.get(env) ?? 0;
  }

  /** The most calls an environment ran at once. */
  peakOf(env: ExecutionEnvironment): number {
    return this.peaks.get(env) ?? 0;
  }

  get queued(): number {
    return this.waiting.length;
  }

  list(): ExecutionEnvironment[] {
    return [...this.envs];
  }

  /** Counts a start under the limit while it runs; `track` takes over when it has an environment. */
  async reserving<T>(start: () => Promise<T>): Promise<T> {
    this.assertOpen();
    this.reserved += 1;
    try {
      return await start();
    } finally {
      this.reserved -= 1;
    }
  }

  /** An environment of this function, forgotten when it ends (its place goes to a waiting call). */
  track(env: ExecutionEnvironment, onGone?: (env: ExecutionEnvironment) => void): void {
    // Started while the pool was shutting down (its start was under way): it goes too.
    if (this.closed !== undefined) void env.stop();
    this.envs.add(env);
    void env.done.then(() => {
      this.envs.delete(env);
      this.load.delete(env);
      onGone?.(env);
      this.handOff();
      this.checkIdle();
    });
  }

  /** An idle environment, a new one (cold start) under the limit, or a place in the queue. */
  async acquire(signal?: AbortSignal): Promise<Lease> {
    this.assertOpen();
    const idle = this.takeIdle();
    if (idle) {
      await idle.thaw();
      return { env: idle, cold: false };
    }
    const joined = this.joinStart();
    if (joined) return joined;
    if (this.hasRoom()) return this.start();
    if (this.opts.limit() === 0 || this.waiting.length >= this.opts.queueLimit) {
      const limit = this.opts.limit();
      // Hosts without a queue (web functions, managed instances) throttle when every environment is full.
      const full =
        this.opts.queueLimit === 0 && limit > 0
          ? `has every environment busy (${limit} environment${limit === 1 ? '' : 's'} × ${this.capacity} call${this.capacity === 1 ? '' : 's'} at once; calls are not queued)`
          : undefined;
      throw new ThrottledError(this.opts.name, limit, full);
    }
    return this.enqueue(signal);
  }

  /** After an invocation: the environment goes to the next waiting call, or is frozen until one comes. */
  release(env: ExecutionEnvironment): void {
    env.lastUsed = this.opts.clock.now();
    const load = this.loadOf(env) - 1;
    if (load > 0) {
      this.load.set(env, load);
      this.handOff();
      return;
    }
    this.load.delete(env);
    if (env.state !== 'busy') return;
    env.state = 'idle';
    if (this.handOff() !== env) this.freezeWhenIdle(env);
    this.checkIdle();
  }

  /**
   * Freezes the environment once it has had no call for {@link FREEZE_AFTER_IDLE_MS}: never on the caller's
   * path, and not at all when the next call comes first.
   */
  private freezeWhenIdle(env: ExecutionEnvironment): void {
    const planned = (this.idlePeriods.get(env) ?? 0) + 1;
    this.idlePeriods.set(env, planned);
    const timer = this.opts.clock.setTimeout(() => {
      // After this turn's input: a request read in the same turn of the event loop takes it first.
      setImmediate(() => {
        if (env.state === 'idle' && this.idlePeriods.get(env) === planned) void env.freeze();
      });
    }, FREEZE_AFTER_IDLE_MS);
    timer.unref?.();
  }

  /** Stops environments idle for longer than `idleMs` (frozen ones included). */
  reclaimIdle(idleMs: number): void {
    const now = this.opts.clock.now();
    for (const env of this.envs) {
      // Forgotten once every process is gone (its `done`).
      if (env.state === 'idle' && now - env.lastUsed > idleMs) void env.stop();
    }
  }

  /** Every waiting call refused, every environment stopped; from now on no call is taken. */
  async shutdown(why: string): Promise<void> {
    this.closed ??= why;
    for (const w of this.waiting.splice(0)) w.reject(new Error(why));
    await Promise.all([...this.envs].map((e) => e.stop()));
    this.envs.clear();
  }

  /** A call that comes once the pool is shut down gets no environment (none would be stopped). */
  assertOpen(): void {
    if (this.closed !== undefined) throw new Error(`${this.opts.name}: ${this.closed}`);
  }

  private hasRoom(): boolean {
    return this.envs.size + this.reserved < this.opts.limit();
  }

  private enqueue(signal: AbortSignal | undefined): Promise<Lease> {
    return new Promise<Lease>((resolve, reject) => {
      const gone = (): CallerGoneError => new CallerGoneError(this.opts.name, reasonOf(signal));
      if (signal?.aborted === true) {
        reject(gone());
        return;
      }
      const waiter: Waiter = {
        resolve: (lease) => {
          unwatch();
          resolve(lease);
        },
        reject: (err) => {
          unwatch();
          reject(err);
        },
      };
      this.waiting.push(waiter);
      // A call that gives up while queued leaves the queue; one already handed an environment keeps it.
      const unwatch = onAbort(signal, () => {
        const at = this.waiting.indexOf(waiter);
        if (at === -1) return;
        this.waiting.splice(at, 1);
        reject(gone());
      });
    });
  }

  /**
   * An environment with a free place, taken for one call: the least loaded one, so calls spread
   * over the environments there are; of those, the one used last, the least likely to be frozen
   * already (a call then rarely pays a thaw while another environment was still warm, and the
   * environments a lighter load no longer needs stay idle until they are reclaimed).
   */
  private takeIdle(): ExecutionEnvironment | undefined {
    let best: ExecutionEnvironment | undefined;
    let bestLoad = Infinity;
    for (const env of this.envs) {
      // A busy environment the pool did not hand out (an init inside an invocation) is not shared.
      if (env.state !== 'idle' && !(env.state === 'busy' && this.load.has(env))) continue;
      const load = this.loadOf(env);
      if (load >= this.capacity) continue;
      if (best === undefined || load < bestLoad || (load === bestLoad && env.lastUsed > best.lastUsed)) {
        best = env;
        bestLoad = load;
      }
    }
    if (best !== undefined) this.take(best);
    return best;
  }

  /** One more call in an environment (also for one started outside the pool's leases). */
  take(env: ExecutionEnvironment): void {
    const load = this.loadOf(env) + 1;
    this.load.set(env, load);
    this.peaks.set(env, Math.max(load, this.peakOf(env)));
    env.state = 'busy';
  }

  /** A cold start; with capacity above 1, later calls may wait for it ({@link joinStart}). */
  private start(): Promise<Lease> {
    const lease = this.opts.coldStart();
    if (this.capacity === 1) return lease.then((l) => this.counted(l));
    const starting: Starting = { takers: 1, lease };
    this.starting.add(starting);
    const done = (): void => {
      this.starting.delete(starting);
    };
    lease.then(done, done);
    return lease.then((l) => this.counted(l, starting));
  }

  /** A place in a cold start under way that has room; its environment is this call's too. */
  private joinStart(): Promise<Lease> | undefined {
    for (const starting of this.starting) {
      if (starting.takers >= this.capacity) continue;
      starting.takers += 1;
      return starting.lease.then((l) => this.counted(l, starting, true));
    }
    return undefined;
  }

  /** A started environment's lease, counted once for each call that waited for it. */
  private counted(lease: Lease, starting?: Starting, joined = false): Lease {
    if (lease.env === undefined) return lease;
    if (joined || starting === undefined || !this.load.has(lease.env)) this.take(lease.env);
    return joined ? { env: lease.env, cold: true } : lease;
  }

  /** Gives a free (or new) environment to the next waiting call; returns the one it gave, if any. */
  private handOff(): ExecutionEnvironment | undefined {
    const next = this.waiting.shift();
    if (!next) return undefined;
    const idle = this.takeIdle();
    if (idle) {
      idle.thaw().then(
        () => {
          next.resolve({ env: idle, cold: false });
        },
        (err: unknown) => {
          next.reject(err as Error);
        },
      );
      return idle;
    }
    if (this.hasRoom()) {
      this.start().then(next.resolve, next.reject);
      return undefined;
    }
    this.waiting.unshift(next);
    return undefined;
  }
}

function reasonOf(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason.message;
  return typeof reason === 'string' ? reason : 'aborted';
}
