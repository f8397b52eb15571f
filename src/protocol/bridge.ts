import { randomUUID } from 'node:crypto';
import type { TraceContext } from '../contract/trace.js';
import { ToolPolicy } from '../config/tool-filter.js';
import {
  ErrorCode,
  failure,
  isNotification,
  isRequest,
  isResponse,
  RpcError,
  success,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.js';
import { FleetError } from '../contract/errors.js';
import type { Principal } from '../config/cedar.js';

/** What a bridge serves: one MCP server (a warm stdio process), or a gateway over many. */
export interface McpBackend {
  /** The server's answer to `initialize` (serverInfo, capabilities, instructions). */
  initializeResult(deadline: number): Promise<Record<string, unknown>>;
  /** Serves a request (tools/list, tools/call, anything else) in 2025-era form. */
  forward(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse>;
  /**
   * The client's answer to a request the server sent it (elicitation, sampling, roots) through a
   * call's stream: handed to the server that asked. False when no server waits for that id.
   */
  answer?(response: JsonRpcResponse, ctx: CallContext, inBand?: boolean): Promise<boolean>;
  /** What the client said it can do (its `initialize`, or a 2026-07-28 request's envelope). */
  clientCapabilities?(capabilities: Record<string, unknown>): void;
}

/**
 * A handler's answer to a request with more than its response: the HTTP status a layer in front of
 * the bridge chose for it (a gateway interceptor's `transformedGatewayResponse.statusCode`).
 */
export interface Answer {
  response: JsonRpcResponse;
  httpStatus?: number;
}

/** Anything that answers client messages (the fronts take this); notifications get undefined. */
export interface MessageHandler {
  handle(message: unknown, ctx: CallContext): Promise<JsonRpcResponse | Answer | undefined>;
}

/** A handler's result as an {@link Answer} (undefined for a notification). */
export function answerOf(handled: JsonRpcResponse | Answer | undefined): Answer | undefined {
  if (handled === undefined) return undefined;
  return 'jsonrpc' in handled ? { response: handled } : handled;
}

/** The requests a server may send its client, by the client capability each needs. */
export const CLIENT_FEATURES: Readonly<Record<string, string>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/**
 * Of a client's capabilities, those a server's questions need (elicitation, sampling, roots): what
 * a host that relays the questions declares to the server for its client.
 */
export function askableCapabilities(client: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (client === undefined) return out;
  for (const feature of Object.values(CLIENT_FEATURES)) {
    const value = client[feature];
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) out[feature] = value;
  }
  return out;
}

/**
 * The client capability a server's request needs (`roots` for `roots/list`, …) when the client's
 * declared capabilities do not offer it; undefined when it does, or the request needs none.
 */
export function undeclaredFeature(
  method: string,
  client: Record<string, unknown> | undefined,
): string | undefined {
  const feature = CLIENT_FEATURES[method];
  return feature !== undefined && askableCapabilities(client)[feature] === undefined ? feature : undefined;
}

/** Protocol versions the fronts speak to clients, newest first. */
export const LEGACY_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
export const STATELESS_PROTOCOL_VERSION = '2026-07-28';
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [
  STATELESS_PROTOCOL_VERSION,
  ...LEGACY_PROTOCOL_VERSIONS,
];

/** The per-request `_meta` keys of the 2026-07-28 (stateless) protocol. */
export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
} as const;

/** Methods a 2026-07-28 client may not use (the handshake, sessions, subscriptions we do not serve). */
const NOT_MODERN = new Set([
  'initialize',
  'ping',
  'logging/setLevel',
  'resources/subscribe',
  'resources/unsubscribe',
  'subscriptions/listen',
]);
/** Results the 2026-07-28 revision makes cacheable (ttlMs and cacheScope required). */
const CACHEABLE = new Set([
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
]);
const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
/** How long a 2026 client may cache what the warm server lists (it does not change while it runs). */
const CACHE_TTL_MS = 60_000;

function metaOf(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const meta = params?.['_meta'];
  return typeof meta === 'object' && meta !== null && !Array.isArray(meta)
    ? (meta as Record<string, unknown>)
    : undefined;
}

/** Whether a request speaks the 2026-07-28 revision (its `_meta` names a protocol version). */
export function isModernRequest(req: JsonRpcRequest): boolean {
  return req.method === 'server/discover' || metaOf(req.params)?.[META.protocolVersion] !== undefined;
}

