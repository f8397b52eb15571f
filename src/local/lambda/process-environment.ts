/**
 * What every local execution environment that is a process tree shares, whatever its host: the
 * first process started in its own process group inside the environment's memory limit, memory
 * sampled while it works (over the limit, the environment is killed: Runtime.OutOfMemory), a kill
 * that reaches every process at once, and nothing left once it ended. The event-function
 * environment (event-environment.ts) and the web-function environment (web-environment.ts) add
 * how an invocation reaches it.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { MemoryGuard } from './memory.js';
import { CALL_STARTS_KEPT, filesReadAfterWrite, ownTmp } from './own-tmp.js';
import { processTree, signalAll, waitGone } from '../../platform/processes.js';
import type {
  ChunkSink,
  EnvironmentSpec,
  EnvironmentState,
  ExecutionEnvironment,
  InitOutcome,
  KillReason,
} from './environment.js';
import type { InvokeMessage, InvokeReply } from './worker-protocol.js';

/** How often a working environment's memory is measured. */
const MEMORY_SAMPLE_MS = 100;
/**
 * Without a cgroup, a measurement walks the environment's process tree in /proc (two files per
 * thread). A measurement this soon after the last walk (an invocation's, between the sampler's)
 * reads the memory of the processes that walk found: a process started since is measured by a
 * later walk, at most one and a half sampling intervals later (the sampler walks on its ticks).
 */
const TREE_REUSE_MS = MEMORY_SAMPLE_MS / 2;

export abstract class ProcessEnvironment implements ExecutionEnvironment {
  readonly id: string;
  state: EnvironmentState = 'init';
  lastUsed: number;
  serverPid: number | undefined;
  startError: string | undefined;
  /** Memory high-water mark, bytes. */
  peakBytes = 0;
  /** Why the environment was killed, when it was (out of memory, timeout, …). */
  killedBecause: KillReason | undefined;
  readonly done: Promise<void>;
  /** The folder that is its /tmp, when it has no /tmp of its own (outside the sandbox). */
  readonly tmp: string | undefined;
  /** Once it ended: the files of its /tmp a later call read after an earlier one wrote them. */
  filesReadLater: string[] = [];
  /** When its calls began (epoch ms, ascending; the last {@link CALL_STARTS_KEPT}). */
  private readonly callStarts: number[] = [];

  /** A call begins in it (the function tells it: its files are read against these). */
  noteCall(at: number = Date.now()): void {
    this.callStarts.push(at);
    if (this.callStarts.length > CALL_STARTS_KEPT)
      this.callStarts.splice(0, this.callStarts.length - CALL_STARTS_KEPT / 2);
  }

  protected readonly child: ChildProcess;
  /** How its first process was started (with its own /tmp). */
  private readonly launch: EnvironmentSpec['launch'];
  /** The clock's monotonic time when the process was started. */
  protected readonly started: number;
  protected exited = false;
  protected exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** The processes stopped by a freeze, while frozen. */
  protected frozen: number[] | undefined;
  private sampler?: NodeJS.Timeout;
  private dying?: Promise<void>;
  private sampling = false;
  private ticks = 0;
  /** The process tree the last /proc measurement walked, and when (performance.now()). */
  private walked: { pids: number[]; at: number } | undefined;

