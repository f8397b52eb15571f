/**
 * The event-function environment (Lambda's classic execution environment), one kind of
 * {@link ExecutionEnvironment}: a worker process that loads the function's handler (the very
 * bundle a deployed function runs) and serves one invocation at a time over IPC, with the life
 * cycle Lambda gives an environment:
 *
 * - init: the worker loads the handler (whose init starts the MCP server) and reports ready; the
 *   caller bounds it (Lambda's 10 s) and decides what a timeout means;
 * - invoke: one event at a time (several at once on managed instances, never frozen there);
 * - freeze: between invocations every process of the environment is stopped (SIGSTOP), and
 *   continued (SIGCONT) for the next invocation, which may never come;
 * - memory: the whole process tree is held to the function's memory; over it, the environment is
 *   killed (Runtime.OutOfMemory);
 * - shutdown: a graceful stop when reclaimed, a kill (every process at once) otherwise.
 */
import { memoryGuard, type MemoryGuard } from './memory.js';
import { continueAll, signalAll } from '../../platform/processes.js';
import type { Batch, InvokeMessage, InvokeReply, ServiceMessage, WorkerMessage } from './worker-protocol.js';
import type { ChunkSink, EnvironmentFactory, EnvironmentSpec, InitOutcome } from './environment.js';
import { ProcessEnvironment } from './process-environment.js';
import { EXPIRED, within } from '../../platform/time.js';

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

/**
 * The nesting an event may have to go over the channel as a structured clone. The worker's
 * deserializer runs on a deeper stack than `dev`'s serializer, so an event near the serializer's
 * limit (about 3,000 levels on Node.js 20) would be sent and then overflow the worker's stack,
 * killing it. A deeper event goes as JSON text, as Lambda hands every runtime its event.
 */
const CHANNEL_DEPTH = 1000;

/** Whether objects and arrays nest in `value` deeper than `limit` (walked without recursion). */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { v, depth } = top;
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) continue;
    if (depth > limit) return true;
    for (const inner of Array.isArray(v) ? v : Object.values(v))
      if (inner !== null && typeof inner === 'object') stack.push({ v: inner, depth: depth + 1 });
  }
  return false;
}

export class EventEnvironment extends ProcessEnvironment {
  /** Init duration, reported on the first invocation (then cleared). */
  pendingInitMs: number | undefined;
  /** Invocations running (one at a time for an event function; several on managed instances). */
  private readonly pending = new Map<
    string,
    { resolve: (m: InvokeReply) => void; onChunk?: ChunkSink | undefined }
  >();
  private initWaiter?: (m: WorkerMessage | 'exit') => void;
  private readyMessage?: WorkerMessage;
  private freezing: Promise<void> = Promise.resolve();
  /** Invocations handed over in this turn of the event loop, sent together at its end. */
  private outbox: InvokeMessage[] = [];
  private flushing: NodeJS.Immediate | undefined;

  private constructor(opts: EnvironmentSpec, guard: MemoryGuard) {
    super(opts, guard, ['ignore', 'pipe', 'pipe', 'ipc']);
    this.child.on('message', (m: WorkerMessage | Batch<WorkerMessage>) => {
      if (m.type !== 'batch') this.onMessage(m);
      else for (const one of m.messages) this.onMessage(one);
    });
  }

  /** Creates the environment: its memory limit first, then the worker inside it (init starts). */
  static async create(opts: EnvironmentSpec): Promise<EventEnvironment> {
    const guard = await memoryGuard(opts.memoryMode, opts.name, opts.memoryMb);
    const env = new EventEnvironment(opts, guard);
    await env.adopt();
    return env;
  }