/** Capabilities a stateless front can honour: no list-changed or resource-update notifications. */
function statelessCapabilities(caps: unknown): Record<string, unknown> {
  if (typeof caps !== 'object' || caps === null) return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(caps as Record<string, unknown>)) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const { listChanged: _l, subscribe: _s, ...rest } = value as Record<string, unknown>;
      out[key] = rest;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * What is wrong with a request's params for MCP, if anything. A stdio server may drop a request
 * whose envelope its SDK cannot parse without answering it, which would hold the call until its
 * deadline and cost the warm process: such requests are answered here instead.
 */
function paramsProblem(params: unknown): string | undefined {
  if (params === undefined) return undefined;
  if (typeof params !== 'object' || params === null || Array.isArray(params))
    return 'params must be an object';
  const meta = (params as Record<string, unknown>)['_meta'];
  if (meta === undefined) return undefined;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta))
    return 'params._meta must be an object';
  const token = (meta as Record<string, unknown>)['progressToken'];
  if (token !== undefined && typeof token !== 'string' && typeof token !== 'number')
    return 'params._meta.progressToken must be a string or a number';
  return undefined;
}

/** Who called, when the request came over HTTP (the gateway's /mcp): what policy and interceptors read. */
export interface Caller {
  /** The request's headers, lower-case names (the dev server's own token header left out). */
  headers: Readonly<Record<string, string>>;
  /** The HTTP body as it arrived (a gateway interceptor gets it as `rawGatewayRequest.body`). */
  rawBody: string;
  /** The caller's identity from the inbound auth, or why it has none (AgentCore Policy decides on it). */
  principal: { principal: Principal } | { error: string };
}

/** What travels with a request down the stack, from the front to the server and back. */
export interface CallContext {
  /** Epoch ms by which the answer must be given. */
  deadline: number;
  /** Notifications the server sends while the request runs (progress, logging). */
  onNotification?: (n: JsonRpcNotification) => void;
  /**
   * Requests the server sends the client while the request runs (`elicitation/create`,
   * `sampling/createMessage`, `roots/list`), when the front can carry them to the client and its
   * answer back to the same server (a host that keeps the session, a client reading the call's
   * event stream). Without it, the server is told the client cannot answer.
   */
  onRequest?: (r: JsonRpcRequest) => void;
  /**
   * `onRequest`'s questions go back as the request's own result (2026-07-28: input_required) and
   * their answers come with the retried request, not as responses POSTed to a session.
   */
  asksInBand?: boolean;
  /** What the client declared it can do, when the request says (a 2026-07-28 request's envelope). */
  clientCapabilities?: Record<string, unknown>;
  /** The HTTP caller, when there is one. */
  caller?: Caller;
  /** The trace this request belongs to (its parent span): a server gets it in `params._meta`. */
  trace?: TraceContext;
  /**
   * Fires when the caller goes away or cancels (the HTTP request closed before its answer, a
   * mapped `notifications/cancelled`): the server is told, and the answer dropped.
   */
  signal?: AbortSignal;
}

/**
 * Local failures as JSON-RPC errors: internal failures map to -32603, with what happened in `data`
 * (a failure of ours says it: `FleetError.rpcData`, e.g. `reason: 'timeout'`).
 */
export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof FleetError) return new RpcError(ErrorCode.InternalError, err.message, err.rpcData());
  return new RpcError(ErrorCode.InternalError, err instanceof Error ? err.message : String(err));
}

/** The 2026-07-28 methods whose handler may ask the client for input (multi-round-trip). */
const MULTI_ROUND_TRIP = new Set(['tools/call', 'prompts/get', 'resources/read']);

/**
 * A 2026-07-28 request in flight on the server, across the rounds of its multi-round-trip: the
 * questions the server asked since the last round, and its response once it comes.
 */
class Flight {
  private questions: JsonRpcRequest[] = [];
  private response: JsonRpcResponse | undefined;
  private wake: (() => void) | undefined;
  /** Resolves when the server has answered (or the request failed). */
  settled: Promise<void> = Promise.resolve();

  run(work: Promise<JsonRpcResponse>): void {
    this.settled = work.then(
      (r) => {
        this.response = r;
        this.wake?.();
      },
      (err: unknown) => {
        this.response = failure(null, toRpcError(err).toJSON());
        this.wake?.();
      },
    );
  }

