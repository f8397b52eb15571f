import { randomUUID } from 'node:crypto';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { gatewayToolName, splitGatewayToolName } from '../../config/tool-names.js';
import type { ServerConfig } from '../../config/model.js';
import type { Clock } from '../../platform/time.js';
import { askableCapabilities, undeclaredFeature, type CallContext } from '../../protocol/bridge.js';
import {
  ErrorCode,
  failure,
  isNotification,
  isRequest,
  isResponse,
  success,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.js';
import type { InvokeOptions, InvokeOutcome, LocalFunction } from '../lambda/function.js';
import { StreamedHttpReader } from '../lambda/function-url.js';
import type { LocalLambda } from '../lambda/service.js';
import { MCP_SESSION_HEADER } from '../lambda/sessions.js';
import { SessionStreams, type TargetStreamHost } from './session-streams.js';
import type { GatewaySessions } from './sessions.js';
import { invokeTarget } from './target-call.js';

/*
 * What AgentCore Gateway does with an MCP-server target, on one machine: it speaks MCP
 * (Streamable HTTP) to the function's Function URL — here, a Function URL event sent through the
 * local Lambda service, as /servers/<id>/mcp does — and aggregates what the servers give:
 * tools and prompts under `<target>___<name>`, resources and resource templates under their own
 * URIs (a collision goes to the target with the lowest resourcePriority, then the first in the
 * fleet), and the notifications a call produces passed on to the caller as they come: the
 * function streams its answer (RESPONSE_STREAM), and each SSE event is read as it arrives.
 */

/** The protocol version the gateway speaks to its MCP-server targets (2025 era, stateless fronts). */
export const TARGET_PROTOCOL_VERSION = '2025-11-25';

/** The methods the gateway serves from MCP-server targets only (a Lambda target carries tools only). */
export const MCP_TARGET_METHODS = new Set([
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/read',
  'resources/templates/list',
]);

/** A failure to reach a target or to read its answer (not a JSON-RPC error the server gave). */
export class TargetError extends Error {}

export function isMcpTarget(server: ServerConfig): boolean {
  return server.gateway.targetType === 'mcp';
}

/** The JSON-RPC messages of a Streamable HTTP answer: a JSON body (one or a batch) or an SSE stream. */
export function messagesOf(contentType: string, body: string): unknown[] {
  if (body.trim() === '') return [];
  if (/^text\/event-stream\b/i.test(contentType)) {
    const out: unknown[] = [];
    for (const block of body.split(/\r?\n\r?\n/)) {
      const data = block
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data === '') continue;
      try {
        out.push(JSON.parse(data));
      } catch {
        throw new TargetError(`an SSE event of the answer is not JSON: ${data.slice(0, 120)}`);
      }
    }
    return out;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new TargetError(
      `the answer is not JSON (${contentType || 'no content-type'}): ${body.slice(0, 120)}`,
    );
  }
  return Array.isArray(parsed) ? parsed : [parsed];
}

/**
 * A streamed Function URL answer read as it comes (see {@link StreamedHttpReader}): an SSE body's
 * events handed to `onMessage` one by one as each is complete, any other body kept whole for the
 * end.
 */
export class StreamedAnswer {
  private readonly http: StreamedHttpReader;
  private sse: EventSourceParser | undefined;
  private readonly decoder = new TextDecoder();
  private text = '';
  /** The first SSE event that was not JSON (the answer is then unusable). */
  problem: string | undefined;

  constructor(private readonly onMessage: (message: unknown) => void) {
    this.http = new StreamedHttpReader(
      () => {
        this.begin();
      },
      (data) => {
        this.body(data);
      },
    );
  }

  get statusCode(): number | undefined {
    return this.http.statusCode;
  }

  get contentType(): string {
    return this.http.headers['content-type'] ?? '';
  }

  /** The answer's headers (lower-case names), once its prelude came. */
  get headers(): Readonly<Record<string, string>> {
    return this.http.headers;
  }

  push(data: Buffer, streamType: string): void {
    try {
      this.http.push(data, streamType);
    } catch (err) {
      throw new TargetError((err as Error).message);
    }
  }

