import { fromXRayHeader, traceOfHeaders, type TraceContext } from '../contract/trace.js';
import { functionTracer, type FunctionTracer } from './tracing.js';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { LaunchSpec } from '../config/model.js';
import { ToolPolicy } from '../config/tool-filter.js';
import { McpBridge } from '../protocol/bridge.js';
import { SupervisorBackend } from './backend.js';
import type { ClientChannel } from './connection.js';
import { agentCoreCustom, agentCoreFront, errorResult, type CallToolResult } from './fronts/agentcore.js';
import {
  httpEventKind,
  httpFront,
  servedOf,
  toHttpRequest,
  type HttpStreamSink,
  type Served,
} from '../protocol/http.js';
import { isJsonRpcEvent, jsonRpcFront } from './fronts/jsonrpc.js';
import { overResponseLimit, payloadTooLargeMessage } from '../contract/function-call.js';
import { ErrorCode, failure, type JsonRpcResponse } from '../protocol/jsonrpc.js';
import { DEADLINE_MARGIN_MS, INIT_BUDGET_MS, MIN_CALL_BUDGET_MS } from './limits.js';
import { Telemetry, type CallRecord, type RuntimeLogger } from './observability.js';
import { Redactor } from './redact.js';
import { serversFor } from './pool.js';
import type { ServerHost, SupervisorOptions } from './supervisor.js';
import { systemClock, type Clock } from '../platform/time.js';

export type Front = 'agentcore' | 'http' | 'jsonrpc';

/** A launch spec as users write it: `command` is enough. */
export type LaunchInput = Pick<LaunchSpec, 'command'> & Partial<LaunchSpec>;

export interface HandlerOptions {
  /**
   * Records the runtime's spans (null: none). Default: sent to the X-Ray daemon when the
   * environment has one (`AWS_XRAY_DAEMON_ADDRESS`, a function with active tracing).
   */
  tracer?: FunctionTracer | null;
  /** Fix the front instead of detecting it from each event. */
  front?: Front;
  /** AgentCore front: throw JSON-RPC errors and timeouts (a Lambda FunctionError) instead of returning isError results. */
  throwOnError?: boolean;
  /** Start the server when the handler is created (Lambda's init phase). Default true. */
  warmup?: boolean;
  /**
   * How long `ready` waits for the server's handshake during init; the start goes on after it.
   * Default 8 s, below Lambda's 10 s init limit.
   */
  initBudgetMs?: number;
  /**
   * HTTP front: the origins whose browser pages may call it (CORS), as one origin, a
   * comma-separated list, or `*`. Default: none — no CORS headers, and a request that carries an
   * `Origin` gets 403.
   */
  allowOrigin?: string;
  /** Powertools Logger / Metrics to use (default: new ones named after the server). */
  logger?: Logger;
  metrics?: Metrics;
  /** Log through this instead of a Powertools Logger (embedding, tests). */
  log?: RuntimeLogger;
  /** Environment variables added when the server starts (e.g. resolved secrets). */
  extraEnv?: () => Promise<Record<string, string>>;
  /** The environment the server inherits from (default process.env). */
  parentEnv?: NodeJS.ProcessEnv;
  /** Name and version the bridge gives in its own `initialize`. */
  clientInfo?: { name: string; version: string };
  /**
   * The environment serves one client's session (an AgentCore Runtime session): the server's
   * questions (elicitation, sampling, roots) go to that client on the call's event stream, and
   * its answers back. Elsewhere the server is told the client cannot answer.
   */
  relay?: boolean;
  /** Time: each call's deadline, the init budget, the waits (default the machine's; tests drive their own). */
  clock?: Clock;
  /** Talk to the server through this instead of spawning its process (embedding, tests). */
  transport?: SupervisorOptions['transport'];
}

