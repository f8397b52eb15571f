/**
 * The gateway's MCP endpoint (`/mcp`), one HTTP request at a time: the caller identified (inbound
 * auth, before anything else, as AgentCore authorizes first), then MCP Streamable HTTP over the
 * bridge, with the interceptors around each request. The caller — headers, raw body, identity —
 * and the deadline travel with every message in its call context; an interceptor's HTTP status
 * comes back with its answer.
 */
import { SpanKind, type Attributes } from '@opentelemetry/api';
import { answerOf, McpBridge, type CallContext, type MessageHandler } from '../../protocol/bridge.js';
import { parseTraceparent, traceOfMeta } from '../../contract/trace.js';
import type { LocalTracing } from '../lambda/tracing.js';
import {
  ErrorCode,
  failure,
  isRequest,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.js';
import {
  httpFront,
  sse,
  type HttpRequest,
  type HttpResponse,
  type HttpStreamSink,
} from '../../protocol/http.js';
import type { LocalGateway } from './gateway.js';
import { MCP_SESSION_HEADER, sessionNotFound } from '../lambda/sessions.js';
import { identify, UNAUTHORIZED } from './identity.js';
import {
  RATE_LIMIT_EXCEEDED,
  RATE_LIMIT_HTTP_STATUS,
  RATE_LIMIT_MESSAGE,
  type GatewayRateLimits,
} from './rate-limits.js';

/** AgentCore Gateway's invocation timeout: a request is answered within it. */
export const GATEWAY_TIMEOUT_MS = 15 * 60_000;

export class GatewayEndpoint {
  private readonly bridge: McpBridge;
  private readonly handler: MessageHandler;

  constructor(private readonly gateway: LocalGateway) {
    this.bridge = new McpBridge(gateway);
    const intercepted = (message: unknown, ctx: CallContext): ReturnType<MessageHandler['handle']> =>
      this.gateway.interceptors
        ? this.gateway.interceptors.handle(this.bridge, message, ctx)
        : this.bridge.handle(message, ctx);
    const admitted = (message: unknown, ctx: CallContext): ReturnType<MessageHandler['handle']> => {
      const limits = this.gateway.rateLimits;
      if (limits === undefined || !isRequest(message)) return intercepted(message, ctx);
      return limited(limits, message, ctx, intercepted);
    };
    this.handler = {
      handle: (message, ctx) => {
        const tracing = this.gateway.tracing;
        if (tracing === undefined || !isRequest(message)) return admitted(message, ctx);
        return traced(tracing, message, ctx, admitted);
      },
    };
  }

  /**
   * Serves one request. `req.headers` are the caller's (lower-case; the dev server's own token
   * header and the Origin, checked at the edge, left out). Notifications go to `stream` as they
   * come; a GET (a session's event stream) is written to it until `signal` says the client left.
   */
  async serve(
    req: HttpRequest,
    opts: { deadline: number; stream?: HttpStreamSink; signal?: AbortSignal },
  ): Promise<HttpResponse> {
    const principal = identify(req.headers, this.gateway.options.principals);
    // The authorizer comes first: a caller it does not know reaches no session, limit or tool.
    if ('error' in principal) return unauthorized(req, principal.error);
    if (req.method === 'GET') return this.openStream(req, opts);
    const caller = { headers: req.headers, rawBody: req.body, principal };
    const sessions = this.gateway.sessions;
    let opened: string | undefined;
    if (sessions !== undefined) {
      const id = req.headers[MCP_SESSION_HEADER];
      const check = sessions.check(id);
      if (check === 'unknown') return sessionNotFound(id ?? '');
      if (check === 'live' && id !== undefined && req.method === 'DELETE') {
        this.gateway.endSession(id);
        return { statusCode: 200, headers: {}, body: '' };
      }
      if (req.method === 'DELETE')
        return refusal(400, 'Bad Request: DELETE ends a session; name it (Mcp-Session-Id)');
      if (req.method !== 'POST')
        return refusal(
          405,
          `Method not allowed: ${req.method}; this endpoint takes POST, GET (a session's event stream) and DELETE (ending a session)`,
          { allow: 'GET, POST, DELETE' },
        );
      const init = check === 'none' ? initializeOf(req.body) : undefined;
      if (init !== undefined) opened = sessions.open(init.capabilities);
    }
    const withSession = (headers: Record<string, string>): Record<string, string> =>
      opened === undefined ? headers : { ...headers, [MCP_SESSION_HEADER]: opened };
    const stream = opts.stream;
    const response = await httpFront(req, this.handler, {
      deadline: opts.deadline,
      caller,
      // A caller that goes away: its queued invocations leave the queue, its MCP-server target
      // requests are closed (a Lambda invocation already running runs on).
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(stream
        ? {
            stream: {
              start: (statusCode, headers) => {
                stream.start(statusCode, withSession(headers));
              },
              write: (chunk) => {
                stream.write(chunk);
              },
            },
          }
        : {}),
    });
    return { ...response, headers: withSession(response.headers) };
  }

  /**
   * GET: the event stream of the caller's session, open until it leaves, the session ends or the
   * gateway's deadline passes (the client opens it again, as Streamable HTTP clients do).
   */
  private async openStream(
    req: HttpRequest,
    opts: { deadline: number; stream?: HttpStreamSink; signal?: AbortSignal },
  ): Promise<HttpResponse> {
    const sessions = this.gateway.sessions;
    const { stream, signal } = opts;
    if (sessions === undefined || !this.gateway.streams || stream === undefined || signal === undefined)
      return refusal(
        405,
        sessions === undefined
          ? "Method not allowed: GET opens a session's event stream, and this gateway keeps no sessions (gateway.sessionTimeout)"
          : "Method not allowed: GET opens a session's event stream, and this gateway does not stream (gateway.responseStreaming)",
        { allow: 'POST, OPTIONS' },
      );
    if (!/text\/event-stream/.test(req.headers['accept'] ?? ''))
      return refusal(
        406,
        "Not Acceptable: a GET opens the session's event stream; the client must accept text/event-stream",
      );
    const id = req.headers[MCP_SESSION_HEADER];
    const check = sessions.check(id);
    if (check === 'unknown') return sessionNotFound(id ?? '');
    if (check === 'none' || id === undefined)
      return refusal(
        400,
        "Bad Request: a GET opens a session's event stream; name the session (Mcp-Session-Id)",
      );
    if (this.gateway.listening(id))
      return refusal(409, 'Conflict: this session already has an event stream open (GET); one at a time', {
        [MCP_SESSION_HEADER]: id,
      });
    stream.start(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      [MCP_SESSION_HEADER]: id,
    });
    await this.gateway.listen(
      id,
      (m) => {
        stream.write(sse(m));
      },
      signal,
      opts.deadline,
    );
    return { statusCode: 200, headers: {}, body: '', streamed: true };
  }
}

