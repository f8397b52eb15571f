/**
 * What AgentCore Gateway does, on one machine: every function's tools under `<target>___<tool>`
 * (the catalog), each `tools/call` sent through the Invoke path with AgentCore's client context
 * (Lambda targets) or as MCP over the function's Function URL (MCP-server targets, which also
 * serve prompts and resources), AgentCore Policy deciding on the caller the request carries, and
 * every request bounded by its deadline.
 */
import { splitGatewayToolName } from '../../config/tool-names.js';
import { agentCoreClientContext, functionErrorMessage } from '../../contract/function-call.js';
import { systemClock, type Clock } from '../../platform/time.js';
import type { CallContext, McpBackend } from '../../protocol/bridge.js';
import {
  ErrorCode,
  failure,
  success,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.js';
import type { Principal } from '../../config/cedar.js';
import type { LocalFunction } from '../lambda/function.js';
import type { LocalLambda } from '../lambda/service.js';
import { Catalog, type CatalogEntry, type GatewayTool } from './catalog.js';
import type { GatewayInterceptors } from './interceptors.js';
import { isMcpTarget, MCP_TARGET_METHODS, McpTargets } from './mcp-target.js';
import type { GatewayAccess } from './policy.js';
import type { GatewayRateLimits } from './rate-limits.js';
import type { LocalTracing } from '../lambda/tracing.js';
import { GatewaySessions } from './sessions.js';
import { search, SEARCH_TOOL } from './search.js';
import { invokeTarget } from './target-call.js';

export { RELIST_AFTER_MS, type CatalogEntry, type GatewayTool } from './catalog.js';
export { SEARCH_TOOL } from './search.js';

export interface GatewayOptions {
  name: string;
  version: string;
  instructions?: string;
  search: boolean;
  /** Inbound auth: bearer token → principal (`--principals`); without, every caller is the dev user. */
  principals?: ReadonlyMap<string, Principal>;
  /** Time: deadlines and relisting (default the machine's clock). */
  clock?: Clock;
  /** MCP sessions on (`gateway.sessionTimeout`): how long one lasts from its initialize, ms. */
  sessionTimeoutMs?: number;
  /**
   * `gateway.responseStreaming`: with sessions on, a server's questions to its client
   * (elicitation, sampling, roots) are relayed through /mcp, as AgentCore relays them.
   */
  responseStreaming?: boolean;
  /** Something a developer should know that no request's answer says (a target's session restarted). */
  onNotice?: (line: string) => void;
}

export class LocalGateway implements McpBackend {
  readonly catalog: Catalog;
  /** The MCP-server targets (mcp-target.ts). */
  private readonly mcp: McpTargets;
  private readonly clock: Clock;
  private requests = 0;
  /** AgentCore Policy (`policy:` in the config): decides tools/list and tools/call. */
  access: GatewayAccess | undefined;
  /** AgentCore Gateway interceptors (`gateway.interceptors`): around every request of /mcp. */
  interceptors: GatewayInterceptors | undefined;
  /** AgentCore Gateway rate limits (`gateway.rateLimits`): every request of /mcp, before the interceptors. */
  rateLimits: GatewayRateLimits | undefined;
  /** Every request of /mcp a trace (its span the parent of the invocations it makes). */
  tracing: LocalTracing | undefined;
  /** The clients' MCP sessions, when they are on. */
  readonly sessions: GatewaySessions | undefined;

  constructor(
    private readonly lambda: LocalLambda,
    readonly options: GatewayOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    if (options.sessionTimeoutMs !== undefined)
      this.sessions = new GatewaySessions(this.clock, options.sessionTimeoutMs);
    this.mcp = new McpTargets(
      lambda,
      this.clock,
      this.sessions,
      options.responseStreaming === true,
      options.onNotice,
    );
    this.catalog = new Catalog(lambda, this.mcp, { search: options.search, clock: this.clock });
  }

  /** Lists every function's tools (a few cold starts at a time); failures are kept per function. */
  discover(concurrency?: number): Promise<CatalogEntry[]> {
    return this.catalog.discover(concurrency);
  }

  /** Follows a change of the fleet: the tools of removed servers dropped, the given ones listed again. */
  refresh(serverIds: readonly string[]): Promise<CatalogEntry[]> {
    return this.catalog.refresh(serverIds);
  }

  /** Whether the gateway serves sessions' event streams (GET /mcp): sessions and response streaming on. */
  get streams(): boolean {
    return this.sessions !== undefined && this.options.responseStreaming === true;
  }

  /** Whether a session's client has its event stream open now. */
  listening(id: string): boolean {
    return this.mcp.streams.isOpen(id);
  }

  /**
   * A session's event stream (its client's GET): the notifications and questions its target
   * sessions send outside any call, written as they come, until the client goes away (`signal`),
   * the session ends, or `deadline` passes.
   */
  async listen(
    id: string,
    write: (message: unknown) => void,
    signal: AbortSignal,
    deadline: number,
  ): Promise<void> {
    const sessions = this.sessions;
    if (sessions === undefined) return;
    const targets: [LocalFunction, string][] = [];
    for (const [serverId, target] of sessions.targets(id)) {
      const fn = this.lambda.forServer(serverId);
      if (fn !== undefined) targets.push([fn, target]);
    }
    await this.mcp.streams.listen(id, write, signal, Math.min(deadline, sessions.endsAt(id)), targets);
  }

  /** The gateway is stopping: every client's event stream ends (its target streams are not opened again). */
  close(): void {
    this.mcp.streams.endAll();
  }

  /** Ends a client's session: the sessions it kept with targets are ended too (DELETE). */
  endSession(id: string): void {
    this.mcp.streams.end(id);
    const targets = this.sessions?.close(id) ?? new Map<string, string>();
    const deadline = this.clock.now() + 30_000;
    for (const [serverId, session] of targets) {
      const fn = this.lambda.forServer(serverId);
      if (fn !== undefined) void this.mcp.endSession(fn, session, deadline);
    }
  }

  entries(): CatalogEntry[] {
    return this.catalog.entries();
  }

  tools(): Promise<GatewayTool[]> {
    return this.catalog.tools();
  }

  initializeResult(): Promise<Record<string, unknown>> {
    const result: Record<string, unknown> = {
      protocolVersion: '2025-11-25',
      // Prompts and resources come from MCP-server targets only.
      capabilities: this.mcp.any() ? { tools: {}, prompts: {}, resources: {} } : { tools: {} },
      serverInfo: { name: this.options.name, version: this.options.version },
    };
    if (this.options.instructions !== undefined) result['instructions'] = this.options.instructions;
    return Promise.resolve(result);
  }

  /** A client's answer to a server's question the gateway relayed: to that server's session. */
  answer(response: JsonRpcResponse, ctx: CallContext, inBand?: boolean): Promise<boolean> {
    return this.mcp.answer(response, ctx, inBand);
  }

  async forward(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    if (req.method === 'tools/list') {
      const tools = await this.catalog.tools();
      return this.access
        ? this.access.list(req.id, tools, (t) => t.name === SEARCH_TOOL, ctx.caller)
        : success(req.id, { tools });
    }
    if (req.method === 'tools/call') return this.call(req, ctx);
    if (MCP_TARGET_METHODS.has(req.method) && this.mcp.any()) return this.mcp.serve(req, ctx);
    return failure(req.id, {
      code: ErrorCode.MethodNotFound,
      message: `Method not found: ${req.method} (the gateway serves tools)`,
    });
  }

  /** tools/call: the search tool, or the target's tool after policy has decided. */
  private async call(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    const name = req.params?.['name'];
    const args = req.params?.['arguments'] ?? {};
    if (typeof name !== 'string')
      return failure(req.id, { code: ErrorCode.InvalidParams, message: 'tools/call needs params.name' });
    if (this.options.search && name === SEARCH_TOOL) return this.search(req, args);
    const split = splitGatewayToolName(name);
    const fn = split === undefined ? undefined : this.lambda.forTarget(split.target);
    if (!fn || split === undefined || !this.mayHave(fn, name))
      return failure(req.id, { code: ErrorCode.InvalidParams, message: `Unknown tool: ${name}` });
    const refused = this.access?.call(req.id, name, args, ctx.caller);
    if (refused) return refused;
    try {
      // MCP over the Function URL: the call's progress and logging notifications reach the caller.
      if (isMcpTarget(fn.server)) return await this.mcp.call(fn, req, split.name, ctx);
      return await this.callLambdaTarget(fn, req, name, args, ctx);
    } catch (err) {
      // Throttled, the environment could not be initialized, or the deadline passed.
      return failure(req.id, { code: ErrorCode.InternalError, message: (err as Error).message });
    }
  }

  /**
   * Whether a Lambda target may have the tool: its tools are declared with the target, so once
   * they are listed, another name is refused without invoking the function. (Before its listing,
   * or after one that failed, the call goes through; an MCP-server target's tools are the
   * server's own, and may change.)
   */
  private mayHave(fn: LocalFunction, name: string): boolean {
    if (isMcpTarget(fn.server)) return true;
    const entry = this.catalog.entry(fn.server.id);
    return entry === undefined || entry.error !== undefined || entry.tools.some((t) => t.name === name);
  }

  private async search(req: JsonRpcRequest, args: unknown): Promise<JsonRpcResponse> {
    const query = (args as Record<string, unknown>)['query'];
    const found = search(await this.catalog.tools(), typeof query === 'string' ? query : '');
    return success(req.id, {
      content: [{ type: 'text', text: JSON.stringify({ tools: found }) }],
      structuredContent: { tools: found },
    });
  }

  /** A Lambda target: Invoke with AgentCore's client context (the tool's full name in it). */
  private async callLambdaTarget(
    fn: LocalFunction,
    req: JsonRpcRequest,
    name: string,
    args: unknown,
    ctx: CallContext,
  ): Promise<JsonRpcResponse> {
    const clientContext = agentCoreClientContext({
      toolName: name,
      requestId: `local-${++this.requests}`,
      messageId: String(req.id),
      gatewayId: this.options.name,
      targetId: fn.server.gateway.target,
    });
    let outcome;
    try {
      const opts = {
        clientContext,
        ...(ctx.trace !== undefined ? { trace: ctx.trace } : {}),
        ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
      };
      outcome = await invokeTarget(this.lambda, fn, args, opts, ctx.deadline, this.clock);
    } catch (err) {
      throw new Error(`${fn.name} failed: ${(err as Error).message}`, { cause: err });
    }
    if (outcome.functionError !== undefined) {
      return failure(req.id, {
        code: ErrorCode.InternalError,
        message: `${fn.name} failed: ${functionErrorMessage(outcome.payload) ?? 'function error'}`,
      });
    }
    return success(req.id, (outcome.payload ?? {}) as Record<string, unknown>);
  }
}
