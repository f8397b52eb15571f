/**
 * One function `mcp-server-<id>` of the local Lambda service: its pool of environments (cold
 * starts on demand, warm reuse, Lambda's concurrency limit and a bounded queue), the init phase
 * with Lambda's 10 s limit (and the init run again inside the first invocation after it times
 * out), the function timeout, freezing between invocations, and the platform's log lines.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { toLaunchSpec, type ServerConfig } from '../../config/model.js';
import { WORKER_FILE } from './files.js';
import { HANDLER_BUNDLE } from '../../contract/bundle.js';
import { FUNCTION_ENV } from '../../contract/function-env.js';
import { Environment, type FreezeGuardian, type InitOutcome, type WorkerLaunch } from './environment.js';
import type { MemoryMode } from './memory.js';
import {
  billedDuration,
  endLine,
  initReportLine,
  initStartLine,
  reportLine,
  startLine,
  toMb,
  type InvocationReport,
} from './report.js';
import type { InvokeMessage, InvokeReply } from './worker-protocol.js';
import { FLEET_ERROR, FleetError } from '../../contract/errors.js';
import { LAMBDA_PAYLOAD_MAX_BYTES, LAMBDA_STREAM_MAX_BYTES } from '../../contract/function-call.js';

/** Lambda's init phase limit. */
export const INIT_TIMEOUT_MS = 10_000;
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_QUEUE_LIMIT = 64;
export const DEFAULT_IDLE_MS = 10 * 60_000;

/** What the local Lambda service gives each function. */
export interface FunctionOptions {
  /** Where launch specs and logs go (e.g. `.mcp-fleet/dev`). */
  workDir: string;
  /** Working directory of the environments (the config file's folder). */
  cwd: string;
  region: string;
  /** Environments per function when `aws.reservedConcurrency` is not set. */
  concurrency?: number;
  /** Calls waiting for an environment, per function, before Lambda's throttling error. */
  queueLimit?: number;
  /** The environment the workers inherit (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Launch file of a staged server (`mcp-fleet build`'s host install) to run instead of the config's command. */
  launchFile?: string;
  /** Folders (absolute) put in front of PATH, where `mcp-fleet build` installed the server. */
  launchPath?: readonly string[];
  /** Lambda's init limit (default 10 s). */
  initTimeoutMs?: number;
  /** Stop every process of an environment between invocations, as Lambda does (default true). */
  freeze?: boolean;
  /** Kills frozen processes should the service die without thawing them. */
  guardian?: FreezeGuardian;
  /** How memory is limited and measured (default `auto`: a cgroup where possible, else /proc). */
  memory?: MemoryMode;
  /** The handler module the environments load (default: mcp-fleet's runtime bundle). */
  handler?: string;
  /** Starts the worker some other way (a sandbox); default: this Node.js running the worker file. */
  launcher?: (fn: LocalFunction, worker: WorkerLaunch) => WorkerLaunch;
}

export interface InvokeOptions {
  /** The decoded client context (AgentCore puts the tool name in `custom`). */
  clientContext?: unknown;
  invocationType?: 'RequestResponse' | 'Event' | 'DryRun';
  /**
   * Response streaming: each piece of a streaming function's response (an MCP-server target's
   * function streams, as its RESPONSE_STREAM Function URL does), as the function writes it, with
   * the stream's content type. Lambda's streamed-response limit applies. Without it, a streamed
   * response is gathered into the outcome, as Lambda's buffered Invoke does (6 MB limit).
   */
  onChunk?: (data: Buffer, contentType: string) => void;
}

/** How a streamed response went (set on the outcome of a function that streamed). */
export interface StreamedResponse {
  contentType: string;
  bytes: number;
  /** The whole response, when no `onChunk` took the pieces. */
  body?: Buffer;
}

