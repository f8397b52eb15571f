/**
 * The event-function environment (Lambda's classic execution environment), the one kind of
 * {@link ExecutionEnvironment} today: a worker process that loads the function's handler (the very
 * bundle a deployed function runs) and serves one invocation at a time over IPC, with the life
 * cycle Lambda gives an environment:
 *
 * - init: the worker loads the handler (whose init starts the MCP server) and reports ready; the
 *   caller bounds it (Lambda's 10 s) and decides what a timeout means;
 * - invoke: one event at a time;
 * - freeze: between invocations every process of the environment is stopped (SIGSTOP), and
 *   continued (SIGCONT) for the next invocation, which may never come;
 * - memory: the whole process tree is held to the function's memory; over it, the environment is
 *   killed (Runtime.OutOfMemory);
 * - shutdown: a graceful stop when reclaimed, a kill (every process at once) otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { memoryGuard, type MemoryGuard } from './memory.js';
import { continueAll, processTree, signalAll, waitGone } from '../../platform/processes.js';
import type { InvokeMessage, InvokeReply, ServiceMessage, WorkerMessage } from './worker-protocol.js';
import type {
  ChunkSink,
  EnvironmentFactory,
  EnvironmentSpec,
  EnvironmentState,
  ExecutionEnvironment,
  InitOutcome,
  KillReason,
} from './environment.js';
import { EXPIRED, within } from '../../platform/time.js';

/** How often a working environment's memory is measured. */
const MEMORY_SAMPLE_MS = 100;
/** A graceful stop gets this long before every process is killed. */
const STOP_GRACE_MS = 5_000;

/** Lambda names a runtime killed by a signal with Go's wording ("signal: killed"). */
const SIGNAL_WORDS: Partial<Record<NodeJS.Signals, string>> = {
  SIGKILL: 'killed',
  SIGTERM: 'terminated',
  SIGSEGV: 'segmentation fault',
  SIGABRT: 'aborted',
  SIGINT: 'interrupt',
};

export function runtimeExitMessage(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null
    ? `Runtime exited with error: signal: ${SIGNAL_WORDS[signal] ?? signal}`
    : `Runtime exited with error: exit status ${String(code)}`;
}

export class EventEnvironment implements ExecutionEnvironment {
  readonly id = randomBytes(4).toString('hex');
  state: EnvironmentState = 'init';
  lastUsed: number;
  serverPid: number | undefined;
  startError: string | undefined;
  /** Init duration, reported on the first invocation (then cleared). */
  pendingInitMs: number | undefined;
  /** Memory high-water mark, bytes. */
  peakBytes = 0;
  /** Why the environment was killed, when it was (out of memory, timeout, …). */
  killedBecause: KillReason | undefined;
  readonly done: Promise<void>;

  private readonly child: ChildProcess;
  private readonly started: number;
  private pending?: {
    requestId: string;
    resolve: (m: InvokeReply) => void;
    onChunk?: ChunkSink | undefined;
  };
  private initWaiter?: (m: WorkerMessage | 'exit') => void;
  private readyMessage?: WorkerMessage;
  private exited = false;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private frozen: number[] | undefined;
  private freezing: Promise<void> = Promise.resolve();
  private sampler?: NodeJS.Timeout;
  private dying?: Promise<void>;
  private sampling = false;
  private ticks = 0;

  private constructor(
    private readonly opts: EnvironmentSpec,
    private readonly guard: MemoryGuard,
  ) {
    this.started = opts.clock.monotonic();
    this.lastUsed = opts.clock.now();
    const { command, args, env, cwd } = opts.launch;
    this.child = spawn(command, args, {
      cwd,
      env,
      // Its own process group: a kill of -pid reaches the worker and what it runs in its group.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.child.stdout?.pipe(opts.log, { end: false });
    this.child.stderr?.pipe(opts.log, { end: false });
    this.child.on('error', () => undefined); // a failed spawn is reported by 'exit' too
    this.done = new Promise((resolve) => {
      this.child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        this.exited = true;
        this.exitInfo = { code, signal };
        this.state = 'stopped';
        if (this.frozen) this.opts.guardian?.thawed(this.frozen);
        this.frozen = undefined;
        this.stopSampler();
        this.initWaiter?.('exit');
        const p = this.pending;
        this.pending = undefined;
        p?.resolve(this.platformError(p.requestId));
        void this.reap().finally(resolve);
      });
    });
    this.child.on('message', (m: WorkerMessage) => {
      this.onMessage(m);
    });
    this.startSampler();
  }

