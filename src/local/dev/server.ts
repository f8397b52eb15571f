import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventStreamCodec, type MessageHeaders } from '@smithy/core/event-streams';
import type { HttpStreamSink } from '../../protocol/http.js';
import { ErrorCode, failure } from '../../protocol/jsonrpc.js';
import { LAMBDA_PAYLOAD_MAX_BYTES } from '../../contract/function-call.js';
import { Redactor } from '../../runtime/redact.js';
import {
  functionUrlEvent,
  requestUrl,
  StreamedHttpReader,
  writeFunctionUrlResult,
} from '../lambda/function-url.js';
import type { LocalGateway } from '../gateway/gateway.js';
import { GatewayEndpoint, GATEWAY_TIMEOUT_MS } from '../gateway/endpoint.js';
import { ThrottledError, type LocalFunction } from '../lambda/function.js';
import { FunctionNotFoundError, type LocalLambda } from '../lambda/service.js';
import { AccessPolicy } from './security.js';
import { STATUS_PAGE, STATUS_PAGE_CSP } from './status-page.js';

export interface DevServerOptions {
  lambda: LocalLambda;
  gateway: LocalGateway;
  host: string;
  port: number;
  /** Static bearer token required on every route but the page (needed off loopback). */
  token?: string;
  /** More names the server may be reached by (`--allowed-host`); loopback names and IP addresses always are. */
  allowedHosts?: readonly string[];
  /** Origins whose browser pages may call the server (`--allowed-origin`), besides its own. */
  allowedOrigins?: readonly string[];
  /** Deadline of a gateway request (AgentCore's invocation timeout is 15 min). */
  gatewayTimeoutMs?: number;
  /** Secret values to keep out of /status and error messages (the dev fallbacks from the environment). */
  redactor?: Redactor;
  /** Connection limits (defaults: {@link DEV_SERVER_LIMITS}). */
  limits?: Partial<DevServerLimits>;
}

export interface DevServerLimits {
  /** Time a client has to send the request line and headers. */
  headersTimeoutMs: number;
  /** Time a client has to send the whole request, body included. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** Connections open at once; more are refused until some close. */
  maxConnections: number;
  /** Largest request body (Lambda's 6 MB payload limit). */
  maxBodyBytes: number;
}

export const DEV_SERVER_LIMITS: DevServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 65_000,
  maxConnections: 512,
  maxBodyBytes: LAMBDA_PAYLOAD_MAX_BYTES,
};

/** Headers every answer carries. */
const BASE_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/** Per-function status (the JSON of /status and the page at /). */
export function fleetStatus(lambda: LocalLambda, gateway: LocalGateway): Record<string, unknown> {
  const catalog = new Map(gateway.entries().map((e) => [e.serverId, e]));
  const functions = [...lambda.functions.values()].map((fn) => {
    const sorted = [...fn.stats.durations].sort((a, b) => a - b);
    const q = (p: number): number | null =>
      sorted.length === 0
        ? null
        : Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 100) / 100;
    const entry = catalog.get(fn.server.id);
    return {
      id: fn.server.id,
      functionName: fn.name,
      target: fn.server.gateway.target,
      state: fn.state === 'failed' || entry?.error !== undefined ? 'failed' : fn.state,
      environments: fn.environments,
      concurrencyLimit: fn.concurrencyLimit,
      calls: fn.stats.calls,
      errors: fn.stats.errors,
      throttles: fn.stats.throttles,
      timeouts: fn.stats.timeouts,
      coldStarts: fn.stats.coldStarts,
      initTimeouts: fn.stats.initTimeouts,
      outOfMemory: fn.stats.outOfMemory,
      memorySizeMb: fn.server.memory,
      maxMemoryUsedMb: fn.stats.maxMemoryUsedMb,
      p50Ms: q(0.5),
      p95Ms: q(0.95),
      lastError:
        fn.startError !== undefined
          ? { at: null, message: fn.startError }
          : (fn.stats.lastError ?? (entry?.error !== undefined ? { at: null, message: entry.error } : null)),
      tools: entry?.tools.map((t) => t.name) ?? [],
      warnings: entry?.warnings ?? [],
    };
  });
  return {
    functions,
    ...(gateway.access ? { policy: gateway.access.status() } : {}),
    ...(gateway.interceptors ? { interceptors: gateway.interceptors.status() } : {}),
  };
}

