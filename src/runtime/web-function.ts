/**
 * A Lambda Web Function's server: an ordinary HTTP server on the host:port Lambda gives
 * (`AWS_LAMBDA_HTTP_ENDPOINT`), serving one stdio MCP server over MCP Streamable HTTP, statelessly,
 * many calls at once on the environment's warm server processes (a {@link ServerPool}).
 *
 * - It listens at once, before the server has started (Lambda wants a listener within 10 s); the
 *   server starts in the background and the first calls wait for it.
 * - POST `/mcp` (or `/`): the same front as a Function URL's (`httpFront`, `McpBridge`: both
 *   protocol eras, JSON or SSE answers, the tool policy, the Origin rule). Any request may land on
 *   any environment: no session is kept, and an `Mcp-Session-Id` is never a reason to refuse one.
 * - A call's deadline is the server's `timeout` less the runtime's margin (so our error answers
 *   before the platform's 504); a client that goes away cancels its call (`notifications/cancelled`
 *   to the server). A client's own `notifications/cancelled` is mapped to our request only when it
 *   comes with an `Mcp-Session-Id` and exactly one call in flight here has that session and id
 *   (without a session, two callers' ids cannot be told apart: it is logged and dropped).
 * - {@link WebFunction.close} (SIGTERM in web.ts) stops taking requests and kills every server
 *   process group at once: Lambda allows 1 s.
 */
import { traceOfHeaders } from '../contract/trace.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LAMBDA_PAYLOAD_MAX_BYTES } from '../contract/function-call.js';
import { FUNCTION_ENV, LOCAL_KEY_HEADER } from '../contract/function-env.js';
import { MULTI_CALL_HOSTS } from '../config/limits.js';
import type { CallContext, MessageHandler } from '../protocol/bridge.js';
import {
  httpFront,
  type HttpRequest,
  type HttpResponse,
  type HttpStreamSink,
  type Served,
} from '../protocol/http.js';
import {
  ErrorCode,
  failure,
  isNotification,
  isRequest,
  type JsonRpcResponse,
  type RequestId,
} from '../protocol/jsonrpc.js';
import {
  normalizeLaunch,
  httpCallRecord,
  initEnvironment,
  redactedSink,
  type HandlerEnvironment,
  type HandlerOptions,
  type LaunchInput,
} from './handler.js';
import { DEADLINE_MARGIN_MS, INIT_BUDGET_MS, MIN_CALL_BUDGET_MS } from './limits.js';
import type { RuntimeLogger, Telemetry } from './observability.js';
import { relayAbort } from '../platform/abort.js';
import { closeAfterAnswers, OpenResponses } from '../platform/http-close.js';
import type { Clock } from '../platform/time.js';
import { SHUTDOWN_REASON, type ServerHost } from './supervisor.js';

/** The handler options an HTTP entry (this one, the session entry) takes. */
export type EntryOptions = Pick<
  HandlerOptions,
  | 'allowOrigin'
  | 'clock'
  | 'log'
  | 'logger'
  | 'metrics'
  | 'parentEnv'
  | 'transport'
  | 'extraEnv'
  | 'clientInfo'
> & {
  /**
   * Take only requests that carry this key in {@link LOCAL_KEY_HEADER} (403 otherwise): what
   * `mcp-fleet dev` gives each local environment (MCP_FLEET_LOCAL_KEY). Unset in AWS.
   */
  localKey?: string;
};

export interface WebFunctionOptions extends EntryOptions {
  /** Where to listen, `host:port` (Lambda's `AWS_LAMBDA_HTTP_ENDPOINT`); port 0: any free port. */
  endpoint: string;
  /** Request bodies over this many bytes get 413 (default Lambda's 6 MB payload limit). */
  maxBodyBytes?: number;
}

export interface WebFunction {
  /** Where it listens. */
  readonly address: { host: string; port: number };
  /** The MCP endpoint, `http://host:port/mcp`. */
  readonly url: string;
  /** Resolves when the first server start has ended (ready or failed), or its budget is spent. */
  readonly ready: Promise<void>;
  /** The environment's warm server processes (a pool). */
  readonly servers: ServerHost;
  /** Stops taking requests, closes every connection and kills every server process group. */
  close(): Promise<void>;
}

/** The paths the MCP endpoint answers on. */
const MCP_PATHS = new Set(['/', '/mcp', '/mcp/']);

/**
 * The calls in flight that a client's `notifications/cancelled` may name: one per environment here,
 * one per session in the AgentCore Runtime entry (session-server.ts).
 */
export class InFlight {
  private readonly calls = new Map<string, Set<AbortController>>();

  constructor(private readonly log: RuntimeLogger) {}

  private static key(session: string, id: RequestId): string {
    return `${session}\u0000${JSON.stringify(id)}`;
  }