  /** Creates the environment: its memory limit first, then the worker inside it (init starts). */
  static async create(opts: EnvironmentSpec): Promise<EventEnvironment> {
    const guard = await memoryGuard(opts.memoryMode, opts.name, opts.memoryMb);
    const env = new EventEnvironment(opts, guard);
    if (env.child.pid !== undefined) {
      try {
        await guard.adopt(env.child.pid);
      } catch {
        // it exited already; 'close' reports it
      }
    }
    return env;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isFrozen(): boolean {
    return this.frozen !== undefined;
  }

  get memoryKind(): MemoryGuard['kind'] {
    return this.guard.kind;
  }

  /** Waits for the end of init (the worker's ready) at most `limitMs`; does not stop anything. */
  async awaitInit(limitMs: number): Promise<InitOutcome> {
    const { clock } = this.opts;
    const elapsed = (): number => clock.monotonic() - this.started;
    const ready = this.readyMessage;
    if (ready) return this.initOutcome(ready, elapsed());
    if (this.exited) return this.initOutcome('exit', elapsed());
    const end = new Promise<WorkerMessage | 'exit'>((resolve) => (this.initWaiter = resolve));
    const m = await within(end, Math.max(1, limitMs - elapsed()), { clock });
    this.initWaiter = undefined;
    return m === EXPIRED
      ? { status: 'timeout', durationMs: Math.max(limitMs, elapsed()) }
      : this.initOutcome(m, elapsed());
  }

  /**
   * Sends one invocation; resolves with the worker's answer, or the platform's error if it dies.
   * A streaming handler's pieces go to `onChunk` as they come, before the answer.
   */
  invoke(msg: InvokeMessage, onChunk?: ChunkSink): Promise<InvokeReply> {
    if (this.exited) return Promise.resolve(this.platformError(msg.requestId));
    return new Promise((resolve) => {
      this.pending = { requestId: msg.requestId, resolve, onChunk };
      this.send(msg);
    });
  }

  /** Lambda's freeze: every process of the environment stopped until {@link thaw}. */
  freeze(): Promise<void> {
    if (!this.opts.freeze || this.exited || this.frozen !== undefined) return this.freezing;
    this.freezing = this.freezing.then(async () => {
      if (this.exited || this.state === 'busy') return;
      this.stopSampler();
      this.frozen = await signalAll(() => this.members(), 'SIGSTOP');
      this.opts.guardian?.frozen(this.frozen);
    });
    return this.freezing;
  }

  /** Continues a frozen environment (the next invocation, or a graceful stop). */
  async thaw(): Promise<void> {
    await this.freezing;
    const frozen = this.frozen;
    this.frozen = undefined;
    if (frozen) {
      continueAll(frozen);
      this.opts.guardian?.thawed(frozen);
    }
    if (!this.exited) this.startSampler();
  }

  /** Measures memory now (and kills the environment if it is over its limit). */
  async measure(): Promise<boolean> {
    if (this.exited) return this.killedBecause === 'out-of-memory';
    let over: boolean;
    try {
      const sample = await this.guard.sample(() => this.members());
      this.peakBytes = Math.max(this.peakBytes, sample.peak);
      over = await this.guard.exceeded();
    } catch {
      return false; // the environment ended while we measured
    }
    if (over) await this.kill('out-of-memory');
    return over;
  }

  /** Graceful: the worker closes its server, then exits; killed if it takes too long. */
  async stop(): Promise<void> {
    if (this.exited) return this.done;
    await this.thaw();
    this.state = 'stopped';
    this.killedBecause ??= 'reclaimed';
    this.send({ type: 'shutdown' });
    if ((await within(this.done, STOP_GRACE_MS, { clock: this.opts.clock })) === EXPIRED)
      await this.kill('reclaimed');
  }

  /** Lambda's way: every process of the environment killed at once; resolves when all are gone. */
  kill(reason: KillReason): Promise<void> {
    this.killedBecause ??= reason;
    this.dying ??= this.killAll();
    return this.dying;
  }

  /** Resolves when the environment has ended and, if it was killed, every process of it is gone. */
  async gone(): Promise<void> {
    await this.done;
    await this.dying;
  }

  private async killAll(): Promise<void> {
    this.state = 'stopped';
    let killed: number[] = [];
    if (!this.exited) {
      killed = await signalAll(() => this.members(), 'SIGKILL');
      this.killGroups();
      if (this.frozen) this.opts.guardian?.thawed(this.frozen);
      this.frozen = undefined;
    }
    await this.done;
    // A process killed while it frees a lot of memory takes a moment to be gone.
    await waitGone(killed);
  }

  /** Every process of the environment: its cgroup's, or the worker's process tree. */
  async members(): Promise<number[]> {
    const fromGuard = await this.guard.members();
    if (fromGuard !== undefined) return fromGuard;
    return this.child.pid === undefined || this.exited ? [] : processTree(this.child.pid);
  }

  private onMessage(m: WorkerMessage): void {
    if (m.type === 'ready' || m.type === 'init-error') {
      this.readyMessage = m;
      if (m.type === 'ready') {
        this.serverPid = m.serverPid;
        this.startError = m.startError;
      }
      this.initWaiter?.(m);
      return;
    }
    if (m.type === 'chunk') {
      if (this.pending?.requestId === m.requestId)
        this.pending.onChunk?.(
          Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength),
          m.contentType,
        );
      return;
    }
    if (m.serverPid !== undefined) this.serverPid = m.serverPid;
    if (m.type === 'result') this.startError = m.startError;
    if (this.pending?.requestId !== m.requestId) return;
    const p = this.pending;
    this.pending = undefined;
    // A server killed by the kernel's OOM killer looks like a crash to the worker: the limit decides.
    void this.guard.exceeded().then(async (oom) => {
      if (oom) await this.kill('out-of-memory');
      p.resolve(oom ? this.platformError(p.requestId) : m);
    });
  }