  /** What is left once the stream ended: the messages of a non-SSE body. */
  end(): unknown[] {
    if (this.sse !== undefined) {
      this.sse.feed(`${this.decoder.decode()}\n\n`);
      return [];
    }
    return messagesOf(this.contentType, this.text + this.decoder.decode());
  }

  private begin(): void {
    if (!/^text\/event-stream\b/i.test(this.contentType)) return;
    this.sse = createParser({
      onEvent: (event) => {
        if (event.data === '') return;
        let message: unknown;
        try {
          message = JSON.parse(event.data);
        } catch {
          this.problem ??= `an SSE event of the answer is not JSON: ${event.data.slice(0, 120)}`;
          return;
        }
        this.onMessage(message);
      },
    });
  }

  private body(data: Buffer): void {
    const text = this.decoder.decode(data, { stream: true });
    if (this.sse !== undefined) this.sse.feed(text);
    else this.text += text;
  }
}

/**
 * A Function URL event (payload format 2.0) carrying one MCP request (a POST, or the DELETE that
 * ends a session), as the gateway would send it; `extra` adds headers (a target's session id).
 */
export function mcpPostEvent(
  serverId: string,
  body: string,
  extra: Record<string, string> = {},
  method = 'POST',
): Record<string, unknown> {
  const now = new Date();
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': TARGET_PROTOCOL_VERSION,
    'user-agent': 'mcp-fleet-local-gateway',
    ...extra,
  };
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/mcp',
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: serverId,
      domainName: `${serverId}.lambda-url.local.on.aws`,
      domainPrefix: serverId,
      http: {
        method,
        path: '/mcp',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: headers['user-agent'],
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body,
    isBase64Encoded: false,
  };
}

/** A server's question relayed to a client. */
interface Question {
  fn: LocalFunction;
  /** The target session of the server that asked. */
  target: string;
  /**
   * The gateway session whose client was asked (only its answer is taken); undefined for a
   * question returned in band (2026-07-28), answered only through its retried request.
   */
  gatewaySession: string | undefined;
  /** The id the server gave it. */
  serverId: JsonRpcRequest['id'];
}

interface Indexed {
  fn: LocalFunction;
  priority: number;
  order: number;
}

/** Keeps, per key, the entry of the target with the lowest priority (then the first in the fleet). */
function byPriority<T>(
  lists: readonly { owner: Indexed; items: readonly T[] }[],
  key: (item: T) => unknown,
): { item: T; owner: Indexed }[] {
  const chosen = new Map<string, { item: T; owner: Indexed }>();
  const sorted = [...lists].sort(
    (a, b) => a.owner.priority - b.owner.priority || a.owner.order - b.owner.order,
  );
  for (const { owner, items } of sorted) {
    for (const item of items) {
      const k = key(item);
      if (typeof k !== 'string' || chosen.has(k)) continue;
      chosen.set(k, { item, owner });
    }
  }
  return [...chosen.values()];
}