  add(session: string, id: RequestId, controller: AbortController): () => void {
    const key = InFlight.key(session, id);
    const set = this.calls.get(key) ?? new Set<AbortController>();
    set.add(controller);
    this.calls.set(key, set);
    return () => {
      set.delete(controller);
      if (set.size === 0) this.calls.delete(key);
    };
  }

  /** A client's cancel: applied only when it names exactly one call of its session. */
  cancel(session: string | undefined, params: Record<string, unknown> | undefined): void {
    const id = params?.['requestId'];
    const reason = typeof params?.['reason'] === 'string' ? params['reason'] : 'cancelled by the client';
    const matches =
      session !== undefined && (typeof id === 'string' || typeof id === 'number')
        ? (this.calls.get(InFlight.key(session, id)) ?? new Set())
        : new Set<AbortController>();
    const only = matches.size === 1 ? [...matches][0] : undefined;
    if (only) {
      only.abort(`cancelled by the client: ${reason}`);
      return;
    }
    this.log.info('client notifications/cancelled not mapped', {
      requestId: id,
      why:
        session === undefined
          ? 'no Mcp-Session-Id: on a stateless host the request may be in another environment, and other callers may use the same id'
          : `${matches.size} calls in flight here have that session and id`,
    });
  }
}

/**
 * The bridge, for one HTTP request: each JSON-RPC request runs with its own abort signal (the
 * HTTP request's, and a client's `notifications/cancelled` when it can be mapped).
 */
function cancellable(
  bridge: MessageHandler,
  session: string | undefined,
  inFlight: InFlight,
): MessageHandler {
  return {
    handle: async (message: unknown, ctx: CallContext) => {
      if (isNotification(message) && message.method === 'notifications/cancelled') {
        inFlight.cancel(session, message.params);
        return undefined;
      }
      // Without a session no `notifications/cancelled` can name the request: the HTTP request's
      // own signal is all it needs (an AbortController costs a call microseconds).
      if (!isRequest(message) || session === undefined) return bridge.handle(message, ctx);
      const controller = new AbortController();
      const unrelay = relayAbort(ctx.signal, controller);
      const forget = inFlight.add(session, message.id, controller);
      try {
        return await bridge.handle(message, { ...ctx, signal: controller.signal });
      } finally {
        forget();
        unrelay();
      }
    },
  };
}

/** `host:port` → its parts; an IPv6 host may come in brackets. */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(endpoint.trim());
  const port = Number(m?.[2]);
  if (!m || m[1] === '' || port > 65_535)
    throw new Error(`the endpoint must be host:port (as AWS_LAMBDA_HTTP_ENDPOINT), not "${endpoint}"`);
  return { host: m[1] ?? '', port };
}

/** What every request of one web function shares. */
interface WebState extends RequestLimits {
  env: HandlerEnvironment;
  inFlight: InFlight;
}

/** What an HTTP request is checked against before it is read (this entry's, the session entry's). */
export interface RequestLimits {
  maxBodyBytes: number;
  /** The entry is shutting down: requests get 503. */
  closing: boolean;
  /** Requests must carry this key (its SHA-256 digest) in {@link LOCAL_KEY_HEADER}: 403 otherwise. */
  localKey?: Buffer;
}

/**
 * What an HTTP entry (web, session) takes from its environment: the origins it lets in
 * (MCP_FLEET_ALLOW_ORIGIN) and, in local runs, `dev`'s key (MCP_FLEET_LOCAL_KEY), which is taken
 * out of `process.env` once read so that nothing started later inherits it.
 */
export function entryOptionsFromEnv(): Pick<EntryOptions, 'allowOrigin' | 'localKey'> {
  const allowOrigin = process.env[FUNCTION_ENV.allowOrigin];
  const localKey = process.env[FUNCTION_ENV.localKey];
  Reflect.deleteProperty(process.env, FUNCTION_ENV.localKey);
  return {
    ...(allowOrigin !== undefined && allowOrigin !== '' ? { allowOrigin } : {}),
    ...(localKey !== undefined && localKey !== '' ? { localKey } : {}),
  };
}

/** The digest {@link RequestLimits.localKey} holds of an entry's key (undefined: none asked). */
export function localKeyDigest(key: string | undefined): Buffer | undefined {
  return key === undefined || key === '' ? undefined : createHash('sha256').update(key).digest();
}

/** Whether a request's key header is the entry's key (compared in constant time, as digests). */
function carriesKey(req: IncomingMessage, digest: Buffer): boolean {
  const given = req.headers[LOCAL_KEY_HEADER];
  return typeof given === 'string' && timingSafeEqual(createHash('sha256').update(given).digest(), digest);
}

/**
 * Starts a Web Function's server: listens on `options.endpoint` at once, then starts the MCP
 * server in the background. The returned promise resolves once it listens.
 */