/**
 * The request body, or undefined when it is over `limit` bytes. An announced length over the limit
 * is refused without reading; a longer chunked body is read on without being kept (so the client
 * gets the 413), up to a few times the limit, after which the connection is cut.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    // Answered at once; the connection is closed after the answer (see tooLarge).
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        if (size > limit * 4) {
          req.destroy();
          resolve(undefined);
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(over ? undefined : Buffer.concat(chunks));
    });
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete)
        reject(new Error('the client closed the connection before sending the whole request'));
    });
  });
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Which protocol a route speaks, for errors in its own shape. */
type RouteKind = 'mcp' | 'invoke' | 'other';

function routeKind(pathname: string): RouteKind {
  if (pathname === '/mcp' || /^\/servers\/[^/]+\/mcp\/?$/.test(pathname)) return 'mcp';
  if (pathname.startsWith('/2015-03-31/functions') || pathname.startsWith('/2021-11-15/functions'))
    return 'invoke';
  return 'other';
}

/** An error in the route's own protocol: JSON-RPC, Lambda's REST errors, or plain JSON. */
function refuse(
  res: ServerResponse,
  kind: RouteKind,
  status: number,
  message: string,
  lambdaType: string,
  headers: Record<string, string> = {},
): void {
  if (kind === 'mcp') json(res, status, failure(null, { code: ErrorCode.InvalidRequest, message }), headers);
  else if (kind === 'invoke') lambdaError(res, status, lambdaType, message, {}, headers);
  else json(res, status, { error: message }, headers);
}

/** Lambda's error responses: `x-amzn-ErrorType` and `{Type, message}`, as the AWS SDK reads them. */
function lambdaError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  json(
    res,
    status,
    { Type: 'User', message, ...extra },
    { 'x-amzn-errortype': type, 'x-amzn-requestid': crypto.randomUUID(), ...headers },
  );
}

/**
 * The dev server: Lambda's Invoke API, the AgentCore-compatible gateway at /mcp, each server's
 * Function URL front at /servers/<id>/mcp, and the status at /status and /.
 */