/** An RFC 6570 URI template (level 1–2 expressions) as a regular expression over URIs. */
export function templateMatcher(template: string): RegExp {
  let pattern = '';
  let last = 0;
  for (const m of template.matchAll(/\{([+#]?)[^}]*\}/g)) {
    pattern += template.slice(last, m.index).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    pattern += m[1] === '' ? '[^/?#]*' : '.*';
    last = m.index + m[0].length;
  }
  pattern += template.slice(last).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${pattern}$`);
}

/**
 * The answer to one request the gateway sent a target: read while the function streams it (each
 * notification handed on as it comes), then, once the invocation ended, the response — or a
 * {@link TargetError} that says what was wrong with the answer.
 */
class TargetAnswer {
  private found: JsonRpcResponse | undefined;
  private broken: Error | undefined;
  private readonly streamed: StreamedAnswer;

  constructor(
    private readonly functionName: string,
    private readonly method: string,
    private readonly ownId: string,
    private readonly ctx: CallContext,
    /** A request the server sent its client on this answer's stream (elicitation, sampling, roots). */
    private readonly onQuestion?: (question: JsonRpcRequest) => void,
  ) {
    // The function streams (RESPONSE_STREAM): notifications reach the caller as they are written.
    this.streamed = new StreamedAnswer((m) => {
      this.take(m);
    });
  }

  private take(m: unknown): void {
    if (isNotification(m)) this.ctx.onNotification?.(m);
    else if (isRequest(m)) this.onQuestion?.(m);
    else if (isResponse(m) && (m.id === this.ownId || (m.id === null && 'error' in m))) this.found = m;
  }

  readonly onChunk = (data: Buffer, contentType: string): void => {
    if (this.broken !== undefined) return;
    try {
      this.streamed.push(data, contentType);
    } catch (err) {
      this.broken = err as Error;
    }
  };

  /** The HTTP status and headers of a streamed answer (once its prelude came). */
  get http(): { statusCode: number | undefined; headers: Readonly<Record<string, string>> } {
    return { statusCode: this.streamed.statusCode, headers: this.streamed.headers };
  }

  /** The target's response to the request, from a streamed or a buffered Function URL answer. */
  response(outcome: InvokeOutcome): JsonRpcResponse {
    const name = this.functionName;
    if (outcome.functionError !== undefined) {
      const p = outcome.payload as { errorMessage?: unknown; errorType?: unknown } | null;
      const why =
        typeof p?.errorMessage === 'string'
          ? p.errorMessage
          : typeof p?.errorType === 'string'
            ? p.errorType
            : 'function error';
      // A Function URL answers a function error with 502, or ends a stream already started.
      throw new TargetError(
        (outcome.streamed?.bytes ?? 0) > 0
          ? `${name} failed while it streamed its answer (the Function URL's stream ends there): ${why}`
          : `${name} failed (its Function URL would answer 502): ${why}`,
      );
    }
    return outcome.streamed !== undefined ? this.fromStream() : this.fromResult(outcome.payload);
  }

  private fromStream(): JsonRpcResponse {
    const name = this.functionName;
    if (this.broken !== undefined) throw new TargetError(`${name}: ${this.broken.message}`);
    const answer = this.streamed;
    if (answer.statusCode === undefined)
      throw new TargetError(`${name} ended its stream without an HTTP response`);
    for (const m of answer.end()) this.take(m);
    if (answer.problem !== undefined) throw new TargetError(`${name}: ${answer.problem}`);
    if (this.found === undefined)
      throw new TargetError(
        `${name} answered HTTP ${answer.statusCode} without a response to ${this.method} (${answer.contentType || 'no content-type'})`,
      );
    return this.found;
  }

  private fromResult(payload: unknown): JsonRpcResponse {
    const name = this.functionName;
    const r = payload as {
      statusCode?: unknown;
      headers?: Record<string, unknown>;
      body?: unknown;
      isBase64Encoded?: unknown;
    } | null;
    if (r === null || typeof r !== 'object' || typeof r.statusCode !== 'number')
      throw new TargetError(`${name} did not answer with an HTTP response`);
    let body = typeof r.body === 'string' ? r.body : '';
    if (r.isBase64Encoded === true) body = Buffer.from(body, 'base64').toString('utf8');
    const typeHeader = Object.entries(r.headers ?? {}).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
    for (const m of messagesOf(typeof typeHeader === 'string' ? typeHeader : '', body)) this.take(m);
    if (this.found === undefined)
      throw new TargetError(
        `${name} answered HTTP ${r.statusCode} without a response to ${this.method}${body === '' ? '' : `: ${body.slice(0, 200)}`}`,
      );
    return this.found;
  }
}

/**
 * The MCP-server targets of a fleet, as the local gateway reaches them: one JSON-RPC request per
 * Function URL invocation (the fronts are stateless, as AgentCore expects of a target).
 */
export class McpTargets implements TargetStreamHost {
  private requests = 0;
  /** URI → owner, from the last resources/list (read routes by it). */
  private resourceOwners = new Map<string, LocalFunction>();
  private templateOwners: { match: RegExp; fn: LocalFunction }[] = [];

  /** The servers' questions relayed to clients and not answered yet, by the id the client sees. */
  private readonly asked = new Map<string, Question>();
  private questions = 0;
  /** The gateway sessions' event streams (their clients' GETs), each following its target sessions. */
  readonly streams: SessionStreams;

  constructor(
    private readonly lambda: LocalLambda,
    private readonly clock: Clock,
    /** The gateway's sessions, when they are on: each keeps its sessions with the targets. */
    private readonly sessions?: GatewaySessions,
    /**
     * Response streaming on (`gateway.responseStreaming`): a server's questions reach the client of
     * the gateway session that keeps the server's session, and its answers come back.
     */
    private readonly relay = false,
    /** What a developer should know that no answer says (a target's session started again). */
    private readonly onNotice?: (line: string) => void,
  ) {
    this.streams = new SessionStreams(this, clock);
  }

  /** The fleet's MCP-server targets, in fleet order, with their resource priority. */
  targets(): Indexed[] {
    return [...this.lambda.functions.values()]
      .map((fn, order) => ({ fn, priority: fn.server.gateway.resourcePriority, order }))
      .filter((t) => isMcpTarget(t.fn.server));
  }

  /** Whether the fleet has any MCP-server target (prompts and resources are served then). */
  any(): boolean {
    return [...this.lambda.functions.values()].some((fn) => isMcpTarget(fn.server));
  }

  /**
   * Sends one request to a target and returns its response (with the caller's id); the
   * notifications the server sent on the way go to `ctx.onNotification`.
   */
  async request(
    fn: LocalFunction,
    method: string,
    params: Record<string, unknown> | undefined,
    id: JsonRpcRequest['id'],
    ctx: CallContext,
  ): Promise<JsonRpcResponse> {
    if (fn.server.hosting.session === undefined)
      return (await this.send(fn, method, params, id, ctx)).response;
    return this.inSession(fn, method, params, id, ctx);
  }

  /**
   * A request to a target that keeps sessions (an AgentCore Runtime), in the session the caller's
   * gateway session keeps with it: the first request initializes one, and a session the target
   * ended (its idle timeout) is started again once. A caller without a gateway session gets a
   * session for this request only, ended after it.
   */
  private async inSession(
    fn: LocalFunction,
    method: string,
    params: Record<string, unknown> | undefined,
    id: JsonRpcRequest['id'],
    ctx: CallContext,
  ): Promise<JsonRpcResponse> {
    const key = fn.server.id;
    const callerSession = ctx.caller?.headers[MCP_SESSION_HEADER];
    const kept =
      this.sessions !== undefined && this.sessions.check(callerSession) === 'live'
        ? callerSession
        : undefined;
    let target = kept === undefined ? undefined : this.sessions?.target(kept, key);
    for (let attempt = 1; ; attempt++) {
      if (target === undefined) {
        target = await this.initialize(fn, ctx, kept);
        if (kept !== undefined) {
          this.sessions?.keep(kept, key, target);
          this.streams.kept(kept, fn, target);
        }
      }
      const asked = new Set<string>();
      const session = target;
      const question = (q: JsonRpcRequest): void => {
        this.question(fn, session, kept, q, ctx, asked);
      };
      const onNotification = ctx.onNotification;
      const relayed: CallContext =
        onNotification === undefined
          ? ctx
          : {
              ...ctx,
              onNotification: (n) => {
                onNotification(this.relayNotification(fn, session, n));
              },
            };
      const answer = await this.send(fn, method, params, id, relayed, target, question).finally(() => {
        // Questions of this call still unanswered: their server was told when its call ended.
        for (const a of asked) this.asked.delete(a);
      });
      if (answer.statusCode === 404 && attempt === 1) {
        // The target's session ended (idle, or its lifetime): the gateway starts a new one.
        if (kept !== undefined) {
          this.sessions?.forget(kept, key);
          // The caller sees an answer as usual; what the server kept in the old session is gone.
          this.onNotice?.(
            `${key}: its session for gateway session ${kept} had ended (its idle timeout or lifetime); the gateway started a new one, so what the server kept in the old one is gone`,
          );
        }
        target = undefined;
        continue;
      }
      if (kept === undefined) void this.endSession(fn, target, ctx.deadline);
      return answer.response;
    }
  }

  /**
   * Initializes a session with the target (initialize, then initialized); its session id. With
   * response streaming, it declares what the gateway session's client can answer, so that the
   * server may ask it.
   */
  private async initialize(fn: LocalFunction, ctx: CallContext, kept: string | undefined): Promise<string> {
    const init = await this.send(
      fn,
      'initialize',
      {
        protocolVersion: TARGET_PROTOCOL_VERSION,
        capabilities: !this.relay
          ? {}
          : kept !== undefined
            ? askableCapabilities(this.sessions?.capabilities(kept))
            : ctx.asksInBand === true
              ? askableCapabilities(ctx.clientCapabilities)
              : {},
        clientInfo: { name: 'mcp-fleet-local-gateway', version: '1' },
      },
      'initialize',
      { deadline: ctx.deadline },
    );
    const session = init.headers[MCP_SESSION_HEADER];
    if ('error' in init.response)
      throw new TargetError(`${fn.name}: initialize failed: ${init.response.error.message}`);
    if (session === undefined || session === '')
      throw new TargetError(
        `${fn.name} answered initialize without an Mcp-Session-Id (a session host must give one)`,
      );
    const note = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await this.post(
      fn,
      mcpPostEvent(fn.server.id, note, { [MCP_SESSION_HEADER]: session }),
      () => undefined,
      ctx.deadline,
      ctx.trace !== undefined ? { trace: ctx.trace } : {},
    );
    return session;
  }

  /**
   * A server's question to its client, on the stream of a call in a target session: relayed to
   * the client of the gateway session that keeps it (under an id of the gateway's), or, where the
   * gateway cannot relay (response streaming off, no gateway session, a client reading JSON),
   * answered to the server with an error that says why.
   */
  private question(
    fn: LocalFunction,
    target: string,
    kept: string | undefined,
    q: JsonRpcRequest,
    ctx: CallContext,
    asked: Set<string>,
  ): void {
    const inBand = ctx.asksInBand === true;
    const answerable = kept !== undefined || inBand;
    // What the client did not offer at its initialize it is not asked (the server was told so).
    const undeclared = undeclaredFeature(
      q.method,
      inBand ? ctx.clientCapabilities : kept === undefined ? undefined : this.sessions?.capabilities(kept),
    );
    if (this.relay && undeclared === undefined && ctx.onRequest !== undefined && answerable) {
      const id = `gateway-ask-${++this.questions}`;
      this.asked.set(id, { fn, target, gatewaySession: kept, serverId: q.id });
      asked.add(id);
      ctx.onRequest({ ...q, id });
      return;
    }
    const why = !this.relay
      ? "the gateway's response streaming is off (gateway.responseStreaming)"
      : undeclared !== undefined && answerable
        ? `the client did not declare the ${undeclared} capability`
        : kept === undefined
          ? 'the caller has no gateway session to answer in'
          : "the caller's request does not accept an event stream";
    const refusal = failure(q.id, {
      code: ErrorCode.MethodNotFound,
      message: `the client behind the gateway cannot answer ${q.method}: ${why}`,
    });
    void this.reply(fn, target, refusal, ctx.deadline);
  }

  /**
   * A client's answer to a question the gateway relayed: sent to the session of the server that
   * asked, under the server's id. False when no question of the caller's gateway session has
   * that id (unknown, answered already, its call ended, or another session's).
   */
  async answer(response: JsonRpcResponse, ctx: CallContext, inBand = false): Promise<boolean> {
    const id = response.id;
    const q = typeof id === 'string' ? this.asked.get(id) : undefined;
    if (typeof id !== 'string' || q === undefined) return false;
    const own =
      q.gatewaySession === undefined ? inBand : ctx.caller?.headers[MCP_SESSION_HEADER] === q.gatewaySession;
    if (!own) return false;
    this.asked.delete(id);
    await this.reply(q.fn, q.target, { ...response, id: q.serverId }, ctx.deadline);
    return true;
  }

  /** One GET of a target session's event stream (see {@link SessionStreams}); its HTTP status. */
  async openStream(
    fn: LocalFunction,
    target: string,
    onMessage: (message: unknown) => void,
    signal: AbortSignal,
    deadline: number,
  ): Promise<number | undefined> {
    const reading = new StreamedAnswer(onMessage);
    const event = mcpPostEvent(
      fn.server.id,
      '',
      { [MCP_SESSION_HEADER]: target, accept: 'text/event-stream' },
      'GET',
    );
    const onChunk = (data: Buffer, contentType: string): void => {
      try {
        reading.push(data, contentType);
      } catch {
        // not an HTTP answer: nothing more is read from it
      }
    };
    const outcome = await invokeTarget(this.lambda, fn, event, { onChunk, signal }, deadline, this.clock);
    if (outcome.functionError !== undefined || outcome.streamed === undefined) return undefined;
    try {
      reading.end();
    } catch {
      // an error answer's body (not SSE): its status says enough
    }
    return reading.statusCode;
  }

  /**
   * A server's question on its session's event stream: relayed under an id of the gateway's to
   * the gateway session listening; with response streaming off, answered with the reason.
   */
  relayQuestion(
    fn: LocalFunction,
    target: string,
    gatewaySession: string,
    q: JsonRpcRequest,
  ): string | undefined {
    if (!this.relay) {
      const why = "the gateway's response streaming is off (gateway.responseStreaming)";
      const refusal = failure(q.id, {
        code: ErrorCode.MethodNotFound,
        message: `the client behind the gateway cannot answer ${q.method}: ${why}`,
      });
      void this.reply(fn, target, refusal, this.clock.now() + 30_000);
      return undefined;
    }
    const id = `gateway-ask-${++this.questions}`;
    this.asked.set(id, { fn, target, gatewaySession, serverId: q.id });
    return id;
  }

  /** A server's cancellation of a question the gateway relayed: under the id the client saw. */
  relayNotification(fn: LocalFunction, target: string, n: JsonRpcNotification): JsonRpcNotification {
    if (n.method !== 'notifications/cancelled') return n;
    const serverId = n.params?.['requestId'];
    for (const [id, q] of this.asked) {
      if (q.fn !== fn || q.target !== target || q.serverId !== serverId) continue;
      this.asked.delete(id);
      return { ...n, params: { ...n.params, requestId: id } };
    }
    return n;
  }

  forgetQuestions(ids: Iterable<string>): void {
    for (const id of ids) this.asked.delete(id);
  }

  /** A JSON-RPC response POSTed to a target session (a client's answer, or the gateway's refusal). */
  private async reply(
    fn: LocalFunction,
    target: string,
    response: JsonRpcResponse,
    deadline: number,
  ): Promise<void> {
    try {
      await this.post(
        fn,
        mcpPostEvent(fn.server.id, JSON.stringify(response), { [MCP_SESSION_HEADER]: target }),
        () => undefined,
        deadline,
      );
    } catch {
      // The target session is gone: its server no longer waits.
    }
  }

  /** Ends a session with the target (a DELETE), not waited for by the caller. */
  async endSession(fn: LocalFunction, session: string, deadline: number): Promise<void> {
    try {
      await this.post(
        fn,
        mcpPostEvent(fn.server.id, '', { [MCP_SESSION_HEADER]: session }, 'DELETE'),
        () => undefined,
        deadline,
      );
    } catch {
      // the session ends at its idle timeout anyway
    }
  }

  /** One request to a target; its response (with the caller's id), HTTP status and headers. */
  private async send(
    fn: LocalFunction,
    method: string,
    params: Record<string, unknown> | undefined,
    id: JsonRpcRequest['id'],
    ctx: CallContext,
    session?: string,
    question?: (q: JsonRpcRequest) => void,
  ): Promise<{
    response: JsonRpcResponse;
    statusCode: number | undefined;
    headers: Readonly<Record<string, string>>;
  }> {
    const ownId = `gateway-${++this.requests}`;
    const message: Record<string, unknown> = { jsonrpc: '2.0', id: ownId, method };
    if (params !== undefined) message['params'] = params;
    const reading = new TargetAnswer(fn.name, method, ownId, ctx, question);
    const extra: Record<string, string> = session === undefined ? {} : { [MCP_SESSION_HEADER]: session };
    const name = method === 'tools/call' ? params?.['name'] : undefined;
    const outcome = await this.post(
      fn,
      mcpPostEvent(fn.server.id, JSON.stringify(message), extra),
      reading.onChunk,
      ctx.deadline,
      {
        ...(ctx.trace !== undefined ? { trace: ctx.trace } : {}),
        // The caller went away: the request to the target is closed (the target cancels it).
        ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
        // The invocation's record names the tool as a Lambda target's does (`target___tool`).
        ...(typeof name === 'string' ? { toolName: gatewayToolName(fn.server.gateway.target, name) } : {}),
      },
    );
    return { response: { ...reading.response(outcome), id }, ...reading.http };
  }

  private async post(
    fn: LocalFunction,
    event: Record<string, unknown>,
    onChunk: (data: Buffer, contentType: string) => void,
    deadline: number,
    more: Pick<InvokeOptions, 'trace' | 'toolName' | 'signal'> = {},
  ): Promise<InvokeOutcome> {
    try {
      return await invokeTarget(this.lambda, fn, event, { ...more, onChunk }, deadline, this.clock);
    } catch (err) {
      throw new TargetError((err as Error).message);
    }
  }

  /** Every item of a paginated list method of one target (following nextCursor). */
  async listAll(
    fn: LocalFunction,
    method: string,
    key: string,
    ctx: CallContext,
  ): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let cursor: string | undefined;
    for (let page = 1; ; page++) {
      const response = await this.request(fn, method, cursor === undefined ? {} : { cursor }, page, ctx);
      if ('error' in response) {
        // A server without that capability: nothing to list.
        if (response.error.code === ErrorCode.MethodNotFound) return items;
        throw new TargetError(`${fn.name}: ${method} failed: ${response.error.message}`);
      }
      const list = response.result[key];
      if (!Array.isArray(list)) throw new TargetError(`${fn.name}: ${method} answered without "${key}"`);
      items.push(...list.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null));
      const next = response.result['nextCursor'];
      cursor = typeof next === 'string' && next !== '' ? next : undefined;
      if (cursor === undefined) return items;
      if (page >= 1000)
        throw new TargetError(`${fn.name}: ${method} kept returning a nextCursor after 1000 pages`);
    }
  }

  /** A target's tools as the gateway lists them: prefixed, everything else as the server gave it. */
  async tools(fn: LocalFunction, deadline: number): Promise<Record<string, unknown>[]> {
    const tools = await this.listAll(fn, 'tools/list', 'tools', { deadline });
    return tools
      .filter((t) => typeof t['name'] === 'string')
      .map((t) => ({ ...t, name: gatewayToolName(fn.server.gateway.target, String(t['name'])) }));
  }

  /** A tools/call for a target, under the tool's own name; notifications are passed on. */
  call(fn: LocalFunction, req: JsonRpcRequest, toolName: string, ctx: CallContext): Promise<JsonRpcResponse> {
    return this.request(fn, 'tools/call', { ...req.params, name: toolName }, req.id, ctx);
  }

  /** Serves a prompts/* or resources/* request from the MCP-server targets. */
  async serve(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    try {
      switch (req.method) {
        case 'prompts/list':
          return success(req.id, { prompts: await this.prompts(ctx) });
        case 'prompts/get':
          return await this.getPrompt(req, ctx);
        case 'resources/list':
          return success(req.id, { resources: await this.resources(ctx) });
        case 'resources/templates/list':
          return success(req.id, { resourceTemplates: await this.templates(ctx) });
        case 'resources/read':
          return await this.read(req, ctx);
        default:
          return failure(req.id, {
            code: ErrorCode.MethodNotFound,
            message: `Method not found: ${req.method}`,
          });
      }
    } catch (err) {
      return failure(req.id, { code: ErrorCode.InternalError, message: (err as Error).message });
    }
  }

  /** Lists from every target at once; a target that fails is left out (the others still answer). */
  private async gather(
    method: string,
    key: string,
    ctx: CallContext,
  ): Promise<{ owner: Indexed; items: Record<string, unknown>[] }[]> {
    const settled = await Promise.all(
      this.targets().map(async (owner) => {
        try {
          return { owner, items: await this.listAll(owner.fn, method, key, { deadline: ctx.deadline }) };
        } catch {
          return { owner, items: [] };
        }
      }),
    );
    return settled;
  }

  private async prompts(ctx: CallContext): Promise<Record<string, unknown>[]> {
    const lists = await this.gather('prompts/list', 'prompts', ctx);
    return lists.flatMap(({ owner, items }) =>
      items
        .filter((p) => typeof p['name'] === 'string')
        .map((p) => ({ ...p, name: gatewayToolName(owner.fn.server.gateway.target, String(p['name'])) })),
    );
  }

  private async getPrompt(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    const name = req.params?.['name'];
    if (typeof name !== 'string')
      return failure(req.id, {
        code: ErrorCode.InvalidParams,
        message: 'prompts/get needs params.name (a string)',
      });
    const split = splitGatewayToolName(name);
    const owner = this.targets().find((t) => t.fn.server.gateway.target === split?.target);
    if (owner === undefined || split === undefined)
      return failure(req.id, {
        code: ErrorCode.InvalidParams,
        message: `Unknown prompt: ${name} (prompts are named <target>___<prompt>, from MCP-server targets)`,
      });
    return this.request(owner.fn, 'prompts/get', { ...req.params, name: split.name }, req.id, ctx);
  }

  private async resources(ctx: CallContext): Promise<Record<string, unknown>[]> {
    const chosen = byPriority(await this.gather('resources/list', 'resources', ctx), (r) => r['uri']);
    this.resourceOwners = new Map(chosen.map(({ item, owner }) => [String(item['uri']), owner.fn]));
    return chosen.map(({ item }) => item);
  }

  private async templates(ctx: CallContext): Promise<Record<string, unknown>[]> {
    const chosen = byPriority(
      await this.gather('resources/templates/list', 'resourceTemplates', ctx),
      (t) => t['uriTemplate'],
    );
    this.templateOwners = chosen.map(({ item, owner }) => ({
      match: templateMatcher(String(item['uriTemplate'])),
      fn: owner.fn,
    }));
    return chosen.map(({ item }) => item);
  }

  /** Which target serves a URI: the one that lists it, else the one whose template matches it. */
  private async ownerOf(uri: string, ctx: CallContext): Promise<LocalFunction | undefined> {
    const known = (): LocalFunction | undefined =>
      this.resourceOwners.get(uri) ?? this.templateOwners.find((t) => t.match.test(uri))?.fn;
    const present = (fn: LocalFunction | undefined): LocalFunction | undefined =>
      fn !== undefined && this.lambda.functions.get(fn.name) === fn ? fn : undefined;
    const cached = present(known());
    if (cached !== undefined) return cached;
    // Not seen yet (or the fleet changed): list again, then decide.
    await Promise.all([this.resources(ctx), this.templates(ctx)]);
    return present(known());
  }

  private async read(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    const uri = req.params?.['uri'];
    if (typeof uri !== 'string')
      return failure(req.id, {
        code: ErrorCode.InvalidParams,
        message: 'resources/read needs params.uri (a string)',
      });
    const fn = await this.ownerOf(uri, ctx);
    if (fn === undefined)
      // -32602 with the URI in data, on both eras, as the 2026-07-28 specification asks (the MCP
      // SDK never sends -32002 either; clients still accept it from older servers).
      return failure(req.id, {
        code: ErrorCode.InvalidParams,
        message: `Resource not found: ${uri} (no MCP-server target lists it or has a template that matches it)`,
        data: { uri },
      });
    return this.request(fn, 'resources/read', req.params, req.id, ctx);
  }
}