/** What the Invoke API answers. */
export interface InvokeOutcome {
  requestId: string;
  /** Set when the function failed: Lambda's X-Amz-Function-Error. */
  functionError?: 'Unhandled' | 'Handled';
  payload: unknown;
  coldStart: boolean;
  /** Wall time from the request to the answer (waiting and a cold start included). */
  durationMs: number;
  /** Lambda's REPORT figures for this invocation. */
  report: InvocationReport;
  /** Set when the function streamed its response. */
  streamed?: StreamedResponse;
}

export interface InvocationRecord extends InvokeOutcome {
  functionName: string;
  serverId: string;
  toolName?: string;
}

/** Lambda's throttling error (HTTP 429). */
export class ThrottledError extends FleetError {
  readonly errorType = 'TooManyRequestsException';
  constructor(functionName: string, limit: number) {
    super(
      FLEET_ERROR.throttled,
      `Rate Exceeded. ${functionName} is at its concurrency limit (${limit}) and its queue is full.`,
    );
    this.name = 'TooManyRequestsException';
  }
}

/** Per-function counters for the status page. */
export interface FunctionStats {
  calls: number;
  errors: number;
  throttles: number;
  coldStarts: number;
  timeouts: number;
  /** Environments killed for going over the function's memory. */
  outOfMemory: number;
  /** Init phases cut at Lambda's 10 s limit (the init then ran inside the first invocation). */
  initTimeouts: number;
  /** The most memory an environment of this function used, MB (Lambda's "Max Memory Used"). */
  maxMemoryUsedMb: number;
  lastError?: { at: string; message: string };
  /** Recent durations, ms (a bounded window). */
  durations: number[];
}

const DURATION_WINDOW = 1000;

/** An environment for one invocation: warm, cold (its init done), or to be initialized inside it. */
type Lease =
  | { env: Environment; cold: boolean; initMs?: number }
  | { env: undefined; cold: true; failedInit: InitOutcome };

interface Waiter {
  resolve: (lease: Lease) => void;
  reject: (err: Error) => void;
}

export class LocalFunction {
  readonly name: string;
  readonly stats: FunctionStats = {
    calls: 0,
    errors: 0,
    throttles: 0,
    coldStarts: 0,
    timeouts: 0,
    outOfMemory: 0,
    initTimeouts: 0,
    maxMemoryUsedMb: 0,
    durations: [],
  };
  private readonly envs = new Set<Environment>();
  /** Cold starts under way that hold a place under the concurrency limit. */
  private reserved = 0;
  private readonly waiting: Waiter[] = [];
  private readonly log: WriteStream;
  private readonly launchFile: string;
  /** Set when the server cannot start (the function answers every call with that error). */
  startError: string | undefined;
  /** Secrets taken from the local environment instead of their store. */
  readonly localSecrets: string[] = [];

  constructor(
    readonly server: ServerConfig,
    readonly options: FunctionOptions,
  ) {
    this.name = server.functionName;
    const dir = path.join(options.workDir, server.id);
    mkdirSync(dir, { recursive: true });
    if (options.launchFile !== undefined) {
      this.launchFile = options.launchFile;
    } else {
      this.launchFile = path.join(dir, 'launch.json');
      const dirs = options.launchPath;
      const spec = { ...toLaunchSpec(server), ...(dirs !== undefined ? { path: [...dirs] } : {}) };
      // A secret whose variable is set in the developer's environment is taken from there (by the
      // runtime, from the worker's environment: the value is not written into launch.json).
      const parent = options.env ?? process.env;
      for (const name of Object.keys(spec.secrets)) {
        const value = parent[name];
        if (value === undefined) continue;
        spec.secrets = Object.fromEntries(Object.entries(spec.secrets).filter(([k]) => k !== name));
        this.localSecrets.push(name);
      }
      if (this.localSecrets.length > 0) spec.localSecrets = [...this.localSecrets];
      writeFileSync(this.launchFile, `${JSON.stringify(spec, null, 2)}\n`);
    }
    this.log = createWriteStream(path.join(dir, 'function.log'), { flags: 'a' });
  }

  get concurrencyLimit(): number {
    return this.server.aws.reservedConcurrency ?? this.options.concurrency ?? DEFAULT_CONCURRENCY;
  }