/**
 * A caller the inbound auth does not know (`--principals` given, its bearer token missing or not
 * one of them): 401 with a `WWW-Authenticate: Bearer` challenge, as the MCP authorization spec
 * asks, and AgentCore's JSON-RPC error (-32001) for the request's id when it has one.
 */
function unauthorized(req: HttpRequest, message: string): HttpResponse {
  let id: string | number | null = null;
  try {
    const body: unknown = JSON.parse(req.body);
    const given = typeof body === 'object' && body !== null ? (body as { id?: unknown }).id : undefined;
    if (typeof given === 'string' || typeof given === 'number') id = given;
  } catch {
    // no body, or not JSON: no id to answer
  }
  return {
    statusCode: 401,
    headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' },
    body: JSON.stringify(failure(id, { code: UNAUTHORIZED, message })),
  };
}

/** A refusal of the transport's, as a JSON-RPC error without an id. */
function refusal(statusCode: number, message: string, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(failure(null, { code: ErrorCode.InvalidRequest, message })),
  };
}

/**
 * A request through the rate limits: refused with AgentCore's error when a limit is spent, else
 * served, its place in the connection counts held until it is answered.
 */
async function limited(
  limits: GatewayRateLimits,
  req: JsonRpcRequest,
  ctx: CallContext,
  next: (message: unknown, ctx: CallContext) => ReturnType<MessageHandler['handle']>,
): ReturnType<MessageHandler['handle']> {
  const name = req.method === 'tools/call' ? req.params?.['name'] : undefined;
  const who = ctx.caller?.principal;
  const admission = limits.admit({
    method: req.method,
    ...(typeof name === 'string' ? { toolName: name } : {}),
    ...(who !== undefined && 'principal' in who ? { principal: who.principal } : {}),
  });
  if ('throttled' in admission) {
    const { limitKey, metric, retryAfter } = admission.throttled;
    return {
      response: failure(req.id, {
        code: RATE_LIMIT_EXCEEDED,
        message: RATE_LIMIT_MESSAGE,
        data: { limitKey, metric, retryAfter },
      }),
      httpStatus: RATE_LIMIT_HTTP_STATUS,
    };
  }
  try {
    return await next(req, ctx);
  } finally {
    admission.release();
  }
}