export async function startDevServer(
  opts: DevServerOptions,
): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  if (!isLoopback(opts.host) && opts.token === undefined) {
    throw new Error(
      `refusing to listen on ${opts.host} without --token: anyone who can reach it could call every tool; use --token, or a loopback address`,
    );
  }
  const limits: DevServerLimits = { ...DEV_SERVER_LIMITS, ...opts.limits };
  const policy = new AccessPolicy({
    host: opts.host,
    ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}),
    ...(opts.allowedOrigins ? { allowedOrigins: opts.allowedOrigins } : {}),
    ...(opts.token !== undefined ? { token: opts.token } : {}),
  });
  const redactor = opts.redactor ?? new Redactor();
  const endpoint = new GatewayEndpoint(opts.gateway);

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const kind = routeKind(url.pathname);

    // Host and Origin first, on every route: DNS rebinding and other sites' pages stop here.
    const access = policy.check(req, url.pathname);
    if (!access.ok) {
      refuse(res, kind, 403, access.message, 'AccessDeniedException', { vary: 'Origin' });
      return;
    }
    const cors = access.kind === 'allowed-origin' ? policy.corsHeaders(access.origin) : {};
    for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);

    if (req.method === 'OPTIONS') {
      // A preflight (no token: browsers send none); the allowed origin's CORS answer.
      const headers = access.kind === 'allowed-origin' ? policy.preflightHeaders(req, access.origin) : {};
      res.writeHead(204, { allow: 'GET, POST, OPTIONS', ...headers });
      res.end();
      return;
    }

    const page = url.pathname === '/' && (req.method === 'GET' || req.method === 'HEAD');
    if (!page && !policy.tokenValid(req)) {
      refuse(
        res,
        kind,
        401,
        'Unauthorized: this dev server was started with --token; send Authorization: Bearer <token>',
        'UnauthorizedException',
        { 'www-authenticate': 'Bearer' },
      );
      return;
    }

    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/.exec(url.pathname);
    if (invoke) {
      if (req.method !== 'POST') {
        lambdaError(res, 405, 'MethodNotAllowedException', 'Invoke takes POST');
        return;
      }
      await invokeApi(req, res, safeDecode(invoke[1] ?? ''), opts.lambda, limits.maxBodyBytes, redactor);
      return;
    }
    const streaming = /^\/2021-11-15\/functions\/([^/]+)\/response-streaming-invocations\/?$/.exec(
      url.pathname,
    );
    if (streaming) {
      if (req.method !== 'POST') {
        lambdaError(res, 405, 'MethodNotAllowedException', 'InvokeWithResponseStream takes POST');
        return;
      }
      await invokeStreamApi(
        req,
        res,
        safeDecode(streaming[1] ?? ''),
        opts.lambda,
        limits.maxBodyBytes,
        redactor,
      );
      return;
    }
    if (/^\/2015-03-31\/functions\/?$/.test(url.pathname) && req.method === 'GET') {
      const region = process.env['AWS_REGION'] ?? 'us-east-1';
      json(res, 200, {
        Functions: [...opts.lambda.functions.values()].map((fn) => ({
          FunctionName: fn.name,
          FunctionArn: `arn:aws:lambda:${region}:000000000000:function:${fn.name}`,
          Runtime: 'nodejs22.x',
          Handler: 'index.handler',
          MemorySize: fn.server.memory,
          Timeout: fn.server.timeout,
          Description: fn.server.description,
          Architectures: [fn.server.aws.architecture],
          Version: '$LATEST',
        })),
      });
      return;
    }

    if (url.pathname === '/mcp') {
      const body = await readBody(req, limits.maxBodyBytes);
      if (body === undefined) {
        tooLarge(res, kind, limits.maxBodyBytes);
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      // The Origin was checked above; the front adds no CORS headers of its own here.
      delete headers['origin'];
      // Notifications (an MCP-server target's progress and log messages) are written to the
      // client's SSE answer as they arrive, then the response.
      const stream: HttpStreamSink = {
        start: (statusCode, headers) => {
          res.writeHead(statusCode, withoutCors(headers));
          res.flushHeaders();
        },
        write: (chunk) => {
          if (!res.destroyed) res.write(redactor.redact(chunk));
        },
      };
      const response = await endpoint.serve(
        { method: req.method ?? 'GET', path: url.pathname, headers, body: body.toString('utf8') },
        { deadline: Date.now() + (opts.gatewayTimeoutMs ?? GATEWAY_TIMEOUT_MS), stream },
      );
      if (response.streamed !== true) res.writeHead(response.statusCode, withoutCors(response.headers));
      res.end(redactor.redact(response.body));
      return;
    }

    const single = /^\/servers\/([^/]+)\/mcp\/?$/.exec(url.pathname);
    if (single) {
      const id = safeDecode(single[1] ?? '');
      const fn = opts.lambda.forServer(id);
      if (!fn) {
        json(
          res,
          404,
          failure(null, { code: ErrorCode.InvalidRequest, message: `no server "${clip(id)}" in this fleet` }),
        );
        return;
      }
      const body = await readBody(req, limits.maxBodyBytes);
      if (body === undefined) {
        tooLarge(res, kind, limits.maxBodyBytes);
        return;
      }
      try {
        // The Function URL in front of the function: it handled the Origin (and CORS) already.
        const event = functionUrlEvent(req, body, fn.server.id);
        delete (event['headers'] as Record<string, string>)['origin'];
        // A streaming function (RESPONSE_STREAM): its answer is written to the client as it comes.
        const decoder = new TextDecoder();
        const streamed = new StreamedHttpReader(
          (statusCode, headers) => {
            res.writeHead(statusCode, withoutCors(headers));
            res.flushHeaders();
          },
          (data) => {
            if (!res.destroyed) res.write(redactor.redact(decoder.decode(data, { stream: true })));
          },
        );
        let unreadable: string | undefined;
        const outcome = await opts.lambda.invoke(fn.name, event, {
          onChunk: (data, contentType) => {
            if (unreadable !== undefined) return;
            try {
              streamed.push(data, contentType);
            } catch (err) {
              unreadable = (err as Error).message;
            }
          },
        });
        if (streamed.started) {
          // The status went out with the first piece: a failure now ends the stream where it is.
          res.end(redactor.redact(decoder.decode()));
          return;
        }
        if (unreadable !== undefined) {
          json(res, 502, { message: 'Internal Server Error', error: redactor.redact(unreadable) });
          return;
        }
        if (outcome.functionError !== undefined) {
          // A Function URL answers a function error with 502.
          json(res, 502, { message: 'Internal Server Error', error: redactor.redactDeep(outcome.payload) });
          return;
        }
        writeFunctionUrlResult(res, redactor.redactDeep(stripCors(outcome.payload)));
      } catch (err) {
        if (err instanceof ThrottledError) json(res, 429, { message: err.message });
        else throw err;
      }
      return;
    }

    if (url.pathname === '/status') {
      json(res, 200, redactor.redactDeep(fleetStatus(opts.lambda, opts.gateway)), {
        'cache-control': 'no-store',
      });
      return;
    }
    if (page) {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': STATUS_PAGE_CSP,
        'x-frame-options': 'DENY',
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : STATUS_PAGE);
      return;
    }
    refuse(
      res,
      kind,
      404,
      `nothing at ${clip(url.pathname)}; try /mcp, /servers/<id>/mcp, /status or /2015-03-31/functions/<name>/invocations`,
      'UnknownOperationException',
    );
  };

  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often the two timeouts above are checked (Node's default is 30 s).
      connectionsCheckingInterval: Math.max(
        100,
        Math.min(1_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)),
      ),
    },
    (req, res) => {
      for (const [k, v] of Object.entries(BASE_HEADERS)) res.setHeader(k, v);
      const url = requestUrl(req.url);
      if (url === undefined) {
        json(res, 400, { error: 'Bad Request: the request target is not a path' });
        return;
      }
      route(req, res, url).catch((err: unknown) => {
        try {
          if (!res.headersSent && !res.destroyed) {
            refuse(
              res,
              routeKind(url.pathname),
              500,
              `internal error: ${redactor.redact(err instanceof Error ? err.message : String(err))}`,
              'ServiceException',
            );
          } else res.end();
        } catch {
          res.destroy();
        }
      });
    },
  );
  server.maxConnections = limits.maxConnections;
  // `Expect: 100-continue` with a body over the limit: refused before the client sends it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
      for (const [k, v] of Object.entries(BASE_HEADERS)) res.setHeader(k, v);
      tooLarge(res, routeKind(requestUrl(req.url)?.pathname ?? '/'), limits.maxBodyBytes);
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