  protected onExit(): void {
    this.initWaiter?.('exit');
    // What the worker sent before it exited may still be in the channel ('exit' can come before
    // the last messages): the invocations it did not answer get the platform's error once the
    // channel has closed.
    const answerPending = (): void => {
      for (const [requestId, p] of this.pending) p.resolve(this.platformError(requestId));
      this.pending.clear();
    };
    if (this.child.connected) this.child.once('disconnect', answerPending);
    else answerPending();
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
   * A streaming handler's pieces go to `onChunk` as they come, before the answer. The
   * invocations handed over in one turn of the event loop go to the worker at its end, together:
   * calls that came together to a managed instance cost one message, one write on the channel
   * and one wake-up of the worker, not one each.
   */
  invoke(msg: InvokeMessage, onChunk?: ChunkSink): Promise<InvokeReply> {
    if (this.exited) return Promise.resolve(this.platformError(msg.requestId));
    let sent = msg;
    if (nestedDeeperThan(msg.event, CHANNEL_DEPTH)) {
      try {
        sent = { ...msg, event: null, eventJson: JSON.stringify(msg.event) };
      } catch (err) {
        return Promise.resolve(invalidEvent(msg.requestId, (err as Error).message));
      }
    }
    return new Promise((resolve) => {
      this.pending.set(msg.requestId, { resolve, onChunk });
      this.outbox.push(sent);
      this.flushing ??= setImmediate(() => {
        this.flushOutbox();
      });
    });
  }

  /** Sends what the outbox holds; the turn is over. */
  private flushOutbox(): void {
    if (this.flushing !== undefined) clearImmediate(this.flushing);
    this.flushing = undefined;
    const batch = this.outbox;
    this.outbox = [];
    this.dispatch(batch);
  }

  /** Sends invocations: one message for several, each alone if one of them cannot go. */
  private dispatch(batch: InvokeMessage[]): void {
    if (batch.length > 1) {
      try {
        this.child.send({ type: 'batch', messages: batch } satisfies Batch<ServiceMessage>);
        return;
      } catch {
        // One of them cannot be carried (or the worker is gone): each alone below says which.
      }
    }
    for (const msg of batch) {
      const refused = this.deliver(msg);
      if (refused === undefined) continue;
      const p = this.pending.get(msg.requestId);
      this.pending.delete(msg.requestId);
      p?.resolve(invalidEvent(msg.requestId, refused));
    }
  }

  /**
   * Sends an invocation to the worker; an event the channel's serializer cannot carry goes as
   * JSON text. Undefined once sent, else why it could not be: the
   * environment stays (one bad event does not cost a warm environment).
   */
  private deliver(msg: InvokeMessage): string | undefined {
    try {
      this.child.send(msg);
      return undefined;
    } catch {
      if (!this.child.connected) {
        // The worker is gone: its exit answers every pending invocation (the platform's error).
        void this.kill('killed');
        return undefined;
      }
      try {
        this.child.send({ ...msg, event: null, eventJson: JSON.stringify(msg.event) });
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    }
  }

  /** Lambda's freeze: every process of the environment stopped until {@link thaw}. */
  freeze(): Promise<void> {
    if (!this.opts.freeze || this.exited || this.frozen !== undefined) return this.freezing;
    this.freezing = this.freezing.then(async () => {
      if (this.exited || this.state === 'busy') return;
      this.stopSampler();
      // The guardian hears of each pid before it is stopped: should dev die in between (SIGKILL
      // between two rounds, say), no stopped process is left that the guardian does not know.
      const tell = (pids: readonly number[]): void => {
        this.opts.guardian?.frozen(pids);
      };
      this.frozen = await signalAll(() => this.members(), 'SIGSTOP', { before: tell });
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
      this.pending
        .get(m.requestId)
        ?.onChunk?.(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), m.contentType);
      return;
    }
    if (m.serverPid !== undefined) this.serverPid = m.serverPid;
    if (m.type === 'result') {
      this.startError = m.startError;
      if (m.payloadJson !== undefined) {
        m.payload = JSON.parse(m.payloadJson);
        delete m.payloadJson;
      }
    }
    const p = this.pending.get(m.requestId);
    if (p === undefined) return;
    this.pending.delete(m.requestId);
    if (m.type === 'result' && m.data !== undefined) {
      const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
      p.onChunk?.(data, m.stream?.contentType ?? 'application/octet-stream');
      delete m.data;
    }
    // A server killed by the kernel's OOM killer looks like a crash to the worker: the limit decides.
    void this.guard.exceeded().then(async (oom) => {
      if (oom) await this.kill('out-of-memory');
      p.resolve(oom ? this.platformError(m.requestId) : m);
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
    this.flushOutbox(); // what was handed over before goes first
    try {
      this.child.send(m);
    } catch {
      void this.kill('killed');
    }
  }
}

/** Lambda's answer to an event it could not hand to the function. */
function invalidEvent(requestId: string, why: string): InvokeReply {
  return {
    type: 'error',
    requestId,
    errorType: 'Runtime.InvalidEvent',
    errorMessage: `RequestId: ${requestId} Error: the event could not be passed to the function (${why})`,
  };
}

/** The default {@link EnvironmentFactory}: an event-function environment (a worker process). */
export const startEventEnvironment: EnvironmentFactory = (spec) => EventEnvironment.create(spec);