  protected constructor(
    protected readonly opts: EnvironmentSpec,
    protected readonly guard: MemoryGuard,
    stdio: StdioOptions,
  ) {
    this.id = opts.id ?? randomBytes(4).toString('hex');
    this.started = opts.clock.monotonic();
    this.lastUsed = opts.clock.now();
    // Its own /tmp, as each Lambda environment has: a mount of its own (sandbox), or a folder.
    const own = opts.launch.tmp === 'mount' ? undefined : ownTmp(opts.launch);
    this.tmp = own?.dir;
    this.launch = own?.launch ?? opts.launch;
    const { command, args, env, cwd } = this.launch;
    this.child = spawn(command, args, {
      cwd,
      env,
      // Its own process group: a kill of -pid reaches the first process and what it runs in its group.
      detached: true,
      stdio,
      ...(Array.isArray(stdio) && stdio.includes('ipc') ? { serialization: 'advanced' as const } : {}),
    });
    // The guardian kills the environment should the service die without stopping it.
    const pid = this.child.pid;
    if (pid !== undefined) opts.guardian?.started(pid);
    this.child.stdout?.pipe(opts.log, { end: false });
    this.child.stderr?.pipe(opts.log, { end: false });
    this.child.on('error', () => {
      // A failed spawn has no 'exit': what was made for the environment goes now.
      if (this.child.pid === undefined) void this.launch.dispose?.().catch(() => undefined);
    });
    this.done = new Promise((resolve) => {
      this.child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        this.exited = true;
        this.exitInfo = { code, signal };
        this.state = 'stopped';
        if (this.frozen) this.opts.guardian?.thawed(this.frozen);
        this.frozen = undefined;
        this.stopSampler();
        this.onExit();
        void this.reap().finally(() => {
          if (pid !== undefined) this.opts.guardian?.ended(pid);
          resolve();
        });
      });
    });
    this.startSampler();
  }

  /** Puts the first process into the environment's memory limit (call once it is spawned). */
  protected async adopt(): Promise<void> {
    if (this.child.pid === undefined) return;
    try {
      await this.guard.adopt(this.child.pid);
    } catch {
      // it exited already; 'exit' reports it
    }
  }

  /** Called once the first process exited: whatever waits for it is answered. */
  protected abstract onExit(): void;

  abstract awaitInit(limitMs: number): Promise<InitOutcome>;
  abstract invoke(msg: InvokeMessage, onChunk?: ChunkSink): Promise<InvokeReply>;
  abstract freeze(): Promise<void>;
  abstract thaw(): Promise<void>;
  abstract stop(): Promise<void>;

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isFrozen(): boolean {
    return this.frozen !== undefined;
  }

  get memoryKind(): MemoryGuard['kind'] {
    return this.guard.kind;
  }

  /** Measures memory now (and kills the environment if it is over its limit). */
  async measure(): Promise<boolean> {
    if (this.exited) return this.killedBecause === 'out-of-memory';
    let over: boolean;
    try {
      const sample = await this.guard.sample(() => this.measuredMembers());
      this.peakBytes = Math.max(this.peakBytes, sample.peak);
      over = await this.guard.exceeded();
    } catch {
      return false; // the environment ended while we measured
    }
    if (over) await this.kill('out-of-memory');
    return over;
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

  /** The processes a measurement reads (see {@link TREE_REUSE_MS}). */
  private async measuredMembers(): Promise<number[]> {
    const now = performance.now();
    if (this.walked === undefined || now - this.walked.at >= TREE_REUSE_MS)
      this.walked = { pids: await this.members(), at: now };
    return this.walked.pids;
  }

  /** Every process of the environment: its cgroup's, or the first process's tree. */
  async members(): Promise<number[]> {
    const fromGuard = await this.guard.members();
    if (fromGuard !== undefined) return fromGuard;
    return this.child.pid === undefined || this.exited ? [] : processTree(this.child.pid);
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

  protected startSampler(): void {
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

  protected stopSampler(): void {
    clearInterval(this.sampler);
    this.sampler = undefined;
  }

  /** After the first process exited: nothing of the environment is left, then its cgroup goes. */
  private async reap(): Promise<void> {
    const left = await this.guard.members();
    if (left !== undefined && left.length > 0) {
      await signalAll(() => this.guard.members().then((m) => m ?? []), 'SIGKILL');
    }
    this.killGroups();
    await this.guard.dispose();
    // What a later call read of what an earlier one left (for mcp-fleet plan), before it goes.
    if (this.tmp !== undefined) this.filesReadLater = filesReadAfterWrite(this.tmp, this.callStarts);
    // Its root folder (sandbox), its /tmp folder: nothing of it is left.
    await this.launch.dispose?.().catch(() => undefined);
  }

  /** SIGKILL to the first process's and the server's process groups. */
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