export interface McpLambdaHandler {
  /**
   * `stream`: an HTTP event's answer is streamed to it (notifications as they come); the result
   * then has `streamed: true` and its `body` is what is left to write.
   */
  (event: unknown, context?: Context, stream?: HttpStreamSink): Promise<unknown>;
  /**
   * Resolves when the server started at creation has finished its handshake, or when the init
   * budget is spent (the start then goes on, and the first call waits for it).
   */
  readonly ready: Promise<void>;
  /** Stops the server process (and everything it started). */
  close(): Promise<void>;
  /** The server process id, when one is running. */
  readonly pid: number | undefined;
  /** Why the server could not be started, when its last start failed. */
  readonly startError: string | undefined;
}

/** Fills in a launch spec's defaults. */
export function normalizeLaunch(input: LaunchInput): LaunchSpec {
  const spec: LaunchSpec = {
    id: input.id ?? 'server',
    name: input.name ?? input.id ?? 'server',
    command: input.command,
    args: input.args ?? [],
    env: input.env ?? {},
    shell: input.shell ?? false,
    timeout: input.timeout ?? 60,
    isolation: input.isolation ?? 'warm',
    recycle: input.recycle ?? {},
    tools: {
      allow: input.tools?.allow ?? [],
      deny: input.tools?.deny ?? [],
      rename: input.tools?.rename ?? {},
    },
    secrets: input.secrets ?? {},
  };
  if (input.cwd !== undefined) spec.cwd = input.cwd;
  if (input.localSecrets !== undefined) spec.localSecrets = [...input.localSecrets];
  if (input.host !== undefined) spec.host = input.host;
  if (input.concurrency !== undefined) spec.concurrency = input.concurrency;
  if (input.processes !== undefined) spec.processes = input.processes;
  return spec;
}

/** Which front an event is for. */
export function detectFront(event: unknown, context: Context | undefined): Front {
  if (typeof agentCoreCustom(context)?.['bedrockAgentCoreToolName'] === 'string') return 'agentcore';
  if (isJsonRpcEvent(event)) return 'jsonrpc';
  if (httpEventKind(event) !== undefined) return 'http';
  return 'agentcore';
}

const tooLarge = (bytes: number): string => payloadTooLargeMessage('response', bytes);

/** What one Lambda environment sets up once, at init, and every invocation uses. */
export interface HandlerEnvironment {
  spec: LaunchSpec;
  options: HandlerOptions;
  /** Secret values, once resolved, are kept out of logs, answers and errors. */
  redactor: Redactor;
  telemetry: Telemetry;
  clock: Clock;
  /** One supervisor (host `function`), or a pool of processes (hosts that take many calls at once). */
  supervisor: ServerHost;
  bridge: McpBridge;
  /** Resolves when the server started at init is ready (or the init budget is spent). */
  ready: Promise<void>;
  /** The runtime's spans, where a daemon receives them (active tracing). */
  tracer: FunctionTracer | undefined;
  /** A server start not yet in a trace (epoch ms), recorded as `init` in the next traced invocation. */
  unrecordedStart?: { startMs: number; endMs: number; pid: number | undefined };
  /** The session's client, on a host that keeps one per environment (`relay`). */
  client?: ClientChannel;
}

/** One invocation: the event, and what the handler fixed for it. */
interface Invocation {
  event: unknown;
  context: Context | undefined;
  stream: HttpStreamSink | undefined;
  front: Front;
  /** The clock's monotonic time when it started. */
  started: number;
  /** The clock's time (epoch ms) by which it must have answered. */
  deadline: number;
  /** Lambda's trace of this invocation (`_X_AMZN_TRACE_ID`, read as it starts), as W3C trace context. */
  trace: TraceContext | undefined;
}

/** Serves one invocation through a front. */
type FrontServer = (env: HandlerEnvironment, call: Invocation) => Promise<unknown>;

/** The front of each event kind. */
const FRONTS: Record<Front, FrontServer> = {
  agentcore: serveAgentCore,
  jsonrpc: serveJsonRpc,
  http: serveHttp,
};

/**
 * A Lambda handler that serves one stdio MCP server. The server is started once per Lambda
 * environment (during init, when the handler is created) and reused; each event is served by the
 * front its shape calls for: AgentCore Gateway target, HTTP (API Gateway, Function URL), or a
 * JSON-RPC message invoked directly.
 */