/** 413 in the route's protocol; the connection is closed after it (the rest of the body is not read). */
function tooLarge(res: ServerResponse, kind: RouteKind, limit: number): void {
  const message =
    kind === 'invoke'
      ? `Request must be smaller than ${limit} bytes for the InvokeFunction operation`
      : `Payload Too Large: the request body is over the ${limit}-byte limit (Lambda's 6 MB payload limit)`;
  refuse(res, kind, 413, message, 'RequestTooLargeException', { connection: 'close' });
}

/** A path segment decoded, or as it is when it is not valid percent-encoding. */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function clip(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** Headers without any CORS ones (the dev server answers CORS itself, for allowed origins only). */
function withoutCors(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([k]) => !k.toLowerCase().startsWith('access-control-')),
  );
}

/** A Function URL result without CORS headers of the function's own. */
function stripCors(result: unknown): unknown {
  const r = result as { headers?: unknown } | null;
  if (r === null || typeof r !== 'object' || typeof r.headers !== 'object' || r.headers === null)
    return result;
  return { ...r, headers: withoutCors(r.headers as Record<string, string>) };
}

/**
 * What both Invoke APIs read from a request: the function (404 when there is none), the event
 * (the body, JSON) and the client context (base64 JSON). Answers a DryRun (204) and every bad
 * request itself, then returns undefined.
 */
