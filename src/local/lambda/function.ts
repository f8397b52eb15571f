/**
 * One function `mcp-server-<id>` of the local Lambda service: its environments (a pool: cold
 * starts on demand, warm reuse, Lambda's concurrency limit and a bounded queue), the init phase
 * with Lambda's 10 s limit (and the init run again inside the first invocation after it times
 * out), the function timeout, and the platform's log lines. Environments come from an
 * {@link EnvironmentFactory} (worker processes by default) and time from a {@link Clock}, so the
 * whole life cycle can be driven in process.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import path from 'node:path';
import { toLaunchSpec, type ServerConfig } from '../../config/model.js';
import { HANDLER_BUNDLE, SESSION_BUNDLE, WEB_BUNDLE } from '../../contract/bundle.js';
import { RUNTIME_SESSION_MEMORY_MB, WEB_FUNCTION_MEMORY_MB } from '../../config/limits.js';
import { FUNCTION_ENV } from '../../contract/function-env.js';
import { EXPIRED, systemClock, withDeadline, type Clock } from '../../platform/time.js';
import type {
  EnvironmentFactory,
  ExecutionEnvironment,
  Guardian,
  InitOutcome,
  ShutdownListener,
  WorkerLaunch,
} from './environment.js';
import { startEventEnvironment } from './event-environment.js';
import { PRELUDE_CONTENT_TYPE } from './function-url.js';
import {
  MCP_SESSION_HEADER,
  RUNTIME_SESSION_HEADER,
  SessionTable,
  sessionNotFound,
  type SessionView,
} from './sessions.js';
import { prelude, startSessionEnvironment, startWebEnvironment, WebEnvironment } from './web-environment.js';
import { webFunctionNode, type WebNode } from './web-node.js';
import { WORKER_FILE } from './files.js';
import type { MemoryMode } from './memory.js';
import { EnvironmentPool, ThrottledError, type Lease } from './pool.js';
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
import { countInvocation, emptyStats, type FunctionStats } from './stats.js';
import { bufferedPayload, StreamState, type StreamedResponse } from './stream.js';
import type { InvokeMessage, InvokeReply } from './worker-protocol.js';
import { LogFile } from './log-file.js';
import { WEB_INITIALIZATION_TYPE, WebPlatformLog } from './web-log.js';
import { EndpointRate, endpointRefusal } from './web-endpoint.js';
import { SpanKind } from '@opentelemetry/api';
import { toXRayHeader, type TraceContext } from '../../contract/trace.js';
import type { LocalSpan, LocalTracing } from './tracing.js';

export { ThrottledError } from './pool.js';
export type { FunctionStats } from './stats.js';
export type { StreamedResponse } from './stream.js';

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
  /** Kills the environments (frozen or not) should the service die without stopping them. */
  guardian?: Guardian;
  /** How memory is limited and measured (default `auto`: a cgroup where possible, else /proc). */
  memory?: MemoryMode;
  /**
   * The handler module the environments load (default: mcp-fleet's runtime bundle); for a web
   * function, the program its environments run (default: the Web Function bundle).
   */
  handler?: string;
  /** Starts the worker some other way (a sandbox); default: this Node.js running the worker file. */
  launcher?: (fn: LocalFunction, worker: WorkerLaunch) => WorkerLaunch;
  /** Starts environments (default: event-function environments, each a worker process). */
  environments?: EnvironmentFactory;
  /** Time: deadlines, durations and timeouts (default the machine's clock). */
  clock?: Clock;
  /** Spans of each invocation (the wait for an environment, init, the call), when tracing. */
  tracing?: LocalTracing;
  /** The Node.js web-function environments run on (default: Node.js 24 if installed). */
  webNode?: WebNode;
  /**
   * When an environment ended whose /tmp held files a later call read after an earlier one wrote
   * them (state between calls, for `mcp-fleet plan`).
   */
  onStateFiles?: (serverId: string, files: readonly string[]) => void;
  /**
   * When the server sent its client a request in the middle of a call (elicitation, sampling,
   * roots), seen in its environment's log (for `mcp-fleet plan`).
   */
  onAsk?: (serverId: string, method: string) => void;
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
  /**
   * The caller gives up (its own deadline, or it went away): a call still queued for an
   * environment leaves the queue with a CallerGoneError. A running invocation of an event function
   * is not stopped (Lambda's is not either); a request running on an HTTP host (a web function, a
   * runtime session) is closed, as the endpoint in front closes what it proxies for a client that
   * went away.
   */
  signal?: AbortSignal;
  /** The caller's trace (its span the invocation's parent), when it traces. */
  trace?: TraceContext;
  /**
   * The tool a local caller's request calls, when the client context does not say it (the
   * gateway's `tools/call` to an MCP-server target): for the invocation's record (`dev`'s line,
   * the measurements by tool). Never sent to the function.
   */
  toolName?: string;
  /**
   * The invocation's request id (an asynchronous event keeps its one id over its attempts, as
   * Lambda's queue does); a fresh one when not given.
   */
  requestId?: string;
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