export function createHandler(launch: LaunchInput, options: HandlerOptions = {}): McpLambdaHandler {
  const env = initEnvironment(normalizeLaunch(launch), options);
  const { redactor, supervisor } = env;
  // Whatever leaves the handler (answers, thrown errors) has the secret values redacted.
  // The stream comes as a rest parameter: a handler with three declared parameters is a
  // callback handler to Lambda's Node.js runtime (`handler.length`), which Node.js 22 refuses.
  const handler = async (
    event: unknown,
    context?: Context,
    ...more: [stream?: HttpStreamSink]
  ): Promise<unknown> => {
    try {
      return redactor.redactDeep(await invoke(env, event, context, more[0]));
    } catch (err) {
      throw redactor.redactError(err);
    }
  };

  return Object.defineProperties(handler, {
    ready: { value: env.ready },
    close: { value: () => supervisor.shutdown() },
    pid: { get: () => supervisor.pid },
    startError: {
      get: () => {
        const message = supervisor.startError?.message;
        return message === undefined ? undefined : redactor.redact(message);
      },
    },
  }) as McpLambdaHandler;
}

/**
 * Init: telemetry, the secrets, the supervisor or pool (the server started now, unless no
 * warmup), the bridge. The Web Function entry (web-function.ts) sets up its environment with it.
 */
export function initEnvironment(spec: LaunchSpec, options: HandlerOptions): HandlerEnvironment {
  const redactor = new Redactor();
  const telemetry = new Telemetry(spec.id, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.log ? { log: options.log } : {}),
    redactor,
  });
  const log = telemetry.log;
  const clock = options.clock ?? systemClock;
  const supervisorOptions: SupervisorOptions = {
    clock,
    log,
    clientInfo: options.clientInfo ?? { name: 'mcp-fleet', version: '0.1.0' },
    onStart: (ms, pid) => {
      telemetry.serverStarted(ms, pid);
      const endMs = clock.now();
      environment.unrecordedStart = { startMs: endMs - ms, endMs, pid };
    },
    onCrash: (message) => {
      telemetry.serverCrashed(message);
    },
    onTimeout: (message) => {
      telemetry.callTimedOut(message);
    },
  };
  const extraEnv =
    options.extraEnv ??
    (Object.keys(spec.secrets).length > 0 || (spec.localSecrets?.length ?? 0) > 0
      ? secretsLoader(spec, options.parentEnv ?? process.env)
      : undefined);
  if (extraEnv) supervisorOptions.extraEnv = redactedFrom(extraEnv, redactor, log);
  if (options.parentEnv) supervisorOptions.parentEnv = options.parentEnv;
  if (options.transport) supervisorOptions.transport = options.transport;
  // A host that keeps the session relays the server's questions to its client (elicitation,
  // sampling, roots): the server learns at its initialize what the client can answer.
  const client: ClientChannel | undefined = options.relay === true ? { asked: new Map() } : undefined;
  if (client !== undefined) supervisorOptions.client = client;
  const supervisor = serversFor(spec, supervisorOptions);
  const tracer =
    options.tracer === undefined
      ? functionTracer(spec.id, options.parentEnv ?? process.env)
      : (options.tracer ?? undefined);
  const bridge = new McpBridge(new SupervisorBackend(supervisor, tracer, client), new ToolPolicy(spec.tools));
  const environment: HandlerEnvironment = {
    spec,
    options,
    redactor,
    telemetry,
    clock,
    supervisor,
    bridge,
    ready: Promise.resolve(),
    tracer,
  };
  if (client !== undefined) environment.client = client;
  if (options.warmup !== false) environment.ready = supervisor.warmup(options.initBudgetMs ?? INIT_BUDGET_MS);
  return environment;
}