/**
 * A request as a span of the gateway (the OpenTelemetry conventions for MCP): it continues the
 * caller's trace (its `traceparent` header, else the request's `_meta.traceparent`) and is the
 * parent of everything the request sets off.
 */
async function traced(
  tracing: LocalTracing,
  req: JsonRpcRequest,
  ctx: CallContext,
  next: (message: unknown, ctx: CallContext) => ReturnType<MessageHandler['handle']>,
): ReturnType<MessageHandler['handle']> {
  const tool = req.method === 'tools/call' ? req.params?.['name'] : undefined;
  const headers = ctx.caller?.headers ?? {};
  const fromHeader =
    parseTraceparent(headers['traceparent']) === undefined
      ? undefined
      : {
          traceparent: headers['traceparent'] ?? '',
          ...(headers['tracestate'] !== undefined ? { tracestate: headers['tracestate'] } : {}),
        };
  const parent = fromHeader ?? traceOfMeta(req.params);
  const who = ctx.caller?.principal;
  // Built in place, not spread together: this runs on every request.
  const attributes: Attributes = { 'mcp.method.name': req.method, 'jsonrpc.request.id': String(req.id) };
  if (typeof tool === 'string') {
    attributes['gen_ai.tool.name'] = tool;
    attributes['gen_ai.operation.name'] = 'execute_tool';
  }
  if (who !== undefined && 'principal' in who)
    attributes['enduser.id'] = who.principal.kind === 'iam' ? who.principal.arn : who.principal.id;
  const span = tracing.start(typeof tool === 'string' ? `${req.method} ${tool}` : req.method, {
    parent,
    kind: SpanKind.SERVER,
    attributes,
  });
  try {
    const answer = answerOf(await next(req, { ...ctx, trace: span.context }));
    const error = answer !== undefined && 'error' in answer.response ? answer.response.error : undefined;
    if (answer?.httpStatus !== undefined) span.set({ 'http.response.status_code': answer.httpStatus });
    if (error !== undefined) {
      span.set({ 'error.type': String(error.code), 'rpc.jsonrpc.error_code': error.code });
      const data = error.data as Record<string, unknown> | undefined;
      if (error.code === RATE_LIMIT_EXCEEDED && typeof data?.['limitKey'] === 'string')
        span.set({ 'mcp_fleet.rate_limit.key': data['limitKey'] });
    }
    // A tool's own failure (isError) fails the call too: error.type tool_error, as the conventions say.
    const failed = error === undefined && answer !== undefined ? toolError(answer.response) : undefined;
    if (failed !== undefined) span.set({ 'error.type': 'tool_error' });
    span.end(error?.message ?? failed);
    return answer;
  } catch (err) {
    span.end((err as Error).message);
    throw err;
  }
}

/** What a tool result with `isError` says (its first text, clipped), or undefined. */
function toolError(response: JsonRpcResponse): string | undefined {
  if (!('result' in response)) return undefined;
  const result = response.result as { isError?: unknown; content?: unknown } | undefined;
  if (result?.isError !== true) return undefined;
  const first = Array.isArray(result.content)
    ? (result.content as { type?: unknown; text?: unknown }[]).find((c) => c.type === 'text')
    : undefined;
  const said = typeof first?.text === 'string' ? first.text : 'the tool reported an error';
  return said.length > 300 ? `${said.slice(0, 300)}…` : said;
}

/** Whether an HTTP body is one `initialize` request (the start of a session). */
/** The body's `initialize` request, with the capabilities its client declared; else undefined. */
function initializeOf(body: string): { capabilities: Record<string, unknown> } | undefined {
  if (!body.includes('"initialize"')) return undefined;
  try {
    const m = JSON.parse(body) as { method?: unknown; params?: { capabilities?: unknown } };
    if (m.method !== 'initialize') return undefined;
    const caps = m.params?.capabilities;
    return {
      capabilities:
        typeof caps === 'object' && caps !== null && !Array.isArray(caps)
          ? (caps as Record<string, unknown>)
          : {},
    };
  } catch {
    return undefined;
  }
}
