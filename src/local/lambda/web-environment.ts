/**
 * The web-function environment (Lambda Web Functions), the second kind of
 * {@link ExecutionEnvironment}: the function's own HTTP server (the Web Function bundle, under
 * Node.js 24 where it is installed) started with `AWS_LAMBDA_HTTP_ENDPOINT`, and requests sent to
 * it over HTTP, many at once. Its life cycle, as Lambda gives it:
 *
 * - init: ready when it listens on the endpoint; not listening within the limit (Lambda's 10 s),
 *   the caller refuses it;
 * - requests: any number at once (the pool holds each environment to its concurrency); a request
 *   past the function's timeout is answered 504 with `lambda-web-error-type:
 *   Runtime.RequestTimeout`, or, once its answer has begun, cut where it is — the environment goes
 *   on serving the others;
 * - never frozen between requests;
 * - memory: held to the fixed 2 GB of a web function environment;
 * - shutdown: SIGTERM, then every process killed after 1 s.
 *
 * An invocation carries the request as a Function URL event (payload 2.0) and the answer comes back
 * as a streamed HTTP integration response (the prelude, then the body as it comes), so callers
 * read a web function as they read a streaming Function URL.
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect } from 'node:net';
import { errors, Pool, type Dispatcher } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';
import { WEB_FUNCTION_SHUTDOWN_GRACE_MS } from '../../config/limits.js';
import { onAbort } from '../../platform/abort.js';
import { EXPIRED, within, withDeadline } from '../../platform/time.js';
import type { ChunkSink, EnvironmentFactory, EnvironmentSpec, InitOutcome } from './environment.js';
import {
  FUNCTION_ENV,
  LOCAL_KEY_HEADER,
  SESSION_HOST_ENV,
  SESSION_PORT_ENV,
} from '../../contract/function-env.js';
import { PRELUDE_CONTENT_TYPE } from './function-url.js';
import { memoryGuard, type MemoryGuard } from './memory.js';
import { ProcessEnvironment } from './process-environment.js';
import { runtimeExitMessage } from './event-environment.js';
import type { InvokeMessage, InvokeReply } from './worker-protocol.js';

/**
 * A request's connection that fails with nothing answered is often the process exiting: its exit
 * is waited for this long, so that the caller gets Lambda's `Runtime.ExitError` with the status.
 */
const EXIT_NOTICE_MS = 500;
/** How often init checks whether the server listens. */
const LISTEN_POLL_MS = 20;
/** The variable Lambda gives a web function's process: where it must listen (`host:port`). */
export const HTTP_ENDPOINT_ENV = 'AWS_LAMBDA_HTTP_ENDPOINT';

/** Request headers Lambda removes before a web function sees the request. */
const STRIPPED_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'x-real-ip',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'host',
  'content-length',
  'transfer-encoding',
]);
/** Response headers Lambda removes (connection-scoped). */
const STRIPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'trailer']);

/** The part of a Function URL event a web function's request is made from. */
interface UrlEvent {
  rawPath?: string;
  rawQueryString?: string;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
  requestContext?: { http?: { method?: string; sourceIp?: string }; domainName?: string };
}

export class WebEnvironment extends ProcessEnvironment {
  /**
   * The connections to its server (keep-alive, as many as requests run at once). undici's
   * dispatcher, not `http.request`: 30–56 µs of CPU a request against 81–99 (docs/benchmarks.md).
   */
  private readonly connections: Pool;
  private listening = false;
  /** Resolves when the first process has exited. */
  private readonly exitSeen: Promise<void>;
  private markExit!: () => void;
  private stopping: Promise<void> | undefined;

  private constructor(
    opts: EnvironmentSpec,
    guard: MemoryGuard,
    private readonly port: number,
    /** Whose platform hands the requests on (Lambda adds its `lambda-web-*` headers). */
    private readonly platform: 'lambda-web' | 'agentcore-runtime',
    /** The key its entry asks of every request (FUNCTION_ENV.localKey). */
    private readonly key: string,
  ) {
    super(opts, guard, ['ignore', 'pipe', 'pipe']);
    // Our own deadline bounds a request (the function's timeout), not undici's 300 s idle timers:
    // a stream may be quiet for longer.
    this.connections = new Pool(`http://127.0.0.1:${port}`, { headersTimeout: 0, bodyTimeout: 0 });
    this.exitSeen = new Promise((resolve) => {
      this.markExit = resolve;
    });
  }