/** One invocation: its front (fixed or detected), its deadline, and the settling after it. */
async function invoke(
  env: HandlerEnvironment,
  event: unknown,
  context: Context | undefined,
  stream: HttpStreamSink | undefined,
): Promise<unknown> {
  const front = env.options.front ?? detectFront(event, context);
  env.telemetry.startInvocation(context, front);
  const call: Invocation = {
    event,
    context,
    stream,
    front,
    started: env.clock.monotonic(),
    deadline: deadlineFor(env.spec, context, env.clock),
    // Lambda sets it for each invocation before calling the handler: read it before any await.
    trace: fromXRayHeader(process.env['_X_AMZN_TRACE_ID']),
  };
  try {
    return await FRONTS[front](env, call);
  } finally {
    // Lambda freezes the environment once the handler returns: stops this call caused finish now.
    await env.supervisor.settle(call.deadline);
    await recordSpans(env, call);
    env.telemetry.endInvocation();
  }
}

/**
 * A server start since the last traced invocation becomes its `init` span (a cold start's, or a
 * restart's), and the spans ended so far are sent before Lambda may freeze the environment.
 */
async function recordSpans(env: HandlerEnvironment, call: Invocation): Promise<void> {
  const { tracer, unrecordedStart: start } = env;
  if (tracer === undefined || call.trace === undefined) return;
  if (start !== undefined) {
    const span = tracer.start(
      'init',
      call.trace,
      {
        'mcp_fleet.server_id': env.spec.id,
        ...(start.pid === undefined ? {} : { 'process.pid': start.pid }),
      },
      start.startMs,
    );
    if (span !== undefined) {
      span.end(undefined, start.endMs);
      delete env.unrecordedStart;
    }
  }
  await tracer.flush().catch(() => undefined);
}

/** The server's timeout, within what Lambda leaves of the invocation (less a margin). */
function deadlineFor(spec: LaunchSpec, context: Context | undefined, clock: Clock): number {
  const configured = spec.timeout * 1000;
  const remaining = context?.getRemainingTimeInMillis
    ? context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS
    : configured;
  return clock.now() + Math.max(MIN_CALL_BUDGET_MS, Math.min(configured, remaining));
}

/** AgentCore Gateway target: one tools/call; an answer over 6 MB becomes an isError result. */
async function serveAgentCore(env: HandlerEnvironment, call: Invocation): Promise<unknown> {
  const { spec, options } = env;
  const { context } = call;
  const { result, tool, error } = await agentCoreFront(call.event, context, env.bridge, {
    deadline: call.deadline,
    serverId: spec.id,
    serverName: spec.name,
    throwOnError: options.throwOnError === true,
    requestId: context?.awsRequestId ?? 'agentcore',
    ...(call.trace ? { trace: call.trace } : {}),
  });
  env.telemetry.call({
    tool,
    method: 'tools/call',
    front: call.front,
    durationMs: env.clock.monotonic() - call.started,
    ...(error !== undefined ? { error } : {}),
  });
  const bytes = overResponseLimit(result);
  return bytes !== undefined ? (errorResult(tooLarge(bytes)) satisfies CallToolResult) : result;
}

/** A JSON-RPC message or batch invoked directly. */
async function serveJsonRpc(env: HandlerEnvironment, call: Invocation): Promise<unknown> {
  const result = await jsonRpcFront(call.event, env.bridge, call.deadline, call.trace);
  recordJsonRpc(env.telemetry, call.event, result, call.front, env.clock.monotonic() - call.started);
  return fitJsonRpc(result);
}

/** API Gateway (v1, v2) or Function URL: the Streamable HTTP front, streamed when given a stream. */
async function serveHttp(env: HandlerEnvironment, call: Invocation): Promise<unknown> {
  const kind = httpEventKind(call.event);
  if (kind === undefined) {
    return {
      statusCode: 400,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        failure(null, {
          code: ErrorCode.InvalidRequest,
          message: 'not an HTTP event (API Gateway or Function URL)',
        }),
      ),
    };
  }
  const { allowOrigin } = env.options;
  const { stream } = call;
  const request = toHttpRequest(call.event as Record<string, unknown>, kind);
  // Lambda's trace of the invocation, else the one the HTTP caller sent.
  const trace = call.trace ?? traceOfHeaders(request.headers);
  const { served, ...response } = await httpFront(request, env.bridge, {
    deadline: call.deadline,
    ...(trace !== undefined ? { trace } : {}),
    ...(allowOrigin !== undefined ? { allowOrigin } : {}),
    ...(stream !== undefined ? { stream: redactedSink(stream, env.redactor) } : {}),
  });
  env.telemetry.call(
    httpCallRecord(response.statusCode, served, call.front, env.clock.monotonic() - call.started),
  );
  return { ...response, isBase64Encoded: false };
}