export async function startWebFunction(
  launch: LaunchInput,
  options: WebFunctionOptions,
): Promise<WebFunction> {
  const { host, port } = parseEndpoint(options.endpoint);
  const spec = normalizeLaunch({ ...launch, host: multiCallHost(launch) });
  const env = initEnvironment(spec, { ...options, warmup: false });
  const state: WebState = {
    env,
    inFlight: new InFlight(env.telemetry.log),
    maxBodyBytes: options.maxBodyBytes ?? LAMBDA_PAYLOAD_MAX_BYTES,
    closing: false,
    localKey: localKeyDigest(options.localKey),
  };
  const server = createServer((req, res) => {
    void serve(state, req, res);
  });
  const open = new OpenResponses(server);
  const where = await listen(server, host, port, env.telemetry.log);
  // The server starts now, behind the listener; the first calls wait for it.
  const ready = env.supervisor.warmup(Math.max(INIT_BUDGET_MS, spec.timeout * 1000));
  let closed: Promise<void> | undefined;
  return {
    ...where,
    ready,
    servers: env.supervisor,
    close: () => (closed ??= close(state, server, open)),
  };
}

/**
 * The web entry (and each session of the session entry) always takes many calls at once: its
 * host is `web-function` unless the spec says another multi-call host, so its servers are a pool.
 */
export function multiCallHost(launch: LaunchInput): NonNullable<LaunchInput['host']> {
  return launch.host !== undefined && MULTI_CALL_HOSTS.includes(launch.host) ? launch.host : 'web-function';
}

/** Listens on host:port, logs where, and answers the address and the MCP endpoint's URL. */
export async function listen(
  server: Server,
  host: string,
  port: number,
  log: RuntimeLogger,
): Promise<{ address: { host: string; port: number }; url: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  log.info('listening', { endpoint: `${address.address}:${address.port}` });
  const hostName = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    address: { host: address.address, port: address.port },
    url: `http://${hostName}:${address.port}/mcp`,
  };
}

/**
 * Within Lambda's second after SIGTERM, what is left for the requests in flight to be answered
 * once their servers are gone (each with a JSON-RPC error that says why).
 */
export const ANSWER_GRACE_MS = 500;

/**
 * Stops taking requests, kills every server process group, lets the calls that waited on them be
 * answered (an error that says the environment is shutting down), then drops every connection.
 */
async function close(state: WebState, server: Server, open: OpenResponses): Promise<void> {
  state.closing = true;
  await closeAfterAnswers(server, open, () => state.env.supervisor.kill(SHUTDOWN_REASON), ANSWER_GRACE_MS);
}

/** One HTTP request: never throws, always answers (unless the client is gone). */
async function serve(state: WebState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { env } = state;
  await served(env.telemetry, env.clock, 'web', res, async () => {
    const request = await readRequest(req, res, state);
    if (typeof request === 'number') return request;
    const session = request.headers['mcp-session-id'];
    return answerMcp(env, request, res, { inFlight: state.inFlight, session });
  });
}

/** An MCP request answered: its HTTP status, and what it asked (when its body was JSON-RPC). */
export interface Answered {
  status: number;
  served?: Served;
}

/**
 * Runs `work` — which answers the request and gives its HTTP status, or that and what the request
 * asked — as one logged invocation (`front` names the entry): a failure is answered 500 (or the
 * answer cut, once started). Never throws.
 */
export async function served(
  telemetry: Telemetry,
  clock: Clock,
  front: string,
  res: ServerResponse,
  work: () => Promise<number | Answered>,
): Promise<void> {
  const started = clock.monotonic();
  telemetry.startInvocation(undefined, front);
  let answered: Answered = { status: 500 };
  try {
    const done = await work();
    answered = typeof done === 'number' ? { status: done } : done;
  } catch (err) {
    telemetry.log.error(`${front} request failed`, { error: (err as Error).message });
    if (!res.headersSent)
      writeProblem(res, 500, ErrorCode.InternalError, `Internal error: ${(err as Error).message}`);
    else res.end();
  } finally {
    telemetry.call(httpCallRecord(answered.status, answered.served, front, clock.monotonic() - started));
    telemetry.endInvocation();
  }
}

/**
 * Checks a request's path against the MCP endpoint's and reads its body: the request, or the
 * HTTP status it was answered with here (503 while shutting down, 404 for another path, 413 for
 * a body over the limit).
 */