  /**
   * Creates the environment: a free port, its memory limit, then its server (init starts).
   * `endpoint` names the port to the server (Lambda's `AWS_LAMBDA_HTTP_ENDPOINT` by default).
   */
  static async create(
    opts: EnvironmentSpec,
    endpoint: (port: number) => Record<string, string> = webFunctionEndpoint,
    platform: 'lambda-web' | 'agentcore-runtime' = 'lambda-web',
  ): Promise<WebEnvironment> {
    const port = await freePort();
    const guard = await memoryGuard(opts.memoryMode, opts.name, opts.memoryMb);
    // The entry takes only our requests: IAM's part (only the gateway's role invokes) on loopback.
    const key = randomBytes(32).toString('base64url');
    const launch = {
      ...opts.launch,
      env: { ...opts.launch.env, ...endpoint(port), [FUNCTION_ENV.localKey]: key },
    };
    const env = new WebEnvironment({ ...opts, launch }, guard, port, platform, key);
    await env.adopt();
    return env;
  }

  /** Where its server listens. */
  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  protected onExit(): void {
    this.markExit();
    // The requests still running end with the connections the process closed: an answer it wrote
    // before it exited is read to its end (an entry answers its calls before it exits on SIGTERM);
    // one cut short fails, and gets the runtime's exit as its error (forward).
    this.connections.close().catch(() => undefined);
  }

  /** Ready once the server accepts a connection on its endpoint; at most `limitMs` after it started. */
  async awaitInit(limitMs: number): Promise<InitOutcome> {
    const { clock } = this.opts;
    const elapsed = (): number => clock.monotonic() - this.started;
    const polling = { on: true };
    const listening = this.waitListening(polling);
    const m = await within(listening, Math.max(1, limitMs - elapsed()), { clock });
    polling.on = false;
    if (m === EXPIRED) return { status: 'timeout', durationMs: Math.max(limitMs, elapsed()) };
    if (m === 'exit') {
      const { code, signal } = this.exitInfo ?? { code: null, signal: null };
      return {
        status: 'error',
        durationMs: elapsed(),
        errorType: this.killedBecause === 'out-of-memory' ? 'Runtime.OutOfMemory' : 'Runtime.ExitError',
        errorMessage: runtimeExitMessage(code, signal),
      };
    }
    this.listening = true;
    return { status: 'success', durationMs: elapsed() };
  }

  /** Polls the endpoint until it accepts a connection, the process exits, or `polling.on` is cleared. */
  private async waitListening(polling: { on: boolean }): Promise<'listening' | 'exit'> {
    while (polling.on) {
      if (this.exited) return 'exit';
      if (await accepts(this.port)) return 'listening';
      await sleep(LISTEN_POLL_MS);
    }
    return 'exit';
  }

  /**
   * One request, answered as a streamed HTTP integration response; cut at the call's deadline, or
   * when `gone` aborts: the caller closed its connection, and the endpoint in front (a Web
   * Function's, a Runtime's) closes the request it proxies.
   */
  invoke(msg: InvokeMessage, onChunk?: ChunkSink, gone?: AbortSignal): Promise<InvokeReply> {
    if (this.exited || !this.listening) return Promise.resolve(this.platformError(msg.requestId));
    return this.forward(msg, onChunk ?? (() => undefined), gone);
  }