  private initOutcome(m: WorkerMessage | 'exit', durationMs: number): InitOutcome {
    if (m === 'exit') {
      const { code, signal } = this.exitInfo ?? { code: null, signal: null };
      const oom = this.killedBecause === 'out-of-memory';
      return {
        status: 'error',
        durationMs,
        errorType: oom ? 'Runtime.OutOfMemory' : 'Runtime.ExitError',
        errorMessage: runtimeExitMessage(code, signal),
      };
    }
    if (m.type === 'init-error') {
      return { status: 'error', durationMs, errorType: m.errorType, errorMessage: m.errorMessage };
    }
    return { status: 'success', durationMs };
  }

  private platformError(requestId: string): InvokeReply {
    const { code, signal } = this.exitInfo ?? { code: null, signal: 'SIGKILL' as const };
    const errorType = this.killedBecause === 'out-of-memory' ? 'Runtime.OutOfMemory' : 'Runtime.ExitError';
    return {
      type: 'error',
      requestId,
      errorType,
      errorMessage: `RequestId: ${requestId} Error: ${runtimeExitMessage(code, signal)}`,
    };
  }

  private send(m: ServiceMessage): void {
    try {
      this.child.send(m);
    } catch {
      void this.kill('killed');
    }
  }

  private startSampler(): void {
    if (this.sampler) return;
    this.sampler = setInterval(() => {
      this.ticks += 1;
      // Working (init, busy) environments are measured often; an idle unfrozen one now and then.
      if (this.sampling || (this.state === 'idle' && this.ticks % 10 !== 0)) return;
      this.sampling = true;
      void this.measure().finally(() => {
        this.sampling = false;
      });
    }, MEMORY_SAMPLE_MS);
    this.sampler.unref();
  }

  private stopSampler(): void {
    clearInterval(this.sampler);
    this.sampler = undefined;
  }

  /** After the worker exited: nothing of the environment is left, then its cgroup goes. */
  private async reap(): Promise<void> {
    const left = await this.guard.members();
    if (left !== undefined && left.length > 0) {
      await signalAll(() => this.guard.members().then((m) => m ?? []), 'SIGKILL');
    }
    this.killGroups();
    await this.guard.dispose();
    await this.opts.launch.dispose?.().catch(() => undefined);
  }

  /** SIGKILL to the worker's and the server's process groups. */
  private killGroups(): void {
    for (const pgid of [this.child.pid, this.serverPid]) {
      if (pgid === undefined) continue;
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** The default {@link EnvironmentFactory}: an event-function environment (a worker process). */
export const startEventEnvironment: EnvironmentFactory = (spec) => EventEnvironment.create(spec);