export async function readRequest(
  req: IncomingMessage,
  res: ServerResponse,
  limits: RequestLimits,
): Promise<HttpRequest | number> {
  if (limits.localKey !== undefined) {
    if (!carriesKey(req, limits.localKey))
      return writeProblem(
        res,
        403,
        ErrorCode.InvalidRequest,
        `Forbidden: this environment takes requests from mcp-fleet dev only (the ${LOCAL_KEY_HEADER} header is missing or wrong); call it through dev`,
      );
    // Nothing after this check sees the key (headers reach traces and the front).
    Reflect.deleteProperty(req.headers, LOCAL_KEY_HEADER);
  }
  const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (limits.closing) return writeProblem(res, 503, ErrorCode.InternalError, SHUTDOWN_REASON);
  if (!MCP_PATHS.has(pathname))
    return writeProblem(
      res,
      404,
      ErrorCode.InvalidRequest,
      `Not found: ${pathname.slice(0, 200)}; the MCP endpoint is POST /mcp`,
    );
  const body = await readBody(req, limits.maxBodyBytes);
  if (body === undefined) {
    res.setHeader('connection', 'close');
    return writeProblem(
      res,
      413,
      ErrorCode.InvalidRequest,
      `Payload too large: the request body is over ${limits.maxBodyBytes} bytes`,
    );
  }
  return { method: (req.method ?? 'GET').toUpperCase(), path: pathname, headers: headersOf(req), body };
}

/** Where one MCP request's calls belong. */
export interface McpCallScope {
  /** The calls in flight a client's `notifications/cancelled` may name. */
  inFlight: InFlight;
  /** The MCP session the request names, if any (the key of its calls in `inFlight`). */
  session: string | undefined;
  /** Headers added to the answer (the session entry's `Mcp-Session-Id`). */
  headers?: Record<string, string>;
}

/**
 * Serves one MCP request through the Streamable HTTP front and the environment's bridge: the
 * answer streamed (SSE: the call's progress and log messages as they come) or written as JSON;
 * the client going away cancels its calls. Answers the HTTP status and what the request asked.
 */
export async function answerMcp(
  env: HandlerEnvironment,
  request: HttpRequest,
  res: ServerResponse,
  scope: McpCallScope,
): Promise<Answered> {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort('the client closed the connection before the answer');
  });
  const { allowOrigin } = env.options;
  const extra = scope.headers ?? {};
  // Many requests at once: each one's trace comes with it (Lambda's X-Amzn-Trace-Id, or traceparent).
  const trace = traceOfHeaders(request.headers);
  const { served, ...response } = await httpFront(
    request,
    cancellable(env.bridge, scope.session, scope.inFlight),
    {
      deadline: deadlineFor(env),
      ...(trace !== undefined ? { trace } : {}),
      signal: controller.signal,
      stream: redactedSink(sinkOf(res, extra), env.redactor),
      ...(allowOrigin !== undefined ? { allowOrigin } : {}),
    },
  );
  const status = writeResponse(res, { ...response, headers: { ...response.headers, ...extra } }, env);
  return served === undefined ? { status } : { status, served };
}

/** The server's timeout, less the runtime's margin: our answer comes before the platform's 504. */
function deadlineFor(env: HandlerEnvironment): number {
  const ms = Math.max(MIN_CALL_BUDGET_MS, env.spec.timeout * 1000 - DEADLINE_MARGIN_MS);
  return env.clock.now() + ms;
}

/** The request's headers, lower-case names, repeated ones joined. */
function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') out[name] = value;
    else if (Array.isArray(value)) out[name] = value.join(', ');
  }
  return out;
}

/** The body as text, or undefined when it is over `max` bytes (the rest is not read). */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/** A streamed answer written to the response as it comes (SSE: progress and logging of the call). */
function sinkOf(res: ServerResponse, extra: Record<string, string>): HttpStreamSink {
  return {
    start: (statusCode, headers) => {
      if (!res.headersSent) res.writeHead(statusCode, { ...headers, ...extra });
    },
    write: (chunk) => {
      if (!res.destroyed) res.write(chunk);
    },
  };
}

function writeResponse(res: ServerResponse, response: HttpResponse, env: HandlerEnvironment): number {
  const body = env.redactor.redact(response.body);
  if (res.destroyed) return response.statusCode;
  if (response.streamed === true) {
    res.end(body);
    return response.statusCode;
  }
  res.writeHead(response.statusCode, env.redactor.redactDeep(response.headers));
  res.end(body);
  return response.statusCode;
}

/** An error answer of the endpoint itself: a JSON-RPC error with no id; answers the status. */
export function writeProblem(
  res: ServerResponse,
  statusCode: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): number {
  const body: JsonRpcResponse = failure(null, { code, message });
  res.writeHead(statusCode, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
  return statusCode;
}

/** Lambda kills the process 1 s after SIGTERM: whatever is still running then, an entry exits first. */
const EXIT_BACKSTOP_MS = 900;

/**
 * An entry's shutdown: on SIGTERM (the platform's) or SIGINT, `close` runs once, then the
 * process exits (0, or 1 when closing failed); if closing is not done within 900 ms, it exits
 * anyway (Lambda kills 1 s after SIGTERM).
 */
export function exitOnSignals(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), EXIT_BACKSTOP_MS).unref();
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