  private async forward(msg: InvokeMessage, onChunk: ChunkSink, gone?: AbortSignal): Promise<InvokeReply> {
    const problem = eventProblem(msg.event);
    if (problem !== undefined)
      return this.platformError(msg.requestId, `the event is not a valid HTTP request: ${problem}`);
    const event = (msg.event ?? {}) as UrlEvent;
    const body =
      event.body === undefined
        ? Buffer.alloc(0)
        : Buffer.from(event.body, event.isBase64Encoded === true ? 'base64' : 'utf8');
    const call = new ForwardedRequest(onChunk);
    this.connections.dispatch(
      {
        method: event.requestContext?.http?.method ?? 'POST',
        path: `${event.rawPath ?? '/'}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`,
        headers: {
          ...requestHeaders(event, msg.requestId, body.length, msg.traceId, this.platform === 'lambda-web'),
          [LOCAL_KEY_HEADER]: this.key,
        },
        body,
      },
      call,
    );
    const forget = onAbort(gone, () => {
      call.cut(new Error('the caller went away'));
    });
    const outcome = await withDeadline(call.answered, msg.deadline, { clock: this.opts.clock });
    forget();
    const result: InvokeReply = {
      type: 'result',
      requestId: msg.requestId,
      payload: null,
      stream: { contentType: PRELUDE_CONTENT_TYPE },
    };
    if (outcome === 'done' || gone?.aborted === true) return result;
    call.cut(new Error('the request ran past its timeout'));
    if (outcome === EXPIRED) {
      // Lambda answers 504 when nothing was sent yet; a stream already begun is cut where it is.
      if (!call.began) onChunk(timeoutAnswer(this.platform), PRELUDE_CONTENT_TYPE);
      return result;
    }
    if (call.began) return result;
    // An event that makes no valid HTTP request (its method, path or a header) never left here.
    if (outcome instanceof errors.InvalidArgumentError)
      return this.platformError(msg.requestId, `the event is not a valid HTTP request: ${outcome.message}`);
    // The connection went first, the process's exit (if that is why) comes a moment later.
    if (!this.exited) await within(this.exitSeen, EXIT_NOTICE_MS, { clock: this.opts.clock });
    return this.platformError(msg.requestId, outcome.message);
  }

  private platformError(requestId: string, why?: string): InvokeReply {
    const { code, signal } = this.exitInfo ?? { code: null, signal: 'SIGKILL' as const };
    return {
      type: 'error',
      requestId,
      errorType: this.killedBecause === 'out-of-memory' ? 'Runtime.OutOfMemory' : 'Runtime.ExitError',
      errorMessage: `RequestId: ${requestId} Error: ${this.exited || why === undefined ? runtimeExitMessage(code, signal) : why}`,
    };
  }

  /** A web function is never frozen. */
  freeze(): Promise<void> {
    return Promise.resolve();
  }

  thaw(): Promise<void> {
    return Promise.resolve();
  }

  /** Lambda's shutdown: SIGTERM, then every process killed after 1 s. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    if (this.exited) return this.done;
    this.state = 'stopped';
    this.killedBecause ??= 'reclaimed';
    this.opts.onShutdown?.started();
    try {
      process.kill(this.child.pid ?? 0, 'SIGTERM');
    } catch {
      // gone already
    }
    const graceful =
      (await within(this.done, WEB_FUNCTION_SHUTDOWN_GRACE_MS, { clock: this.opts.clock })) !== EXPIRED;
    if (!graceful) await this.kill('reclaimed');
    await this.gone();
    this.opts.onShutdown?.ended(graceful ? 'success' : 'timeout');
  }
}

/**
 * One request to a web function's server, as undici's dispatcher drives it: the answer handed on
 * as a streamed HTTP integration response (the prelude, then the body as it comes); `answered`
 * settles once, when the answer has ended or failed.
 */
class ForwardedRequest implements Dispatcher.DispatchHandler {
  began = false;
  readonly answered: Promise<'done' | Error>;
  private settle!: (outcome: 'done' | Error) => void;
  private controller: Dispatcher.DispatchController | undefined;
  private cutBy: Error | undefined;

  constructor(private readonly onChunk: ChunkSink) {
    this.answered = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  /** Ends the request where it is (the caller left, or the deadline passed). */
  cut(why: Error): void {
    this.cutBy ??= why;
    this.controller?.abort(why);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.cutBy !== undefined) controller.abort(this.cutBy);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    // 1xx answers are Lambda's business, not the caller's: only the final status goes on.
    if (statusCode < 200) return;
    this.began = true;
    this.onChunk(prelude(statusCode, headers), PRELUDE_CONTENT_TYPE);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.onChunk(chunk, PRELUDE_CONTENT_TYPE);
  }