/** One invocation on its way through the function. */
interface Call {
  requestId: string;
  event: unknown;
  opts: InvokeOptions;
  /** Epoch ms: the function's timeout. */
  deadline: number;
  stream: StreamState;
  /** The invocation's span, when tracing. */
  span?: LocalSpan;
}

/** How an invocation ran: the environment it ran in (if any), its init inside it, and the reply. */
interface Ran {
  env: ExecutionEnvironment | undefined;
  initMs: number | undefined;
  reply: InvokeReply;
}

export class LocalFunction {
  readonly name: string;
  readonly stats: FunctionStats = emptyStats();
  private readonly pool: EnvironmentPool;
  private readonly log: LogFile;
  /** A web function's platform log (JSON system events instead of START / END / REPORT). */
  private readonly webLog: WebPlatformLog | undefined;
  /** A web function endpoint's rate limit (`rateLimit`), checked before any environment. */
  private readonly endpointRate: EndpointRate | undefined;
  private readonly launchFile: string;
  private readonly clock: Clock;
  /** Set when the server cannot start (the function answers every call with that error). */
  startError: string | undefined;
  /** An AgentCore Runtime host's sessions: one environment each. */
  private readonly sessions: SessionTable | undefined;
  /** Secrets taken from the local environment instead of their store. */
  readonly localSecrets: string[] = [];

  constructor(
    readonly server: ServerConfig,
    readonly options: FunctionOptions,
  ) {
    this.name = server.functionName;
    this.clock = options.clock ?? systemClock;
    const dir = path.join(options.workDir, server.id);
    mkdirSync(dir, { recursive: true });
    this.launchFile = options.launchFile ?? this.writeLaunchFile(dir);
    this.log = new LogFile(path.join(dir, 'function.log'));
    const { host, environmentConcurrency } = server.hosting;
    if (host === 'web-function')
      this.webLog = new WebPlatformLog({
        write: (line) => {
          this.line(line);
        },
        clock: this.clock,
        level: server.aws.systemLogLevel ?? 'INFO',
        functionName: this.name,
        region: options.region,
      });
    const { rateLimit } = server.hosting;
    if (host === 'web-function' && rateLimit !== undefined)
      this.endpointRate = new EndpointRate(this.name, rateLimit, this.clock);
    this.pool = new EnvironmentPool({
      name: this.name,
      limit: () => this.concurrencyLimit,
      // A web function or managed instances throttle when every environment is full (no queue).
      queueLimit: host === 'function' ? (options.queueLimit ?? DEFAULT_QUEUE_LIMIT) : 0,
      coldStart: () => this.coldStart(),
      capacity: environmentConcurrency,
      clock: this.clock,
    });
    const { session } = server.hosting;
    if (session !== undefined)
      this.sessions = new SessionTable(this.clock, {
        idleTimeoutMs: session.idleTimeout * 1000,
        maxLifetimeMs: session.maxLifetime * 1000,
      });
  }

