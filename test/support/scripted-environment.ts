/**
 * Local Lambda environments driven by a script, in process: what a worker process would do (init
 * taking so long on the clock, answers, a crash, memory over the limit), without a process. The
 * function's pool, deadlines and reports run as they do with real environments.
 */
import type {
  ChunkSink,
  EnvironmentFactory,
  EnvironmentSpec,
  EnvironmentState,
  ExecutionEnvironment,
  InitOutcome,
  KillReason,
} from '../../src/local/lambda/environment.js';
import type { InvokeMessage, InvokeReply } from '../../src/local/lambda/worker-protocol.js';
import { EXPIRED, within } from '../../src/platform/time.js';

export interface EnvironmentScript {
  /** How long init takes on the clock (0: at once). */
  initMs?: number;
  /** Init fails (the handler module could not load). */
  initError?: { errorType: string; errorMessage: string };
  /** The server's own start error, reported with ready (the function then answers with it). */
  startError?: string;
  /**
   * The answer to an invocation (default: the event, as the payload). Undefined, or a promise
   * that never settles: the environment never answers.
   */
  answer?: (
    msg: InvokeMessage,
    env: ScriptedEnvironment,
    onChunk: ChunkSink | undefined,
  ) => InvokeReply | undefined | Promise<InvokeReply | undefined>;
}

export const result = (msg: InvokeMessage, payload: unknown): InvokeReply => ({
  type: 'result',
  requestId: msg.requestId,
  payload,
});

export class ScriptedEnvironment implements ExecutionEnvironment {
  private static count = 0;
  readonly id: string;
  state: EnvironmentState = 'init';
  lastUsed: number;
  killedBecause: KillReason | undefined;
  readonly pid = undefined;
  readonly serverPid = undefined;
  peakBytes = 0;
  isFrozen = false;
  /** What happened to it, in order: init, invoke <event>, freeze, thaw, kill <reason>, stop. */
  readonly events: string[] = [];
  /** Set by a test: the next measurement finds it over its memory. */
  overMemory = false;
  readonly done: Promise<void>;
  private end!: () => void;
  private readonly started: number;
  private readonly initDone: Promise<void>;
  /** Invocations running (several at once on the multi-call hosts). */
  private readonly pending = new Map<string, (reply: InvokeReply) => void>();

  constructor(
    readonly spec: EnvironmentSpec,
    private readonly script: EnvironmentScript,
  ) {
    this.id = spec.id ?? `scripted-${++ScriptedEnvironment.count}`;
    this.started = spec.clock.monotonic();
    this.lastUsed = spec.clock.now();
    this.done = new Promise((resolve) => (this.end = resolve));
    const initMs = script.initMs ?? 0;
    this.initDone =
      initMs === 0 ? Promise.resolve() : new Promise((resolve) => spec.clock.setTimeout(resolve, initMs));
  }

  get startError(): string | undefined {
    return this.script.startError;
  }

  async awaitInit(limitMs: number): Promise<InitOutcome> {
    const { clock } = this.spec;
    const elapsed = (): number => clock.monotonic() - this.started;
    const ended = await within(this.initDone, Math.max(0, limitMs - elapsed()), { clock });
    if (ended === EXPIRED) return { status: 'timeout', durationMs: Math.max(limitMs, elapsed()) };
    this.events.push('init');
    if (this.script.initError) return { status: 'error', durationMs: elapsed(), ...this.script.initError };
    return { status: 'success', durationMs: elapsed() };
  }

  invoke(msg: InvokeMessage, onChunk?: ChunkSink): Promise<InvokeReply> {
    this.events.push(`invoke ${JSON.stringify(msg.event)}`);
    if (this.state === 'stopped') return Promise.resolve(this.platformError(msg.requestId));
    return new Promise<InvokeReply>((resolve) => {
      this.pending.set(msg.requestId, resolve);
      const answer = this.script.answer ?? ((m: InvokeMessage) => result(m, m.event));
      void Promise.resolve(answer(msg, this, onChunk)).then((reply) => {
        if (reply === undefined || this.pending.get(msg.requestId) !== resolve) return;
        this.pending.delete(msg.requestId);
        resolve(reply);
      });
    });
  }

  freeze(): Promise<void> {
    if (this.state !== 'stopped' && this.spec.freeze) {
      this.isFrozen = true;
      this.events.push('freeze');
    }
    return Promise.resolve();
  }

  thaw(): Promise<void> {
    if (this.isFrozen) this.events.push('thaw');
    this.isFrozen = false;
    return Promise.resolve();
  }

  async measure(): Promise<boolean> {
    if (!this.overMemory) return false;
    await this.kill('out-of-memory');
    return true;
  }

  members(): Promise<number[]> {
    return Promise.resolve([]);
  }

  /** A graceful shutdown, over at once (its listener told it began and ended within its grace). */
  stop(): Promise<void> {
    if (this.state === 'stopped') return this.done;
    this.events.push('stop');
    this.spec.onShutdown?.started();
    this.finish();
    this.spec.onShutdown?.ended('success');
    return this.done;
  }

  kill(reason: KillReason): Promise<void> {
    this.killedBecause ??= reason;
    this.events.push(`kill ${reason}`);
    this.finish();
    return this.done;
  }

  gone(): Promise<void> {
    return this.done;
  }

  private finish(): void {
    this.state = 'stopped';
    this.isFrozen = false;
    for (const resolve of this.pending.values()) resolve(this.platformError('(in flight)'));
    this.pending.clear();
    this.end();
  }

  private platformError(requestId: string): InvokeReply {
    return {
      type: 'error',
      requestId,
      errorType: this.killedBecause === 'out-of-memory' ? 'Runtime.OutOfMemory' : 'Runtime.ExitError',
      errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: signal: killed`,
    };
  }
}

/**
 * A factory of scripted environments (the n-th started gets `script(n, spec)`; the spec's name
 * starts with the function's), and those it started.
 */
export function scriptedEnvironments(
  script: EnvironmentScript | ((n: number, spec: EnvironmentSpec) => EnvironmentScript) = {},
): {
  factory: EnvironmentFactory;
  started: ScriptedEnvironment[];
} {
  const started: ScriptedEnvironment[] = [];
  const factory: EnvironmentFactory = (spec) => {
    const env = new ScriptedEnvironment(
      spec,
      typeof script === 'function' ? script(started.length, spec) : script,
    );
    started.push(env);
    return Promise.resolve(env);
  };
  return { factory, started };
}