/** A stream whose every piece has the secret values redacted, as the handler's answers do. */
export function redactedSink(sink: HttpStreamSink, redactor: Redactor): HttpStreamSink {
  return {
    start: (statusCode, headers) => {
      sink.start(statusCode, redactor.redactDeep(headers));
    },
    write: (chunk) => {
      sink.write(redactor.redact(chunk));
    },
  };
}

/** The extra environment, its values registered as secrets to redact. */
function redactedFrom(
  extraEnv: () => Promise<Record<string, string>>,
  redactor: Redactor,
  log: RuntimeLogger,
): () => Promise<Record<string, string>> {
  return async () => {
    const values = await extraEnv();
    const short = redactor.tooShort.size;
    redactor.add(values);
    if (redactor.tooShort.size > short)
      log.warn('secret values this short cannot be redacted from output', {
        secrets: [...redactor.tooShort],
      });
    return values;
  };
}

/**
 * Resolves `secrets:` once per environment (a failure is retried at the next start); the
 * `localSecrets` come from the runtime's own environment.
 */
function secretsLoader(
  spec: LaunchSpec,
  parentEnv: NodeJS.ProcessEnv,
): () => Promise<Record<string, string>> {
  const local: Record<string, string> = {};
  for (const name of spec.localSecrets ?? []) {
    const value = parentEnv[name];
    if (value !== undefined) local[name] = value;
  }
  let cached: Promise<Record<string, string>> | undefined;
  return () => {
    cached ??= import('./secrets.js')
      .then(async ({ resolveSecrets }) => ({ ...(await resolveSecrets(spec.secrets)), ...local }))
      .catch((err: unknown) => {
        cached = undefined;
        throw err;
      });
    return cached;
  };
}

function fitJsonRpc(
  result: JsonRpcResponse | JsonRpcResponse[] | null,
): JsonRpcResponse | JsonRpcResponse[] | null {
  if (result === null) return null;
  const bytes = overResponseLimit(result);
  if (bytes === undefined) return result;
  const replace = (r: JsonRpcResponse): JsonRpcResponse =>
    failure(r.id, {
      code: ErrorCode.InternalError,
      message: tooLarge(bytes),
      data: { reason: 'response_too_large', bytes },
    });
  return Array.isArray(result) ? result.map(replace) : replace(result);
}

/**
 * The record of one HTTP request: its JSON-RPC method and tool when its body was read (so a
 * `tools/call` counts under its tool, as through the other fronts), else `http`; an HTTP error
 * status, or the first JSON-RPC error of its answers, is its error.
 */
export function httpCallRecord(
  statusCode: number,
  served: Served | undefined,
  front: string,
  durationMs: number,
): CallRecord {
  return callRecord(served, front, durationMs, statusCode >= 400 ? `HTTP ${statusCode}` : served?.error);
}

/** A call's record from what it asked (`http` when its body was not read) and its error. */
function callRecord(
  served: Served | undefined,
  front: string,
  durationMs: number,
  error: string | undefined,
): CallRecord {
  return {
    tool: served?.tool ?? '',
    method: served?.method ?? 'http',
    front,
    durationMs,
    ...(error !== undefined ? { error } : {}),
  };
}

function recordJsonRpc(
  telemetry: Telemetry,
  event: unknown,
  result: JsonRpcResponse | JsonRpcResponse[] | null,
  front: string,
  durationMs: number,
): void {
  const responses = Array.isArray(result) ? result : result ? [result] : [];
  const served = servedOf(Array.isArray(event) ? event : [event], responses);
  telemetry.call(callRecord(served, front, durationMs, served.error));
}