  /**
   * The launch spec of the config's server. A secret whose variable is set in the developer's
   * environment is taken from there (by the runtime, from the worker's environment: the value is
   * not written into launch.json).
   */
  private writeLaunchFile(dir: string): string {
    const file = path.join(dir, 'launch.json');
    const dirs = this.options.launchPath;
    const spec = { ...toLaunchSpec(this.server), ...(dirs !== undefined ? { path: [...dirs] } : {}) };
    const parent = this.options.env ?? process.env;
    for (const name of Object.keys(spec.secrets)) {
      if (parent[name] === undefined) continue;
      spec.secrets = Object.fromEntries(Object.entries(spec.secrets).filter(([k]) => k !== name));
      this.localSecrets.push(name);
    }
    if (this.localSecrets.length > 0) spec.localSecrets = [...this.localSecrets];
    writeFileSync(file, `${JSON.stringify(spec, null, 2)}\n`);
    return file;
  }

  /** Environments at most: reserved concurrency for a function, maxEnvironments for the other hosts. */
  get concurrencyLimit(): number {
    const limit =
      this.server.hosting.host === 'function'
        ? this.server.aws.reservedConcurrency
        : this.server.hosting.maxEnvironments;
    return limit ?? this.options.concurrency ?? DEFAULT_CONCURRENCY;
  }

  /** The memory of one environment: a web function's and a runtime session's are fixed. */
  get memoryMb(): number {
    const { host } = this.server.hosting;
    if (host === 'agentcore-runtime') return RUNTIME_SESSION_MEMORY_MB;
    return host === 'web-function' ? WEB_FUNCTION_MEMORY_MB : this.server.memory;
  }

  /** An AgentCore Runtime host's sessions now (empty for the Lambda hosts). */
  get sessionList(): SessionView[] {
    return this.sessions?.list() ?? [];
  }

  /** Sessions ended so far, by why (undefined for the Lambda hosts). */
  get sessionsEnded(): SessionTable['ended'] | undefined {
    return this.sessions?.ended;
  }

  get environments(): { total: number; busy: number; frozen: number; queued: number; calls: number } {
    let busy = 0;
    let frozen = 0;
    let calls = 0;
    const envs = this.pool.list();
    for (const e of envs) {
      if (e.state === 'busy' || e.state === 'init') busy += 1;
      if (e.isFrozen) frozen += 1;
      calls += this.pool.loadOf(e);
    }
    return { total: envs.length, busy, frozen, queued: this.pool.queued, calls };
  }

  /** The environments now (tests and status read their processes). */
  get environmentList(): readonly ExecutionEnvironment[] {
    return this.pool.list();
  }