async function invokeRequest(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  lambda: LocalLambda,
  maxBodyBytes: number,
  type: string,
): Promise<{ fn: LocalFunction; event: unknown; clientContext: unknown } | undefined> {
  let fn;
  try {
    fn = lambda.resolve(name);
  } catch (err) {
    if (err instanceof FunctionNotFoundError || err instanceof URIError) {
      const region = process.env['AWS_REGION'] ?? 'us-east-1';
      lambdaError(
        res,
        404,
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:${region}:000000000000:function:${clip(name)}`,
      );
      return undefined;
    }
    throw err;
  }
  const body = await readBody(req, maxBodyBytes);
  if (body === undefined) {
    tooLarge(res, 'invoke', maxBodyBytes);
    return undefined;
  }
  let event: unknown = {};
  if (body.length > 0) {
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch (err) {
      lambdaError(
        res,
        400,
        'InvalidRequestContentException',
        `Could not parse request body into json: ${(err as Error).message}`,
      );
      return undefined;
    }
  }
  let clientContext: unknown;
  const cc = req.headers['x-amz-client-context'];
  if (typeof cc === 'string' && cc !== '') {
    try {
      clientContext = JSON.parse(Buffer.from(cc, 'base64').toString('utf8'));
    } catch {
      lambdaError(
        res,
        400,
        'InvalidRequestContentException',
        'Client context must be a valid Base64-encoded JSON object.',
      );
      return undefined;
    }
  }
  if (type === 'DryRun') {
    res.writeHead(204, { 'x-amzn-requestid': crypto.randomUUID() });
    res.end();
    return undefined;
  }
  return { fn, event, clientContext };
}

/** Lambda's Invoke API: RequestResponse, Event and DryRun; client context; function errors. */
async function invokeApi(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  lambda: LocalLambda,
  maxBodyBytes: number,
  redactor: Redactor,
): Promise<void> {
  const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) {
    lambdaError(
      res,
      400,
      'InvalidParameterValueException',
      `Unsupported InvocationType: ${clip(type)}; use RequestResponse, Event or DryRun`,
    );
    return;
  }
  const request = await invokeRequest(req, res, name, lambda, maxBodyBytes, type);
  if (request === undefined) return;
  const { fn, event, clientContext } = request;
  const run = lambda.invoke(fn.name, event, clientContext === undefined ? {} : { clientContext });
  if (type === 'Event') {
    run.catch(() => undefined);
    res.writeHead(202, { 'x-amzn-requestid': crypto.randomUUID() });
    res.end();
    return;
  }
  try {
    const outcome = await run;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amz-executed-version': '$LATEST',
      'x-amzn-requestid': outcome.requestId,
    };
    if (outcome.functionError !== undefined) headers['x-amz-function-error'] = outcome.functionError;
    res.writeHead(200, headers);
    res.end(JSON.stringify(redactor.redactDeep(outcome.payload)));
  } catch (err) {
    if (err instanceof ThrottledError) {
      lambdaError(res, 429, 'TooManyRequestsException', 'Rate Exceeded.', {
        Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
      });
      return;
    }
    // The environment could not be initialized.
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-amz-function-error': 'Unhandled',
      'x-amz-executed-version': '$LATEST',
    });
    res.end(
      JSON.stringify({
        errorType: 'Runtime.InitError',
        errorMessage: redactor.redact((err as Error).message),
      }),
    );
  }
}

/** AWS event stream messages (application/vnd.amazon.eventstream), as the AWS SDKs read them. */
const eventStream = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

function streamEvent(type: 'PayloadChunk' | 'InvokeComplete', body: Uint8Array): Uint8Array {
  const headers: MessageHeaders = {
    ':message-type': { type: 'string', value: 'event' },
    ':event-type': { type: 'string', value: type },
    ':content-type': {
      type: 'string',
      value: type === 'PayloadChunk' ? 'application/octet-stream' : 'application/json',
    },
  };
  return eventStream.encode({ headers, body });
}

/**
 * Lambda's InvokeWithResponseStream: the function's response as PayloadChunk events while it is
 * written, then an InvokeComplete event (with ErrorCode and ErrorDetails when the function
 * failed). A function that does not stream gives its whole answer as one chunk, as Lambda does.
 */
async function invokeStreamApi(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  lambda: LocalLambda,
  maxBodyBytes: number,
  redactor: Redactor,
): Promise<void> {
  const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  if (!['RequestResponse', 'DryRun'].includes(type)) {
    lambdaError(
      res,
      400,
      'InvalidParameterValueException',
      `Unsupported InvocationType: ${clip(type)}; InvokeWithResponseStream takes RequestResponse or DryRun`,
    );
    return;
  }
  const request = await invokeRequest(req, res, name, lambda, maxBodyBytes, type);
  if (request === undefined) return;
  const { fn, event, clientContext } = request;
  const decoder = new TextDecoder();
  const start = (contentType: string): void => {
    if (res.headersSent) return;
    // The body is an event stream; Content-Type tells the function's own (ResponseStreamContentType).
    res.writeHead(200, {
      'content-type': contentType,
      'x-amz-executed-version': '$LATEST',
      'x-amzn-requestid': crypto.randomUUID(),
    });
    res.flushHeaders();
  };
  const chunk = (data: Uint8Array): void => {
    if (!res.destroyed) res.write(streamEvent('PayloadChunk', data));
  };
  let outcome;
  try {
    outcome = await lambda.invoke(fn.name, event, {
      ...(clientContext === undefined ? {} : { clientContext }),
      onChunk: (data, contentType) => {
        start(contentType);
        // Secrets are kept out of what the dev server answers (a value split across two pieces
        // is redacted as far as each piece shows it).
        chunk(Buffer.from(redactor.redact(decoder.decode(data, { stream: true }))));
      },
    });
  } catch (err) {
    if (res.headersSent) throw err;
    if (err instanceof ThrottledError) {
      lambdaError(res, 429, 'TooManyRequestsException', 'Rate Exceeded.', {
        Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
      });
      return;
    }
    lambdaError(res, 502, 'ServiceException', redactor.redact((err as Error).message));
    return;
  }
  start(outcome.streamed?.contentType ?? 'application/json');
  const rest = decoder.decode();
  if (rest !== '') chunk(Buffer.from(redactor.redact(rest)));
  const complete: Record<string, string> = {};
  if (outcome.functionError !== undefined) {
    const p = outcome.payload as { errorType?: unknown; errorMessage?: unknown } | null;
    complete['ErrorCode'] = typeof p?.errorType === 'string' ? p.errorType : outcome.functionError;
    complete['ErrorDetails'] = redactor.redact(
      typeof p?.errorMessage === 'string' ? p.errorMessage : JSON.stringify(outcome.payload),
    );
  } else if (outcome.streamed === undefined) {
    // A buffered function: its whole answer is the one chunk.
    chunk(Buffer.from(JSON.stringify(redactor.redactDeep(outcome.payload))));
  }
  res.end(streamEvent('InvokeComplete', Buffer.from(JSON.stringify(complete))));
}