  get environments(): { total: number; busy: number; frozen: number } {
    let busy = 0;
    let frozen = 0;
    for (const e of this.envs) {
      if (e.state === 'busy' || e.state === 'init') busy += 1;
      if (e.isFrozen) frozen += 1;
    }
    return { total: this.envs.size, busy, frozen };
  }

  /** The environments now (tests and status read their processes). */
  get environmentList(): readonly Environment[] {
    return [...this.envs];
  }

  get state(): 'cold' | 'warm' | 'failed' {
    if (this.startError !== undefined) return 'failed';
    return this.envs.size > 0 ? 'warm' : 'cold';
  }

  /** The launch spec file this function's environments read. */
  get launchSpecFile(): string {
    return this.launchFile;
  }

  workerEnv(): NodeJS.ProcessEnv {
    const parent = this.options.env ?? process.env;
    const bin = path.join(this.options.cwd, 'node_modules', '.bin');
    return {
      ...parent,
      PATH: [bin, parent['PATH'] ?? ''].join(path.delimiter),
      [FUNCTION_ENV.handler]: this.options.handler ?? HANDLER_BUNDLE,
      [FUNCTION_ENV.launchFile]: this.launchFile,
      AWS_LAMBDA_FUNCTION_NAME: this.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.server.memory),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_TIMEOUT: String(this.server.timeout),
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_REGION: parent['AWS_REGION'] ?? this.options.region,
      AWS_DEFAULT_REGION: parent['AWS_DEFAULT_REGION'] ?? parent['AWS_REGION'] ?? this.options.region,
      [FUNCTION_ENV.serviceName]: this.name,
      // An MCP-server target's function streams its responses (its Function URL is in
      // RESPONSE_STREAM mode), as the stack configures it.
      ...(this.server.gateway.targetType === 'mcp' ? { [FUNCTION_ENV.responseStream]: 'true' } : {}),
    };
  }

  async invoke(event: unknown, opts: InvokeOptions = {}): Promise<InvokeOutcome> {
    const requestId = randomUUID();
    const t0 = performance.now();
    let lease: Lease;
    try {
      lease = await this.acquire();
    } catch (err) {
      if (err instanceof ThrottledError) this.stats.throttles += 1;
      throw err;
    }
    // The invoke phase: its clock starts now (an init run inside it counts against it).
    const invokeStart = performance.now();
    const deadline = Date.now() + this.server.timeout * 1000;
    this.line(startLine(requestId));
    const stream = new StreamState(opts.onChunk);
    let env = lease.env;
    let initMs = lease.env ? lease.initMs : undefined;
    let reply: InvokeReply;
    if (!lease.env) {
      const inside = await this.initInsideInvoke(requestId, deadline);
      initMs = inside.initMs;
      if ('reply' in inside) {
        reply = inside.reply;
      } else {
        env = inside.env;
        reply = await this.run(inside.env, requestId, event, opts, deadline, stream);
      }
    } else {
      reply = await this.run(lease.env, requestId, event, opts, deadline, stream);
    }
    reply = stream.check(reply);
    const durationMs = performance.now() - invokeStart;
    if (reply.type === 'result') this.startError = env?.startError;
    if (env !== undefined && env.state !== 'stopped') await env.measure();
    const peak = env?.peakBytes ?? 0;
    if (env !== undefined) this.release(env);

    const timedOut = reply.type === 'error' && reply.errorType === 'Sandbox.Timedout';
    const report: InvocationReport = {
      requestId,
      durationMs,
      // An init run inside the invocation is already part of its Duration.
      billedDurationMs: billedDuration(durationMs, lease.env ? initMs : undefined),
      memorySizeMb: this.server.memory,
      maxMemoryUsedMb: toMb(peak),
      ...(initMs !== undefined ? { initDurationMs: initMs } : {}),
      ...(timedOut ? { status: 'timeout' as const } : {}),
      ...(reply.type === 'error' && !timedOut
        ? { status: 'error' as const, errorType: reply.errorType }
        : {}),
    };
    this.line(`${endLine(requestId)}\n${reportLine(report)}`);
    const base = { requestId, coldStart: lease.cold, report, durationMs: performance.now() - t0 };
    const streamed = stream.outcome(reply);
    const outcome: InvokeOutcome =
      reply.type === 'result'
        ? { ...base, payload: streamed?.body ? bufferedPayload(streamed.body) : reply.payload }
        : {
            ...base,
            functionError: 'Unhandled',
            payload: { errorType: reply.errorType, errorMessage: reply.errorMessage, trace: [] },
          };
    if (streamed !== undefined) outcome.streamed = streamed;
    this.record(outcome);
    return outcome;
  }

  /** Runs one invocation on an environment, cut at the function's timeout (the environment then dies). */
  private async run(
    env: Environment,
    requestId: string,
    event: unknown,
    opts: InvokeOptions,
    deadline: number,
    stream?: StreamState,
  ): Promise<InvokeReply> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<InvokeReply>((resolve) => {
      timer = setTimeout(
        () => {
          this.stats.timeouts += 1;
          void env.kill('timeout').then(() => {
            resolve(this.timedOut(requestId));
          });
        },
        Math.max(1, deadline - Date.now()),
      );
    });
    const message: InvokeMessage = { type: 'invoke', requestId, event, deadline };
    if (opts.clientContext !== undefined) message.clientContext = opts.clientContext;
    const reply = await Promise.race([env.invoke(message, stream?.take), timeout]);
    clearTimeout(timer);
    // A killed environment is gone (every process, its cgroup) before the caller hears of it.
    if (env.killedBecause !== undefined) await env.gone();
    if (env.killedBecause === 'timeout') return this.timedOut(requestId);
    if (env.killedBecause === 'out-of-memory') this.stats.outOfMemory += 1;
    return reply;
  }

  private timedOut(requestId: string): InvokeReply {
    return {
      type: 'error',
      requestId,
      errorType: 'Sandbox.Timedout',
      errorMessage: `${new Date().toISOString()} ${requestId} Task timed out after ${this.server.timeout.toFixed(2)} seconds`,
    };
  }

  /**
   * After an init that timed out (or failed), Lambda runs init again inside the first invocation,
   * bounded by the function's timeout.
   */
  private async initInsideInvoke(
    requestId: string,
    deadline: number,
  ): Promise<{ env: Environment; initMs: number } | { initMs: number; reply: InvokeReply }> {
    const env = await this.spawnEnvironment();
    const init = await env.awaitInit(Math.max(1, deadline - Date.now()));
    if (init.status === 'success') {
      env.state = 'busy';
      return { env, initMs: init.durationMs };
    }
    this.line(
      initReportLine(
        init.durationMs,
        'invoke',
        init.status,
        init.status === 'error' ? init.errorType : undefined,
      ),
    );
    await env.kill('init');
    if (init.status === 'timeout') {
      this.stats.timeouts += 1;
      return { initMs: init.durationMs, reply: this.timedOut(requestId) };
    }
    this.startError = `${init.errorType}: ${init.errorMessage}`;
    return {
      initMs: init.durationMs,
      reply: { type: 'error', requestId, errorType: init.errorType, errorMessage: init.errorMessage },
    };
  }

  private record(outcome: InvokeOutcome): void {
    this.stats.calls += 1;
    if (outcome.coldStart) this.stats.coldStarts += 1;
    this.stats.maxMemoryUsedMb = Math.max(this.stats.maxMemoryUsedMb, outcome.report.maxMemoryUsedMb);
    const failed =
      outcome.functionError !== undefined ||
      (outcome.payload as { isError?: unknown } | null)?.isError === true ||
      (outcome.payload as { error?: unknown } | null)?.error !== undefined;
    if (failed) {
      this.stats.errors += 1;
      this.stats.lastError = { at: new Date().toISOString(), message: errorText(outcome.payload) };
    }
    this.stats.durations.push(outcome.durationMs);
    if (this.stats.durations.length > DURATION_WINDOW) this.stats.durations.shift();
  }

  /** A platform line in the function's log. */
  private line(text: string): void {
    this.log.write(`${text}\n`);
  }

  /** Resolves once every line written to the function's log so far is in the file. */
  logFlushed(): Promise<void> {
    if (this.log.closed || this.log.writableEnded) return Promise.resolve();
    return new Promise((resolve) =>
      this.log.write('', () => {
        resolve();
      }),
    );
  }

  /** A new environment (its init starts), forgotten when its processes end. */
  private async spawnEnvironment(): Promise<Environment> {
    this.reserved += 1;
    let env: Environment;
    try {
      const worker: WorkerLaunch = {
        command: process.execPath,
        args: [WORKER_FILE],
        env: this.workerEnv(),
        cwd: this.options.cwd,
      };
      this.line(initStartLine(`mcp-fleet-local (Node.js ${process.version})`));
      env = await Environment.create({
        name: `${this.name}.${randomUUID().slice(0, 8)}`,
        memoryMb: this.server.memory,
        memoryMode: this.options.memory ?? 'auto',
        freeze: this.options.freeze ?? true,
        launch: this.options.launcher ? this.options.launcher(this, worker) : worker,
        log: this.log,
        ...(this.options.guardian ? { guardian: this.options.guardian } : {}),
      });
    } finally {
      this.reserved -= 1;
    }
    this.envs.add(env);
    void env.done.then(() => {
      this.envs.delete(env);
      if (env.killedBecause === 'out-of-memory')
        this.stats.maxMemoryUsedMb = Math.max(this.stats.maxMemoryUsedMb, toMb(env.peakBytes));
      this.handOff();
    });
    return env;
  }

  /** A cold start: a new environment and its init, at most Lambda's init limit. */
  private async coldStart(): Promise<Lease> {
    const env = await this.spawnEnvironment();
    const init = await env.awaitInit(this.options.initTimeoutMs ?? INIT_TIMEOUT_MS);
    if (init.status === 'success') {
      this.startError = env.startError;
      env.state = 'busy';
      return { env, cold: true, initMs: init.durationMs };
    }
    // Lambda reports the failed init, resets the environment and runs init again in the invocation.
    this.line(
      initReportLine(
        init.durationMs,
        'init',
        init.status,
        init.status === 'error' ? init.errorType : undefined,
      ),
    );
    if (init.status === 'timeout') this.stats.initTimeouts += 1;
    await env.kill('init');
    return { env: undefined, cold: true, failedInit: init };
  }

  /** An idle environment, a new one (cold start) under the limit, or a place in the queue. */
  private async acquire(): Promise<Lease> {
    const idle = this.takeIdle();
    if (idle) {
      await idle.thaw();
      return { env: idle, cold: false };
    }
    if (this.envs.size + this.reserved < this.concurrencyLimit) return this.coldStart();
    if (
      this.concurrencyLimit === 0 ||
      this.waiting.length >= (this.options.queueLimit ?? DEFAULT_QUEUE_LIMIT)
    ) {
      throw new ThrottledError(this.name, this.concurrencyLimit);
    }
    return new Promise<Lease>((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private takeIdle(): Environment | undefined {
    for (const env of this.envs) {
      if (env.state === 'idle') {
        env.state = 'busy';
        return env;
      }
    }
    return undefined;
  }

  /** After an invocation: the environment goes to the next waiting call, or is frozen until one comes. */
  private release(env: Environment): void {
    env.lastUsed = Date.now();
    if (env.state !== 'busy') return;
    env.state = 'idle';
    if (this.handOff() !== env) {
      // Frozen once the answer is on its way (as Lambda freezes after the response): stopping the
      // processes is not on the caller's path. A call that takes the environment first skips it.
      setImmediate(() => {
        if (env.state === 'idle') void env.freeze();
      });
    }
  }

  /** Gives a free (or new) environment to the next waiting call; returns the one it gave, if any. */
  private handOff(): Environment | undefined {
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
    if (this.envs.size + this.reserved < this.concurrencyLimit) {
      this.coldStart().then(next.resolve, next.reject);
      return undefined;
    }
    this.waiting.unshift(next);
    return undefined;
  }

  /** Stops environments idle for longer than `idleMs` (frozen ones included). */
  reclaimIdle(idleMs: number): void {
    const now = Date.now();
    for (const env of this.envs) {
      // Forgotten once every process is gone (its `done`).
      if (env.state === 'idle' && now - env.lastUsed > idleMs) void env.stop();
    }
  }

  /** Kills the environments (a way to test recovery; what a crash of the host would do). */
  killEnvironments(): number {
    const n = this.envs.size;
    for (const env of this.envs) void env.kill('killed');
    return n;
  }

  async shutdown(): Promise<void> {
    for (const w of this.waiting.splice(0)) w.reject(new Error('the local Lambda service is shutting down'));
    await Promise.all([...this.envs].map((e) => e.stop()));
    this.envs.clear();
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}

/**
 * A streamed response as it comes: passed on piece by piece (Lambda's streamed limit), or gathered
 * for a buffered caller (Lambda's 6 MB limit); over its limit, the rest is dropped and the
 * invocation fails with Function.ResponseSizeTooLarge.
 */
class StreamState {
  contentType: string | undefined;
  bytes = 0;
  private readonly pieces: Buffer[] = [];
  private over = false;

  constructor(private readonly onChunk: InvokeOptions['onChunk']) {}

  get limit(): number {
    return this.onChunk === undefined ? LAMBDA_PAYLOAD_MAX_BYTES : LAMBDA_STREAM_MAX_BYTES;
  }

  readonly take = (data: Buffer, contentType: string): void => {
    this.contentType = contentType;
    if (this.over) return;
    this.bytes += data.length;
    if (this.bytes > this.limit) {
      this.over = true;
      this.pieces.length = 0;
      return;
    }
    if (this.onChunk === undefined) this.pieces.push(data);
    else this.onChunk(data, contentType);
  };

  /** The reply, or Lambda's error when the stream went over its limit. */
  check(reply: InvokeReply): InvokeReply {
    if (!this.over || reply.type !== 'result') return reply;
    return {
      type: 'error',
      requestId: reply.requestId,
      errorType: 'Function.ResponseSizeTooLarge',
      errorMessage:
        this.onChunk === undefined
          ? `Response payload size exceeded maximum allowed payload size (${LAMBDA_PAYLOAD_MAX_BYTES} bytes).`
          : `Streamed response size exceeded maximum allowed size (${LAMBDA_STREAM_MAX_BYTES} bytes): the stream was cut after the first ${LAMBDA_STREAM_MAX_BYTES} bytes.`,
    };
  }

  outcome(reply: InvokeReply): StreamedResponse | undefined {
    const contentType = (reply.type === 'result' ? reply.stream?.contentType : undefined) ?? this.contentType;
    if (contentType === undefined) return undefined;
    const out: StreamedResponse = { contentType, bytes: this.bytes };
    if (this.onChunk === undefined && reply.type === 'result') out.body = Buffer.concat(this.pieces);
    return out;
  }
}

/** A buffered streamed response as the Invoke API's payload: its JSON, else its text. */
function bufferedPayload(body: Buffer): unknown {
  const text = body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function errorText(payload: unknown): string {
  const p = payload as {
    errorMessage?: unknown;
    content?: { text?: unknown }[];
    error?: { message?: unknown };
  } | null;
  if (typeof p?.errorMessage === 'string') return p.errorMessage;
  if (typeof p?.error?.message === 'string') return p.error.message;
  const text = p?.content?.map((c) => (typeof c.text === 'string' ? c.text : '')).join('');
  return text !== undefined && text !== '' ? text : JSON.stringify(payload).slice(0, 500);
}
