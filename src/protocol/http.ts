import type { TraceContext } from '../contract/trace.js';
import {
  answerOf,
  isModernRequest,
  META,
  STATELESS_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  type CallContext,
  type Caller,
  type MessageHandler,
} from './bridge.js';
import {
  ErrorCode,
  failure,
  isNotification,
  isRequest,
  isResponse,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.js';
import {
  LAMBDA_STREAM_MAX_BYTES,
  overResponseLimit,
  payloadTooLargeMessage,
} from '../contract/function-call.js';

/** Lambda's limit on a streamed response (src/contract/function-call.ts). */
export { LAMBDA_STREAM_MAX_BYTES };

/** An HTTP request, whichever event shape it came in (API Gateway v1 / v2, Function URL). */
export interface HttpRequest {
  method: string;
  path: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  /**
   * With a {@link HttpStreamSink}: the status and headers were sent, and the notifications so
   * far written; `body` is what is left to write (the responses, as SSE events).
   */
  streamed?: boolean;
  /** What the request asked, once its body was read as JSON-RPC (for the call's log and metrics). */
  served?: Served;
}

/**
 * What one request asked, as a call's record names it: its (first) message's method, the tool of
 * a `tools/call`, and the first error its answers carry.
 */
export interface Served {
  method: string;
  /** The tool of a `tools/call`; empty for any other method. */
  tool: string;
  error?: string;
}

/**
 * The record of a request's messages and, once dispatched, its answers (the first of each): read
 * loosely, as the JSON-RPC front's event is not checked before (a first message without a method
 * is `response` when it is one, else `unknown`).
 */
export function servedOf(messages: readonly unknown[], responses: readonly JsonRpcResponse[] = []): Served {
  const first = messages[0] as { method?: unknown; params?: { name?: unknown } } | null | undefined;
  const method =
    typeof first?.method === 'string' ? first.method : isResponse(first) ? 'response' : 'unknown';
  const name = method === 'tools/call' ? first?.params?.name : undefined;
  const failed = responses.find((r) => 'error' in r);
  return {
    method,
    tool: typeof name === 'string' ? name : '',
    ...(failed !== undefined && 'error' in failed ? { error: failed.error.message } : {}),
  };
}

/**
 * Where a streamed answer goes (a Lambda response stream in RESPONSE_STREAM mode): the status
 * and headers once, then the body in pieces, as they come.
 */
export interface HttpStreamSink {
  start(statusCode: number, headers: Record<string, string>): void;
  write(chunk: string): void;
}

export type HttpEventKind = 'apigw-v1' | 'apigw-v2' | 'function-url';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Which HTTP event an event is, if any. */
export function httpEventKind(event: unknown): HttpEventKind | undefined {
  if (!isObject(event) || !isObject(event['requestContext'])) return undefined;
  const rc = event['requestContext'];
  if (typeof event['httpMethod'] === 'string') return 'apigw-v1';
  if (isObject(rc['http']) && typeof rc['http']['method'] === 'string') {
    const domain = typeof rc['domainName'] === 'string' ? rc['domainName'] : '';
    return domain.includes('.lambda-url.') || rc['apiId'] === undefined ? 'function-url' : 'apigw-v2';
  }
  return undefined;
}

/** The event as a plain HTTP request (headers lower-cased, base64 bodies decoded). */
export function toHttpRequest(event: Record<string, unknown>, kind: HttpEventKind): HttpRequest {
  const headers: Record<string, string> = {};
  const add = (source: unknown): void => {
    if (!isObject(source)) return;
    for (const [k, v] of Object.entries(source)) {
      if (typeof v === 'string') headers[k.toLowerCase()] = v;
      else if (Array.isArray(v)) headers[k.toLowerCase()] = v.map(String).join(', ');
    }
  };
  add(event['multiValueHeaders']);
  add(event['headers']);
  const rc = event['requestContext'] as Record<string, unknown>;
  const method =
    kind === 'apigw-v1'
      ? String(event['httpMethod'])
      : String((rc['http'] as Record<string, unknown>)['method']);
  const path =
    typeof event['rawPath'] === 'string'
      ? event['rawPath']
      : typeof event['path'] === 'string'
        ? event['path']
        : '/';
  let body = typeof event['body'] === 'string' ? event['body'] : '';
  if (event['isBase64Encoded'] === true) body = Buffer.from(body, 'base64').toString('utf8');
  return { method: method.toUpperCase(), path, headers, body };
}

export interface HttpFrontOptions {
  deadline: number;
  /**
   * The origins whose browser pages may call this front: one origin, a comma-separated list, or
   * `*` (any). Default: none — no CORS headers, and a request carrying an `Origin` gets 403, as
   * the MCP specification asks of Streamable HTTP servers (DNS rebinding).
   */
  allowOrigin?: string;
  /**
   * Stream the answer: a request whose client accepts event streams gets its notifications
   * written as SSE events when the server sends them, before its response (Function URLs in
   * RESPONSE_STREAM mode). Without it, the notifications are sent with the response, at the end.
   */
  stream?: HttpStreamSink;
  /** The caller (headers, raw body, identity), handed to the handler with every message. */
  caller?: Caller;
  /** Fires when the client goes away before its answer (handed to the handler with every message). */
  signal?: AbortSignal;
  /** The trace the request belongs to (handed to the handler with every message). */
  trace?: TraceContext;
}

const CORS_HEADERS =
  'content-type, accept, authorization, mcp-protocol-version, mcp-session-id, last-event-id, mcp-method, mcp-name';

/** An origin as browsers send it: lower-case scheme and host, no default port, no path. */
export function normalizeOrigin(origin: string): string {
  const trimmed = origin.trim().replace(/\/+$/, '');
  try {
    const url = new URL(trimmed);
    return url.origin === 'null' ? trimmed.toLowerCase() : url.origin;
  } catch {
    return trimmed.toLowerCase();
  }
}

/** The CORS answer for a request's `Origin`: the headers to add, or why it is refused. */
export function corsFor(
  origin: string | undefined,
  allowOrigin: string | undefined,
): { headers: Record<string, string> } | { refused: string } {
  if (origin === undefined) return { headers: {} };
  const allowed = (allowOrigin ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  const common = {
    'access-control-allow-methods': 'POST, OPTIONS',
    'access-control-allow-headers': CORS_HEADERS,
    'access-control-expose-headers': 'mcp-session-id, mcp-protocol-version',
    'access-control-max-age': '600',
  };
  if (allowed.includes('*')) return { headers: { 'access-control-allow-origin': '*', ...common } };
  const normalized = normalizeOrigin(origin);
  if (allowed.map(normalizeOrigin).includes(normalized))
    return { headers: { 'access-control-allow-origin': normalized, vary: 'Origin', ...common } };
  return {
    refused: `Forbidden: requests from origin ${origin.slice(0, 200)} are not allowed${allowed.length === 0 ? ' (no origin is: set allowOrigin, MCP_FLEET_ALLOW_ORIGIN for a deployed function, to let browser pages call it)' : ` (allowed: ${allowed.join(', ')})`}`,
  };
}

/** How one request's answers are written: its CORS headers on every one. */
interface Replies {
  reply: (statusCode: number, body: unknown, headers?: Record<string, string>) => HttpResponse;
  problem: (
    statusCode: number,
    code: number,
    message: string,
    headers?: Record<string, string>,
  ) => HttpResponse;
  /** The headers of an SSE answer. */
  sseHeaders: Record<string, string>;
}

function replies(cors: Record<string, string>): Replies {
  const reply: Replies['reply'] = (statusCode, body, headers = {}) => ({
    statusCode,
    headers: { ...cors, ...(body === '' ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === '' ? '' : JSON.stringify(body),
  });
  return {
    reply,
    problem: (statusCode, code, message, headers = {}) =>
      reply(statusCode, failure(null, { code, message }), headers),
    sseHeaders: {
      ...cors,
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    },
  };
}

/** A POST the transport's checks let through: its JSON-RPC messages, ready to dispatch. */
interface ValidPost {
  messages: unknown[];
  /** The body was a batch (an array): the answer is one too. */
  batch: boolean;
  /** Protocol revision 2026-07-28 (stateless): HTTP statuses follow the errors. */
  modern: boolean;
  acceptsSse: boolean;
}

/** What the bridge answered. */
interface Dispatched {
  responses: JsonRpcResponse[];
  /** Notifications kept for the answer (not streamed). */
  notifications: JsonRpcNotification[];
  /** The status, headers and notifications were already written to the stream sink. */
  streamed: boolean;
  /** The HTTP status a handler's answer asked for (the last one that did). */
  httpStatus?: number;
}

/** One JSON-RPC message as a Streamable HTTP server-sent event. */
export const sse = (m: unknown): string => `event: message\ndata: ${JSON.stringify(m)}\n\n`;

/**
 * MCP Streamable HTTP, stateless: POST of one JSON-RPC message or a batch; JSON answers (or an
 * SSE body when the server sent notifications and the client accepts event streams); the
 * status codes the transport specifies for wrong methods, headers and bodies; CORS.
 * Three steps: {@link validate}, {@link dispatch}, {@link encode}.
 */
export async function httpFront(
  req: HttpRequest,
  bridge: MessageHandler,
  opts: HttpFrontOptions,
): Promise<HttpResponse> {
  const access = corsFor(req.headers['origin'], opts.allowOrigin);
  const out = replies('headers' in access ? access.headers : {});
  if ('refused' in access)
    return out.problem(403, ErrorCode.InvalidRequest, access.refused, { vary: 'Origin' });
  if (req.method === 'OPTIONS') return out.reply(204, '', { allow: 'POST, OPTIONS' });
  const post = validate(req, out);
  if (!('messages' in post)) return post;
  if (!post.messages.some(isRequest)) {
    // Notifications and responses only: accepted, nothing to answer.
    await Promise.all(post.messages.map((m) => bridge.handle(m, contextOf(opts))));
    return { ...out.reply(202, ''), served: servedOf(post.messages) };
  }
  const done = await dispatch(post, bridge, opts, out.sseHeaders);
  const answer = { ...encode(post, done, out), served: servedOf(post.messages, done.responses) };
  // A layer in front of the bridge (a gateway interceptor) may give the HTTP status, as on AgentCore.
  if (!done.streamed && answer.statusCode === 200 && done.httpStatus !== undefined)
    return { ...answer, statusCode: done.httpStatus };
  return answer;
}

/** The context each message is handled with (the front's deadline and caller). */
function contextOf(
  opts: HttpFrontOptions,
  onNotification?: (n: JsonRpcNotification) => void,
  onRequest?: (r: JsonRpcRequest) => void,
): CallContext {
  return {
    deadline: opts.deadline,
    ...(opts.caller ? { caller: opts.caller } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.trace ? { trace: opts.trace } : {}),
    ...(onNotification ? { onNotification } : {}),
    ...(onRequest ? { onRequest } : {}),
  };
}

/**
 * The transport's checks of a request: method, Accept, Content-Type, the protocol version
 * header, the body (JSON, JSON-RPC messages, no 2026-07-28 request in a batch) and, for a
 * 2026-07-28 request, its headers against its body. Answers the messages or the error response.
 */
function validate(req: HttpRequest, out: Replies): ValidPost | HttpResponse {
  const checked = checkHeaders(req, out);
  if (!('acceptsSse' in checked)) return checked;
  const { reply, problem } = out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body);
  } catch (err) {
    return problem(400, ErrorCode.ParseError, `Parse error: ${(err as Error).message}`);
  }
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  if (messages.length === 0) return problem(400, ErrorCode.InvalidRequest, 'Invalid Request: empty batch');
  for (const m of messages) {
    if (!isRequest(m) && !isNotification(m) && !isResponse(m)) {
      return problem(400, ErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message');
    }
  }
  const batch = Array.isArray(parsed);
  const modern =
    messages.some((m) => isRequest(m) && isModernRequest(m)) ||
    checked.version === STATELESS_PROTOCOL_VERSION;
  if (modern && batch) {
    return problem(
      400,
      ErrorCode.InvalidRequest,
      `Bad Request: JSON-RPC batches may not contain requests for protocol revision ${STATELESS_PROTOCOL_VERSION}`,
    );
  }
  // Not a batch: the one message. Notifications and responses need no headers checked.
  const first: unknown = messages[0];
  if (modern && isRequest(first)) {
    const mismatch = headerMismatch(req, first);
    if (mismatch !== undefined)
      return reply(400, failure(first.id, { code: ErrorCode.HeaderMismatch, message: mismatch }));
  }
  return { messages, batch, modern, acceptsSse: checked.acceptsSse };
}

/** Method, Accept, Content-Type and MCP-Protocol-Version, before the body is read. */
function checkHeaders(
  req: HttpRequest,
  out: Replies,
): { acceptsSse: boolean; version: string | undefined } | HttpResponse {
  const { reply, problem } = out;
  if (req.method !== 'POST') {
    return problem(
      405,
      ErrorCode.InvalidRequest,
      `Method not allowed: ${req.method}; this endpoint is stateless and takes POST`,
      { allow: 'POST, OPTIONS' },
    );
  }
  const accept = req.headers['accept'] ?? '';
  const acceptsJson = accept === '' || /application\/json|\*\/\*|application\/\*/.test(accept);
  const acceptsSse = /text\/event-stream/.test(accept);
  if (!acceptsJson && !acceptsSse) {
    return problem(
      406,
      ErrorCode.InvalidRequest,
      'Not Acceptable: the client must accept application/json or text/event-stream',
    );
  }
  const contentType = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(contentType)) {
    return problem(
      415,
      ErrorCode.InvalidRequest,
      'Unsupported Media Type: the body must be application/json',
    );
  }
  const version = req.headers['mcp-protocol-version'];
  if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    return reply(
      400,
      failure(null, {
        code: ErrorCode.UnsupportedProtocolVersion,
        message: `Unsupported protocol version: ${version} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
        data: { supported: [...SUPPORTED_PROTOCOL_VERSIONS], requested: version },
      }),
    );
  }
  return { acceptsSse, version };
}

/**
 * Hands each message to the bridge. A client that accepts event streams gets the server's
 * notifications: written to the stream sink as they come (the first one fixes the answer as a
 * 200 event stream), or kept for the answer.
 */
async function dispatch(
  post: ValidPost,
  bridge: MessageHandler,
  opts: HttpFrontOptions,
  sseHeaders: Record<string, string>,
): Promise<Dispatched> {
  const notifications: JsonRpcNotification[] = [];
  const sink = opts.stream;
  const state = { streamed: false };
  const streamOut = (m: JsonRpcNotification | JsonRpcRequest): void => {
    if (sink === undefined) return;
    if (!state.streamed) sink.start(200, sseHeaders);
    state.streamed = true;
    sink.write(sse(m));
  };
  const onNotification = post.acceptsSse
    ? (n: JsonRpcNotification) => {
        if (sink === undefined) notifications.push(n);
        else streamOut(n);
      }
    : undefined;
  // A server's question goes out at once on the stream (the client answers it before the call can
  // end); without a stream it cannot reach the client in time.
  const onRequest = post.acceptsSse && sink !== undefined ? streamOut : undefined;
  const answers = (
    await Promise.all(
      post.messages.map(async (m) =>
        answerOf(await bridge.handle(m, contextOf(opts, onNotification, onRequest))),
      ),
    )
  ).filter((a) => a !== undefined);
  const httpStatus = answers.findLast((a) => a.httpStatus !== undefined)?.httpStatus;
  return {
    responses: answers.map((a) => a.response),
    notifications,
    streamed: state.streamed,
    ...(httpStatus !== undefined ? { httpStatus } : {}),
  };
}

/**
 * The HTTP answer: the rest of a streamed answer (the responses as events, within the 20 MB of
 * a streamed Lambda response), an SSE body when notifications were kept, else JSON with the
 * status the protocol revision gives; bodies over 6 MB become errors.
 */
function encode(post: ValidPost, done: Dispatched, out: Replies): HttpResponse {
  const { responses, notifications } = done;
  if (done.streamed) {
    const body = responses.map(sse).join('');
    const size = Buffer.byteLength(body);
    const fits = size <= LAMBDA_STREAM_MAX_BYTES;
    const rest = fits
      ? body
      : responses
          .map((r) =>
            sse(
              failure(r.id, {
                code: ErrorCode.InternalError,
                message: `the response is ${size} bytes, over the ${LAMBDA_STREAM_MAX_BYTES}-byte limit of a streamed Lambda response`,
                data: { reason: 'response_too_large', bytes: size },
              }),
            ),
          )
          .join('');
    return { statusCode: 200, headers: out.sseHeaders, body: rest, streamed: true };
  }
  const payload: unknown = post.batch ? responses : responses[0];
  const status = post.modern && responses[0] ? modernStatus(responses[0]) : 200;
  if (notifications.length > 0 && status === 200) {
    const events = [...notifications, ...responses].map(sse).join('');
    return fitted({ statusCode: 200, headers: out.sseHeaders, body: events }, responses, out.reply);
  }
  return fitted(out.reply(status, payload), responses, out.reply);
}

/** 2026-07-28: errors found before dispatch have fixed HTTP statuses; handler errors travel in-band. */
function modernStatus(response: JsonRpcResponse): number {
  if (!('error' in response)) return 200;
  const { code, data } = response.error;
  if (code === ErrorCode.MethodNotFound) return 404;
  if (
    code === ErrorCode.UnsupportedProtocolVersion ||
    code === ErrorCode.HeaderMismatch ||
    code === ErrorCode.MissingRequiredClientCapability
  )
    return 400;
  if (code === ErrorCode.InvalidParams && typeof data === 'object' && data !== null && 'envelope' in data)
    return 400;
  return 200;
}

/** `=?base64?...?=` values carry non-ASCII names. */
function decodeHeader(value: string): string {
  const m = /^=\?base64\?(.*)\?=$/.exec(value);
  return m ? Buffer.from(m[1] ?? '', 'base64').toString('utf8') : value;
}

/** The standard headers of a 2026-07-28 POST must match its body. */
function headerMismatch(req: HttpRequest, message: JsonRpcRequest): string | undefined {
  const meta = message.params?.['_meta'] as Record<string, unknown> | undefined;
  const version = meta?.[META.protocolVersion];
  const checks: [string, unknown][] = [
    ['MCP-Protocol-Version', version],
    ['Mcp-Method', message.method],
  ];
  if (message.method === 'tools/call' || message.method === 'prompts/get')
    checks.push(['Mcp-Name', message.params?.['name']]);
  if (message.method === 'resources/read') checks.push(['Mcp-Name', message.params?.['uri']]);
  for (const [name, expected] of checks) {
    if (typeof expected !== 'string') continue;
    const got = req.headers[name.toLowerCase()];
    if (got === undefined)
      return `Header mismatch: ${name} header is required for protocol revision ${STATELESS_PROTOCOL_VERSION}`;
    if (decodeHeader(got) !== expected)
      return `Header mismatch: ${name} header value '${got}' does not match body value '${expected}'`;
  }
  return undefined;
}

/** A body over Lambda's 6 MB response limit becomes a JSON-RPC error per request, not a platform failure. */
function fitted(
  response: HttpResponse,
  responses: JsonRpcResponse[],
  reply: (statusCode: number, body: unknown) => HttpResponse,
): HttpResponse {
  const size = overResponseLimit(response);
  if (size === undefined) return response;
  const message = payloadTooLargeMessage('response', size);
  const errors = responses.map((r) =>
    failure(r.id, {
      code: ErrorCode.InternalError,
      message,
      data: { reason: 'response_too_large', bytes: size },
    }),
  );
  return reply(200, errors.length === 1 ? errors[0] : errors);
}