  /** The ids of every question asked so far (only answers to these are taken). */
  private readonly ids = new Set<string>();

  ask(q: JsonRpcRequest): void {
    this.questions.push(q);
    this.ids.add(String(q.id));
    this.wake?.();
  }

  asked(id: string): boolean {
    return this.ids.has(id);
  }

  /** Waits for the response, or for questions (those asked so far are taken). */
  async next(): Promise<{ response: JsonRpcResponse } | { questions: JsonRpcRequest[] }> {
    for (;;) {
      if (this.response !== undefined) return { response: this.response };
      if (this.questions.length > 0) {
        const questions = this.questions;
        this.questions = [];
        return { questions };
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

/**
 * MCP between a client and the warm stdio server, the same for every front: the handshake is
 * answered from the warm server's own `initialize` result (so any Lambda environment can serve
 * any request: no per-environment session), the tool policy is applied to `tools/list` and
 * `tools/call`, and everything else is forwarded.
 */
export class McpBridge implements MessageHandler {
  /** 2026-07-28 requests waiting for the client's answers, by the requestState they were given. */
  private readonly suspended = new Map<string, Flight>();

  constructor(
    private readonly backend: McpBackend,
    private readonly policy: ToolPolicy = new ToolPolicy(),
  ) {}

  /** Handles one client message; notifications get no response (undefined). */
  async handle(message: unknown, ctx: CallContext): Promise<JsonRpcResponse | undefined> {
    if (isNotification(message)) {
      // The warm server was initialized once; a client's `initialized` or `cancelled` stops here.
      return undefined;
    }
    if (!isRequest(message)) {
      // The client's answer to a server's question; one that no server waits for is refused.
      if (isResponse(message) && (await this.backend.answer?.(message, ctx)) === true) return undefined;
      return failure(null, {
        code: ErrorCode.InvalidRequest,
        message: 'not a JSON-RPC 2.0 request or notification',
      });
    }
    const problem = paramsProblem(message.params);
    if (problem !== undefined)
      return failure(message.id, { code: ErrorCode.InvalidParams, message: `Invalid params: ${problem}` });
    try {
      return await this.request(message, ctx);
    } catch (err) {
      return failure(message.id, toRpcError(err).toJSON());
    }
  }

  /** Calls a tool by the name clients see; answers with the server's JSON-RPC response. */
  async callTool(
    id: JsonRpcRequest['id'],
    name: string,
    args: Record<string, unknown>,
    ctx: CallContext,
    meta?: Record<string, unknown>,
  ): Promise<JsonRpcResponse> {
    const params: Record<string, unknown> = { name, arguments: args };
    if (meta !== undefined) params['_meta'] = meta;
    return this.handle({ jsonrpc: '2.0', id, method: 'tools/call', params }, ctx) as Promise<JsonRpcResponse>;
  }

  private async request(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    if (!isModernRequest(req)) return this.legacy(req, ctx);
    const bad = this.checkEnvelope(req);
    if (bad) return bad;
    const response = await this.modern(req, ctx);
    return this.modernize(req, response);
  }

  /** 2025-era requests: the handshake is answered from the warm server, the rest forwarded. */
  private async legacy(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    switch (req.method) {
      case 'initialize':
        return success(req.id, await this.initialize(req.params, ctx));
      case 'server/discover':
        return success(req.id, await this.discover(ctx));
      case 'ping':
        return success(req.id, {});
      case 'tools/call':
        return this.toolsCall(req, ctx);
      case 'tools/list':
        return this.toolsList(req, ctx);
      default:
        return this.forward(req, ctx);
    }
  }

  /** 2026-07-28 requests: no handshake; every request carries its version and capabilities. */
  private async modern(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    const envelope = metaOf(req.params) ?? {};
    const capabilities = envelope[META.clientCapabilities] as Record<string, unknown>;
    // Before anything starts the server: it learns what the client can answer at its initialize.
    this.backend.clientCapabilities?.(capabilities);
    if (req.method === 'server/discover') return success(req.id, await this.discover(ctx));
    if (NOT_MODERN.has(req.method)) {
      return failure(req.id, {
        code: ErrorCode.MethodNotFound,
        message: `Method not found: ${req.method} is not part of protocol revision ${STATELESS_PROTOCOL_VERSION}`,
      });
    }
    const logLevel = envelope[META.logLevel];
    const threshold = typeof logLevel === 'string' ? LOG_LEVELS.indexOf(logLevel) : -1;
    const upstream = ctx.onNotification;
    // Log messages only for a request that asked for them, at its level or above.
    const onNotification = upstream
      ? (n: JsonRpcNotification): void => {
          if (n.method === 'notifications/message') {
            const level = LOG_LEVELS.indexOf(String(n.params?.['level']));
            if (threshold === -1 || level < threshold) return;
          }
          upstream(n);
        }
      : undefined;
    // A server's question is not sent on a 2026-07-28 request's stream: that era returns it as an
    // input_required result, and the client answers it on the retried request.
    const { onNotification: _upstream, onRequest: _ask, ...rest } = ctx;
    const inner: CallContext = onNotification
      ? { ...rest, onNotification, clientCapabilities: capabilities }
      : { ...rest, clientCapabilities: capabilities };
    const stripped = this.withoutEnvelope(req);
    if (req.method === 'tools/list') return this.toolsList(stripped, inner);
    if (!MULTI_ROUND_TRIP.has(req.method)) return this.forward(stripped, inner);
    const state = stripped.params?.['requestState'];
    if (state !== undefined) return this.resume(stripped, state, inner);
    const flight = new Flight();
    const asking: CallContext = {
      ...inner,
      onRequest: (q) => {
        flight.ask(q);
      },
      asksInBand: true,
    };
    flight.run(
      req.method === 'tools/call' ? this.toolsCall(stripped, asking) : this.forward(stripped, asking),
    );
    return this.land(req.id, flight);
  }

  /**
   * A retried request (2026-07-28): the answers to the questions its last round returned go to the
   * server that is still working on the first request, then that request is waited for again.
   */
  private async resume(req: JsonRpcRequest, state: unknown, ctx: CallContext): Promise<JsonRpcResponse> {
    const flight = typeof state === 'string' ? this.suspended.get(state) : undefined;
    if (flight === undefined)
      return failure(req.id, {
        code: ErrorCode.InvalidParams,
        message:
          'Invalid params: requestState is not one this server gave, or its request has ended (answered, timed out, or retried already); send the request again without it',
      });
    this.suspended.delete(state as string);
    const answers = req.params?.['inputResponses'];
    if (typeof answers === 'object' && answers !== null && !Array.isArray(answers))
      for (const [id, result] of Object.entries(answers as Record<string, unknown>)) {
        if (typeof result !== 'object' || result === null || Array.isArray(result)) continue;
        // Only answers to questions of this request: the requestState is what proves the caller.
        if (!flight.asked(id)) continue;
        await this.backend.answer?.(
          { jsonrpc: '2.0', id, result: result as Record<string, unknown> },
          ctx,
          true,
        );
      }
    return this.land(req.id, flight);
  }

  /**
   * The answer to one round of a request in flight: its response when the server answered, or an
   * input_required result with the questions the server asked meanwhile (the request goes on,
   * kept under a new requestState until the client retries with the answers).
   */
  private async land(id: JsonRpcRequest['id'], flight: Flight): Promise<JsonRpcResponse> {
    const outcome = await flight.next();
    if ('response' in outcome) return { ...outcome.response, id };
    const state = randomUUID();
    this.suspended.set(state, flight);
    // A request that ends before the client retries is forgotten with its state.
    void flight.settled.then(() => {
      if (this.suspended.get(state) === flight) this.suspended.delete(state);
    });
    return success(id, {
      resultType: 'input_required',
      inputRequests: Object.fromEntries(
        outcome.questions.map((q) => [
          String(q.id),
          { method: q.method, ...(q.params ? { params: q.params } : {}) },
        ]),
      ),
      requestState: state,
    });
  }

  private checkEnvelope(req: JsonRpcRequest): JsonRpcResponse | undefined {
    const meta = metaOf(req.params) ?? {};
    const version = meta[META.protocolVersion];
    if (version !== STATELESS_PROTOCOL_VERSION) {
      return failure(req.id, {
        code: ErrorCode.UnsupportedProtocolVersion,
        message: 'Unsupported protocol version',
        data: {
          supported: [...SUPPORTED_PROTOCOL_VERSIONS],
          ...(typeof version === 'string' ? { requested: version } : {}),
        },
      });
    }
    const caps = meta[META.clientCapabilities];
    if (typeof caps !== 'object' || caps === null || Array.isArray(caps)) {
      return failure(req.id, {
        code: ErrorCode.InvalidParams,
        message: `Invalid _meta envelope for protocol revision ${STATELESS_PROTOCOL_VERSION}: ${META.clientCapabilities}: missing`,
        data: { envelope: { key: META.clientCapabilities, problem: 'missing' } },
      });
    }
    return undefined;
  }

  /** The request as the 2025-era stdio server should see it: without the 2026 envelope keys. */
  private withoutEnvelope(req: JsonRpcRequest): JsonRpcRequest {
    const meta = metaOf(req.params);
    if (!meta || !req.params) return req;
    const kept = Object.fromEntries(
      Object.entries(meta).filter(([k]) => !k.startsWith('io.modelcontextprotocol/')),
    );
    const { _meta: _drop, ...params } = req.params;
    return { ...req, params: Object.keys(kept).length > 0 ? { ...params, _meta: kept } : params };
  }

  /** A 2025-era server's answer in 2026-07-28 form. */
  private modernize(req: JsonRpcRequest, response: JsonRpcResponse): JsonRpcResponse {
    if ('error' in response) {
      // 2026 reports a missing resource as -32602, never -32002.
      return response.error.code === -32002
        ? { ...response, error: { ...response.error, code: ErrorCode.InvalidParams } }
        : response;
    }
    const result: Record<string, unknown> = { resultType: 'complete', ...response.result };
    if (CACHEABLE.has(req.method)) {
      result['ttlMs'] ??= 0;
      result['cacheScope'] ??= 'private';
    }
    return { ...response, result };
  }

  private async discover(ctx: CallContext): Promise<Record<string, unknown>> {
    const server = await this.backend.initializeResult(ctx.deadline);
    const result: Record<string, unknown> = {
      resultType: 'complete',
      supportedVersions: [...SUPPORTED_PROTOCOL_VERSIONS],
      capabilities: statelessCapabilities(server['capabilities']),
      ttlMs: CACHE_TTL_MS,
      cacheScope: 'public',
      _meta: { [META.serverInfo]: server['serverInfo'] },
    };
    if (typeof server['instructions'] === 'string') result['instructions'] = server['instructions'];
    return result;
  }

  private async initialize(
    params: Record<string, unknown> | undefined,
    ctx: CallContext,
  ): Promise<Record<string, unknown>> {
    const capabilities = params?.['capabilities'];
    if (typeof capabilities === 'object' && capabilities !== null && !Array.isArray(capabilities))
      this.backend.clientCapabilities?.(capabilities as Record<string, unknown>);
    const server = await this.backend.initializeResult(ctx.deadline);
    const requested = params?.['protocolVersion'];
    const legacy: readonly string[] = LEGACY_PROTOCOL_VERSIONS;
    const protocolVersion =
      typeof requested === 'string' && legacy.includes(requested) ? requested : LEGACY_PROTOCOL_VERSIONS[0];
    return { ...server, capabilities: statelessCapabilities(server['capabilities']), protocolVersion };
  }

  private async toolsList(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    const response = await this.forward(req, ctx);
    if ('error' in response) return response;
    const tools = response.result['tools'];
    if (!Array.isArray(tools)) return response;
    const served = tools
      .filter((t): t is Record<string, unknown> => typeof t === 'object' && t !== null)
      .filter((t) => typeof t['name'] === 'string' && this.policy.serves(t['name']))
      .map((t) => ({ ...t, name: this.policy.servedName(t['name'] as string) }));
    return success(req.id, { ...response.result, tools: served });
  }

  private async toolsCall(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    const name = req.params?.['name'];
    if (typeof name !== 'string') {
      return failure(req.id, {
        code: ErrorCode.InvalidParams,
        message: 'tools/call needs params.name (a string)',
      });
    }
    const original = this.policy.originalName(name);
    if (original === undefined) {
      return failure(req.id, { code: ErrorCode.InvalidParams, message: `Unknown tool: ${name}` });
    }
    return this.forward({ ...req, params: { ...req.params, name: original } }, ctx);
  }

  private forward(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    return this.backend.forward(req, ctx);
  }
}