  get state(): 'cold' | 'warm' | 'failed' {
    if (this.startError !== undefined) return 'failed';
    return this.pool.size > 0 ? 'warm' : 'cold';
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
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_TIMEOUT: String(this.server.timeout),
      ...this.hostEnv(),
      AWS_REGION: parent['AWS_REGION'] ?? this.options.region,
      AWS_DEFAULT_REGION: parent['AWS_DEFAULT_REGION'] ?? parent['AWS_REGION'] ?? this.options.region,
      [FUNCTION_ENV.serviceName]: this.name,
      // An MCP-server target's function streams its responses (its Function URL is in
      // RESPONSE_STREAM mode), as the stack configures it.
      ...(this.server.gateway.targetType === 'mcp' ? { [FUNCTION_ENV.responseStream]: 'true' } : {}),
    };
  }

  /** What the host adds to the environment's variables (Lambda's names). */
  private hostEnv(): Record<string, string> {
    const { host } = this.server.hosting;
    // Not AWS_LAMBDA_MAX_CONCURRENCY: with it Powertools expects the runtime client's per-call
    // store (globalThis.awslambda.InvokeStore), which only aws-lambda-ric provides; the worker
    // takes the environment's calls at once without it (the pool holds it to its concurrency).
    if (host === 'managed-instances') return { AWS_LAMBDA_INITIALIZATION_TYPE: 'lambda-managed-instances' };
    if (host === 'agentcore-runtime') return {};
    return {
      AWS_LAMBDA_INITIALIZATION_TYPE: host === 'web-function' ? WEB_INITIALIZATION_TYPE : 'on-demand',
    };
  }

  async invoke(event: unknown, opts: InvokeOptions = {}): Promise<InvokeOutcome> {
    // A web function endpoint refuses what is not HTTP/1.1 with its methods before any environment.
    const refused = this.server.hosting.host === 'web-function' ? endpointRefusal(event) : undefined;
    if (refused !== undefined) return this.platformAnswer(refused, opts);
    const t0 = this.clock.monotonic();
    const tracing = this.options.tracing;
    if (tracing === undefined) {
      if (this.sessions !== undefined) return this.invokeSession(this.sessions, event, opts, t0);
      return this.invokeOn(await this.lease(opts.signal), event, opts, t0);
    }
    const span = tracing.start(`invoke ${this.name}`, {
      parent: opts.trace,
      kind: SpanKind.SERVER,
      attributes: {
        'faas.invoked_name': this.name,
        'faas.invoked_provider': 'aws',
        'faas.invoked_region': this.options.region,
        'mcp_fleet.server.id': this.server.id,
        'mcp_fleet.host': this.server.hosting.host,
      },
    });
    try {
      let outcome: InvokeOutcome;
      if (this.sessions !== undefined)
        outcome = await this.invokeSession(this.sessions, event, opts, t0, span);
      else {
        const waitFrom = Date.now();
        const w0 = performance.now();
        let lease: Lease;
        try {
          lease = await this.lease(opts.signal);
        } catch (err) {
          span.childFrom('environment', waitFrom).end((err as Error).message);
          throw err;
        }
        // The wait for an environment is a span when there was one: a cold start, a thaw, a queue
        // (a warm environment at hand costs a span's price and shows nothing).
        if (lease.cold || performance.now() - w0 >= ENVIRONMENT_SPAN_MIN_MS) {
          const waiting = span.childFrom('environment', waitFrom, { 'faas.coldstart': lease.cold });
          if (lease.env !== undefined && lease.cold && lease.initMs !== undefined)
            waiting.childEnded('init', lease.initMs);
          waiting.end();
        }
        outcome = await this.invokeOn(lease, event, opts, t0, span);
      }
      span.set({ 'faas.invocation_id': outcome.requestId, 'faas.coldstart': outcome.coldStart });
      span.end(outcome.functionError === undefined ? undefined : `function error (${outcome.functionError})`);
      return outcome;
    } catch (err) {
      span.end((err as Error).message);
      throw err;
    }
  }

  /**
   * An AgentCore Runtime request: to its session's environment, a new session's (started for it),
   * or answered 404 "Session not found" for a session that is not there, as AgentCore answers.
   */
  private async invokeSession(
    sessions: SessionTable,
    event: unknown,
    opts: InvokeOptions,
    t0: number,
    span?: LocalSpan,
  ): Promise<InvokeOutcome> {
    const http = (event ?? {}) as {
      headers?: Record<string, string>;
      requestContext?: { http?: { method?: string } };
    };
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(http.headers ?? {})) headers[k.toLowerCase()] = v;
    const route = sessions.classify(headers);
    if (route.kind === 'unknown') return this.platformAnswer(sessionNotFound(route.id), opts);
    let lease: Lease;
    if (route.kind === 'known') {
      this.pool.take(route.env);
      lease = { env: route.env, cold: false };
    } else {
      lease = await this.coldStart();
      if (lease.env !== undefined) {
        this.pool.take(lease.env);
        sessions.open(route.id, lease.env);
      }
    }
    // AgentCore hands the container the session's id in its own header (and the client's).
    const sessionHeaders: Record<string, string> = { [RUNTIME_SESSION_HEADER]: route.id };
    if (route.kind === 'known') sessionHeaders[MCP_SESSION_HEADER] = route.id;
    const forwarded = { ...http, headers: { ...http.headers, ...sessionHeaders } };
    sessions.begin(route.id);
    try {
      return await this.invokeOn(lease, forwarded, opts, t0, span);
    } finally {
      sessions.finish(route.id);
      if (http.requestContext?.http?.method?.toUpperCase() === 'DELETE') sessions.end(route.id, 'deleted');
      if (lease.env === undefined) sessions.end(route.id, 'gone');
    }
  }

  /** An answer the platform gives without any environment (a streamed HTTP response). */
  private platformAnswer(
    answer: { statusCode: number; headers: Record<string, string>; body: string },
    opts: InvokeOptions,
  ): InvokeOutcome {
    const requestId = randomUUID();
    const stream = new StreamState(opts.onChunk);
    stream.take(
      Buffer.concat([prelude(answer.statusCode, answer.headers), Buffer.from(answer.body)]),
      PRELUDE_CONTENT_TYPE,
    );
    const reply: InvokeReply = {
      type: 'result',
      requestId,
      payload: null,
      stream: { contentType: PRELUDE_CONTENT_TYPE },
    };
    const report: InvocationReport = {
      requestId,
      durationMs: 0,
      billedDurationMs: 0,
      memorySizeMb: this.memoryMb,
      maxMemoryUsedMb: 0,
    };
    return outcomeOf({ requestId, coldStart: false, report, durationMs: 0 }, reply, stream.outcome(reply));
  }

  /** One invocation on its lease; `t0` is when the call came (its wait for the lease counts). */
  private async invokeOn(
    lease: Lease,
    event: unknown,
    opts: InvokeOptions,
    t0: number,
    parent?: LocalSpan,
  ): Promise<InvokeOutcome> {
    // The invoke phase: its clock starts now (an init run inside it counts against it).
    const invokeStart = this.clock.monotonic();
    const call: Call = {
      requestId: opts.requestId ?? randomUUID(),
      event,
      opts,
      deadline: this.clock.now() + this.server.timeout * 1000,
      stream: new StreamState(opts.onChunk),
    };
    if (parent !== undefined)
      call.span = parent.child('invocation', { 'faas.invocation_id': call.requestId });
    const web = this.webLog;
    const envId = lease.env?.id;
    if (web === undefined) this.line(startLine(call.requestId));
    else if (envId !== undefined) web.requestStart(envId);
    const ran = await this.execute(lease, call);
    const reply = call.stream.check(ran.reply);
    call.span?.end(reply.type === 'error' ? `${reply.errorType}: ${reply.errorMessage}` : undefined);
    const durationMs = this.clock.monotonic() - invokeStart;
    if (reply.type === 'result') this.startError = ran.env?.startError;
    const peak = await this.settle(ran.env);
    const report = this.report(
      call.requestId,
      reply,
      durationMs,
      peak,
      lease.env ? ran.initMs : undefined,
      ran,
    );
    if (web === undefined) this.line(`${endLine(call.requestId)}\n${reportLine(report)}`);
    else if (envId !== undefined)
      web.requestEnd(envId, call.requestId, durationMs, reply.type === 'error' ? reply.errorType : 'success');
    const base = {
      requestId: call.requestId,
      coldStart: lease.cold,
      report,
      durationMs: this.clock.monotonic() - t0,
    };
    const outcome = outcomeOf(base, reply, call.stream.outcome(reply));
    countInvocation(this.stats, { ...outcome, maxMemoryUsedMb: report.maxMemoryUsedMb }, this.isoNow());
    return outcome;
  }

  /** An environment for the call (throttles are counted). */
  private async lease(signal: AbortSignal | undefined): Promise<Lease> {
    try {
      this.endpointRate?.admit();
      return await this.pool.acquire(signal);
    } catch (err) {
      if (err instanceof ThrottledError) this.stats.throttles += 1;
      throw err;
    }
  }

  /** Runs the call in its environment, or first runs the init again inside it (after a failed init). */
  private async execute(lease: Lease, call: Call): Promise<Ran> {
    if (lease.env) return { env: lease.env, initMs: lease.initMs, reply: await this.run(lease.env, call) };
    // A web function (or a runtime) has no init inside a request: one that did not listen is refused.
    if (this.server.hosting.host === 'web-function' || this.server.hosting.host === 'agentcore-runtime')
      return { env: undefined, initMs: undefined, reply: refused(call.requestId, lease.failedInit) };
    const inside = await this.initInsideInvoke(call.requestId, call.deadline);
    if ('reply' in inside) return { env: undefined, initMs: inside.initMs, reply: inside.reply };
    return { env: inside.env, initMs: inside.initMs, reply: await this.run(inside.env, call) };
  }

  /** After the answer: the environment measured (Max Memory Used) and given back; its peak. */
  private async settle(env: ExecutionEnvironment | undefined): Promise<number> {
    if (env === undefined) return 0;
    if (this.server.hosting.environmentConcurrency > 1) {
      // An environment that others use at once is given back at once, and not measured per call:
      // its sampler measures it (and holds it to its limit) every 100 ms while it works, so its
      // peak is at most that old; Lambda reports such an environment's memory, not a call's.
      this.pool.release(env);
      if (env.peakBytes === 0 && env.state !== 'stopped') await env.measure();
      return env.peakBytes;
    }
    if (env.state !== 'stopped') await env.measure();
    this.pool.release(env);
    return env.peakBytes;
  }

  /** Lambda's REPORT figures. An init run inside the invocation is already part of its Duration. */
  private report(
    requestId: string,
    reply: InvokeReply,
    durationMs: number,
    peak: number,
    coldInitMs: number | undefined,
    ran: Ran,
  ): InvocationReport {
    const timedOut = reply.type === 'error' && reply.errorType === 'Sandbox.Timedout';
    return {
      requestId,
      durationMs,
      billedDurationMs: billedDuration(durationMs, coldInitMs),
      memorySizeMb: this.memoryMb,
      maxMemoryUsedMb: toMb(peak),
      ...(ran.initMs !== undefined ? { initDurationMs: ran.initMs } : {}),
      ...(timedOut ? { status: 'timeout' as const } : {}),
      ...(reply.type === 'error' && !timedOut
        ? { status: 'error' as const, errorType: reply.errorType }
        : {}),
    };
  }

  /** Runs one invocation on an environment, cut at the function's timeout (the environment then dies). */
  private async run(env: ExecutionEnvironment, call: Call): Promise<InvokeReply> {
    const message: InvokeMessage = {
      type: 'invoke',
      requestId: call.requestId,
      event: call.event,
      deadline: call.deadline,
    };
    if (call.opts.clientContext !== undefined) message.clientContext = call.opts.clientContext;
    // Lambda's trace header for the invocation: its span the parent of what the function does;
    // untraced here, the caller's trace passes through (as with Lambda's PassThrough tracing).
    const traceId =
      call.span?.xrayHeader ?? (call.opts.trace === undefined ? undefined : toXRayHeader(call.opts.trace));
    if (traceId !== undefined) message.traceId = traceId;
    env.noteCall?.();
    // A web function environment cuts a request at its timeout itself (504) and serves on.
    if (env instanceof WebEnvironment) return env.invoke(message, call.stream.take, call.opts.signal);
    const reply = await withDeadline(env.invoke(message, call.stream.take), call.deadline, {
      clock: this.clock,
    });
    // Managed instances report a timeout and let the code run on: the environment serves others.
    if (reply === EXPIRED && this.server.hosting.host === 'managed-instances') {
      this.stats.timeouts += 1;
      return this.timedOut(call.requestId);
    }
    if (reply === EXPIRED) {
      this.stats.timeouts += 1;
      await env.kill('timeout');
    }
    // A killed environment is gone (every process, its cgroup) before the caller hears of it.
    if (env.killedBecause !== undefined) await env.gone();
    if (reply === EXPIRED || env.killedBecause === 'timeout') return this.timedOut(call.requestId);
    if (env.killedBecause === 'out-of-memory') this.stats.outOfMemory += 1;
    return reply;
  }

  private timedOut(requestId: string): InvokeReply {
    return {
      type: 'error',
      requestId,
      errorType: 'Sandbox.Timedout',
      errorMessage: `${this.isoNow()} ${requestId} Task timed out after ${this.server.timeout.toFixed(2)} seconds`,
    };
  }

  /**
   * After an init that timed out (or failed), Lambda runs init again inside the first invocation,
   * bounded by the function's timeout.
   */
  private async initInsideInvoke(
    requestId: string,
    deadline: number,
  ): Promise<{ env: ExecutionEnvironment; initMs: number } | { initMs: number; reply: InvokeReply }> {
    const env = await this.spawnEnvironment();
    const init = await env.awaitInit(Math.max(1, deadline - this.clock.now()));
    this.pool.assertOpen();
    if (init.status === 'success') {
      this.pool.take(env);
      return { env, initMs: init.durationMs };
    }
    this.initReport(init, 'invoke');
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

  private initReport(init: Exclude<InitOutcome, { status: 'success' }>, phase: 'init' | 'invoke'): void {
    this.line(
      initReportLine(
        init.durationMs,
        phase,
        init.status,
        init.status === 'error' ? init.errorType : undefined,
      ),
    );
  }

  /** A platform line in the function's log (an invocation that ends after shutdown writes none). */
  private line(text: string): void {
    if (!this.log.writableEnded) this.log.write(`${text}\n`);
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /** Resolves once every line written to the function's log so far is in the file. */
  logFlushed(): Promise<void> {
    if (this.log.closed || this.log.writableEnded) return Promise.resolve();
    return new Promise((resolve) =>
      this.log.write('', () => {
        this.log.flush();
        resolve();
      }),
    );
  }

  /** A new environment (its init starts), forgotten when its processes end. */
  private async spawnEnvironment(): Promise<ExecutionEnvironment> {
    const { host } = this.server.hosting;
    const web = host === 'web-function';
    const session = host === 'agentcore-runtime';
    const start =
      this.options.environments ??
      (web ? startWebEnvironment : session ? startSessionEnvironment : startEventEnvironment);
    const env = await this.pool.reserving(() => {
      const node = web ? (this.options.webNode ?? webFunctionNode()) : undefined;
      const worker: WorkerLaunch = {
        command: node?.command ?? process.execPath,
        // A web function's (or a runtime's) own HTTP server is its entry (a test's `handler` stands in).
        args: [
          web
            ? (this.options.handler ?? WEB_BUNDLE)
            : session
              ? (this.options.handler ?? SESSION_BUNDLE)
              : WORKER_FILE,
        ],
        env: this.workerEnv(),
        cwd: this.options.cwd,
      };
      const runtimeVersion = `mcp-fleet-local (Node.js ${node?.version ?? process.version})`;
      const id = randomBytes(4).toString('hex');
      if (this.webLog === undefined) this.line(initStartLine(runtimeVersion));
      else this.webLog.initStart(id, runtimeVersion);
      return start({
        name: `${this.name}.${id}`,
        id,
        memoryMb: this.memoryMb,
        memoryMode: this.options.memory ?? 'auto',
        // Only an event function is frozen between invocations.
        freeze: this.server.hosting.host === 'function' && (this.options.freeze ?? true),
        launch: this.options.launcher ? this.options.launcher(this, worker) : worker,
        log:
          this.options.onAsk === undefined
            ? this.log
            : askTap(this.log, (method) => this.options.onAsk?.(this.server.id, method)),
        clock: this.clock,
        ...(this.options.guardian ? { guardian: this.options.guardian } : {}),
        ...(this.webLog ? { onShutdown: this.spinDown(this.webLog, id) } : {}),
      });
    });
    this.pool.track(env, (gone) => {
      if (gone.killedBecause === 'out-of-memory')
        this.stats.maxMemoryUsedMb = Math.max(this.stats.maxMemoryUsedMb, toMb(gone.peakBytes));
      if (gone.filesReadLater !== undefined && gone.filesReadLater.length > 0)
        this.options.onStateFiles?.(this.server.id, gone.filesReadLater);
      // A web function reports each environment when it stops serving (platform.invokeReport).
      this.webLog?.gone(gone.id);
    });
    return env;
  }

  /** A web function environment's shutdown, in its log (`platform.spinDownStart` / `Report`). */
  private spinDown(log: WebPlatformLog, id: string): ShutdownListener {
    return {
      started: () => {
        log.spinDownStart(id);
      },
      ended: (status) => {
        log.spinDownReport(id, status);
      },
    };
  }

  /** A cold start: a new environment and its init, at most Lambda's init limit. */
  private async coldStart(): Promise<Lease> {
    const env = await this.spawnEnvironment();
    const init = await env.awaitInit(this.options.initTimeoutMs ?? INIT_TIMEOUT_MS);
    // Shut down while it started: the shutdown stopped it, and the call gets no environment.
    this.pool.assertOpen();
    this.webLog?.initReport(env, init);
    if (init.status === 'success') {
      this.startError = env.startError;
      env.state = 'busy';
      return { env, cold: true, initMs: init.durationMs };
    }
    // Lambda reports the failed init, resets the environment and runs init again in the invocation.
    if (this.webLog === undefined) this.initReport(init, 'init');
    if (init.status === 'timeout') this.stats.initTimeouts += 1;
    await env.kill('init');
    return { env: undefined, cold: true, failedInit: init };
  }

  /** Resolves once no call of this function runs or waits, or after `timeoutMs`; true when drained. */
  async drained(timeoutMs: number): Promise<boolean> {
    return (
      (await withDeadline(this.pool.whenIdle(), this.clock.now() + timeoutMs, { clock: this.clock })) !==
      EXPIRED
    );
  }

  /** Stops environments idle for longer than `idleMs` (frozen ones included). */
  reclaimIdle(idleMs: number): void {
    // Managed instances keep their environments running: no scale to zero. A runtime's sessions
    // end on their own idle timeout.
    const { host } = this.server.hosting;
    if (host !== 'managed-instances' && host !== 'agentcore-runtime') this.pool.reclaimIdle(idleMs);
  }

  /** Kills the environments (a way to test recovery; what a crash of the host would do). */
  killEnvironments(): number {
    const envs = this.pool.list();
    for (const env of envs) void env.kill('killed');
    return envs.length;
  }

  async shutdown(): Promise<void> {
    this.sessions?.clear();
    await this.pool.shutdown('the local Lambda service is shutting down');
    this.webLog?.close();
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}

/** A wait for an environment this short (a warm one at hand) is no span of its own. */
const ENVIRONMENT_SPAN_MIN_MS = 0.5;

/** A web function's answer when its environment did not start listening (or failed) in time. */
function refused(requestId: string, init: InitOutcome): InvokeReply {
  const why =
    init.status === 'timeout'
      ? `the web function did not listen on AWS_LAMBDA_HTTP_ENDPOINT within ${Math.round(init.durationMs / 1000)} s of its start; Lambda refuses such an environment`
      : init.status === 'error'
        ? `the web function's process ended before it listened: ${init.errorMessage}`
        : 'the web function did not start';
  return { type: 'error', requestId, errorType: 'Runtime.InitError', errorMessage: why };
}

/** The Invoke API's outcome of a reply: the payload (a buffered stream's body), or Lambda's function error. */
function outcomeOf(
  base: Pick<InvokeOutcome, 'requestId' | 'coldStart' | 'report' | 'durationMs'>,
  reply: InvokeReply,
  streamed: StreamedResponse | undefined,
): InvokeOutcome {
  const outcome: InvokeOutcome =
    reply.type === 'result'
      ? { ...base, payload: streamed?.body ? bufferedPayload(streamed.body) : reply.payload }
      : {
          ...base,
          functionError: 'Unhandled',
          payload: { errorType: reply.errorType, errorMessage: reply.errorMessage, trace: [] },
        };
  if (streamed !== undefined) outcome.streamed = streamed;
  return outcome;
}

/** The runtime's log messages of a server's request to its client (connection.ts). */
const ASK_MESSAGES = /"message":"server-to-client request (?:relayed|refused)"/;

/**
 * The function's log as an environment writes to it, watched line by line for the runtime's
 * messages of a server's request to its client: each one's `method` goes to `onAsk`.
 */
function askTap(log: Writable, onAsk: (method: string) => void): Writable {
  let partial = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = partial + chunk.toString('utf8');
      const end = text.lastIndexOf('\n') + 1;
      partial = text.slice(end).slice(-65_536);
      // Most output holds no such record: only the lines of one that does are read.
      const whole = text.slice(0, end);
      for (const line of whole.includes('server-to-client request') ? whole.split('\n') : []) {
        if (!ASK_MESSAGES.test(line)) continue;
        try {
          const method = (JSON.parse(line) as { method?: unknown }).method;
          if (typeof method === 'string' && method.length <= 100) onAsk(method);
        } catch {
          // not a log record of ours
        }
      }
      if (log.writableEnded) done();
      else
        log.write(chunk, () => {
          done();
        });
    },
  });
}