  onResponseEnd(): void {
    this.settle('done');
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.settle(error);
  }
}

/** What makes an invocation's event no Function URL request (payload 2.0), if anything. */
function eventProblem(event: unknown): string | undefined {
  if (event === undefined || event === null) return undefined;
  if (typeof event !== 'object' || Array.isArray(event)) return 'it is not an object';
  const { body, headers, rawPath, rawQueryString, requestContext } = event as Record<string, unknown>;
  for (const [name, value] of Object.entries({ body, rawPath, rawQueryString }))
    if (value !== undefined && typeof value !== 'string') return `${name} is not a string`;
  if (headers !== undefined) {
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers))
      return 'headers is not an object';
    for (const [name, value] of Object.entries(headers))
      if (typeof value !== 'string') return `the value of header "${name.slice(0, 100)}" is not a string`;
  }
  const method = (requestContext as UrlEvent['requestContext'])?.http?.method;
  if (method !== undefined && typeof method !== 'string') return 'requestContext.http.method is not a string';
  return undefined;
}

/**
 * The request's headers as Lambda hands them to a web function (`lambdaWeb`: with its
 * `lambda-web-*` headers; AgentCore Runtime adds none of those).
 */
function requestHeaders(
  event: UrlEvent,
  requestId: string,
  length: number,
  traceId: string | undefined,
  lambdaWeb: boolean,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const given = Object.entries(event.headers ?? {});
  // The headers `Connection` names are connection-scoped too (whatever case it comes in).
  const connection = given.find(([name]) => name.toLowerCase() === 'connection')?.[1] ?? '';
  const named = new Set(connection.split(',').map((h) => h.trim().toLowerCase()));
  for (const [name, value] of given) {
    const lower = name.toLowerCase();
    if (STRIPPED_REQUEST_HEADERS.has(lower) || named.has(lower) || lower.startsWith('lambda-web-')) continue;
    headers[lower] = value;
  }
  const ip = event.requestContext?.http?.sourceIp ?? '127.0.0.1';
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${ip}` : ip;
  if (lambdaWeb) {
    headers['lambda-web-request-id'] = requestId;
    headers['lambda-web-endpoint-name'] = 'prod';
  }
  headers['content-length'] = String(length);
  // The invocation's trace, as AWS hands it on over HTTP.
  if (traceId !== undefined) headers['x-amzn-trace-id'] = traceId;
  return headers;
}

/** An HTTP integration prelude: status and headers as JSON, then eight NUL bytes. */
export function prelude(statusCode: number, raw: Record<string, string | string[] | undefined>): Buffer {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined || STRIPPED_RESPONSE_HEADERS.has(name)) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return Buffer.concat([Buffer.from(JSON.stringify({ statusCode, headers })), Buffer.alloc(8)]);
}

/**
 * The answer to a request that ran past the timeout before anything was sent: Lambda's (504 with
 * `lambda-web-error-type: Runtime.RequestTimeout`); an AgentCore Runtime's is not documented, so a
 * plain 504 without Lambda's header stands in for it (docs/hosts.md).
 */
function timeoutAnswer(platform: 'lambda-web' | 'agentcore-runtime'): Buffer {
  return Buffer.concat([
    prelude(504, {
      'content-type': 'application/json',
      ...(platform === 'lambda-web' ? { 'lambda-web-error-type': 'Runtime.RequestTimeout' } : {}),
    }),
    Buffer.from(JSON.stringify({ message: 'Request timed out' })),
  ]);
}

/** A port nobody listens on now (the environment's server takes it next). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Whether something accepts connections on the port now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Where a web function listens: Lambda's variable. */
function webFunctionEndpoint(port: number): Record<string, string> {
  return { [HTTP_ENDPOINT_ENV]: `127.0.0.1:${port}` };
}

/** The {@link EnvironmentFactory} of web functions. */
export const startWebEnvironment: EnvironmentFactory = (spec) => WebEnvironment.create(spec);

/**
 * The {@link EnvironmentFactory} of AgentCore Runtime sessions: the session entry, an HTTP server
 * like a web function's, on the port its variables name (8000 on AWS), for one session.
 */
export const startSessionEnvironment: EnvironmentFactory = (spec) =>
  WebEnvironment.create(
    spec,
    (port) => ({
      [SESSION_PORT_ENV]: String(port),
      [SESSION_HOST_ENV]: '127.0.0.1',
    }),
    'agentcore-runtime',
  );
