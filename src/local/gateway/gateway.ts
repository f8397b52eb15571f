import os from 'node:os';
import { TOOL_NAME_DELIMITER } from '../../config/limits.js';
import { lowerTools } from '../../build/tools.js';
import { agentCoreClientContext, functionErrorMessage, listTools } from '../../contract/function-call.js';
import type { CallContext, McpBackend } from '../../protocol/bridge.js';
import {
  ErrorCode,
  failure,
  success,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.js';
import type { LocalFunction } from '../lambda/function.js';
import type { LocalLambda } from '../lambda/service.js';
import { isMcpTarget, MCP_TARGET_METHODS, McpTargets } from './mcp-target.js';
import type { GatewayInterceptors } from './interceptors.js';
import type { GatewayAccess } from './policy.js';

/** AgentCore's optional semantic-search tool; here a lexical search over names and descriptions. */
export const SEARCH_TOOL = 'x_amz_bedrock_agentcore_search';

export interface GatewayTool {
  /** `<target>___<tool>` */
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  /** Lambda targets: the lowered one the stack declares; MCP-server targets: the server's own. */
  outputSchema?: Record<string, unknown>;
  /** MCP-server targets: whatever else the server gives (title, annotations, _meta, …). */
  [key: string]: unknown;
}

export interface CatalogEntry {
  serverId: string;
  target: string;
  tools: GatewayTool[];
  /** Schema-lowering and naming warnings. */
  warnings: string[];
  /** Why the tools could not be listed. */
  error?: string;
  /** When this listing ended (ms since the epoch). */
  listedAt: number;
}

export interface GatewayOptions {
  name: string;
  version: string;
  instructions?: string;
  search: boolean;
}

/**
 * A function whose tools could not be listed is listed again, in the background, once this long
 * has passed since its last listing ended; `tools/list` answers from what the gateway has.
 */
export const RELIST_AFTER_MS = 5_000;

/**
 * What AgentCore Gateway does, on one machine: every function's tools under `<target>___<tool>`
 * with schemas lowered to AgentCore's subset, and each `tools/call` sent through the Invoke path
 * with AgentCore's client context.
 */
export class LocalGateway implements McpBackend {
  private readonly catalog = new Map<string, CatalogEntry>();
  /** Listings under way: one at a time per function. */
  private readonly listing = new Map<LocalFunction, Promise<CatalogEntry>>();
  private requests = 0;
  /** The MCP-server targets (src/local/mcp-target.ts). */
  private readonly mcp: McpTargets;
  /** AgentCore Policy (`policy:` in the config): decides tools/list and tools/call. */
  access: GatewayAccess | undefined;
  /** AgentCore Gateway interceptors (`gateway.interceptors`): around every request of /mcp. */
  interceptors: GatewayInterceptors | undefined;

  constructor(
    private readonly lambda: LocalLambda,
    private readonly options: GatewayOptions,
  ) {
    this.mcp = new McpTargets(lambda);
  }

  /** Lists every function's tools (in parallel); failures are kept per function. */
  /**
   * Lists every function's tools, a few cold starts at a time: on one machine, twenty servers
   * starting at once would share its CPUs and overrun the init budget each has on Lambda.
   */
  async discover(concurrency = Math.max(2, os.availableParallelism())): Promise<CatalogEntry[]> {
    const fns = [...this.lambda.functions.values()];
    const entries = new Array<CatalogEntry>(fns.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < fns.length; i = next++) {
        const fn = fns[i];
        if (fn) entries[i] = await this.list(fn);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, fns.length) }, worker));
    return entries;
  }

  /**
   * Follows a change of the fleet (hot reload): drops the tools of functions that are gone and
   * lists again those of the given servers (new or replaced).
   */
  async refresh(serverIds: readonly string[]): Promise<CatalogEntry[]> {
    const present = new Set([...this.lambda.functions.values()].map((fn) => fn.server.id));
    for (const id of [...this.catalog.keys()]) {
      if (!present.has(id) || serverIds.includes(id)) {
        this.catalog.delete(id);
      }
    }
    const fns = [...this.lambda.functions.values()].filter((fn) => serverIds.includes(fn.server.id));
    const entries = await Promise.all(fns.map((fn) => this.list(fn)));
    // Keep the fleet's order.
    const order = [...this.lambda.functions.values()].map((fn) => fn.server.id);
    const sorted = [...this.catalog.entries()].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
    this.catalog.clear();
    for (const [id, e] of sorted) this.catalog.set(id, e);
    return entries;
  }

  entries(): CatalogEntry[] {
    return [...this.catalog.values()];
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

  async forward(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    if (req.method === 'tools/list') {
      const tools = await this.tools();
      return this.access
        ? this.access.list(req.id, tools, (t) => t.name === SEARCH_TOOL)
        : success(req.id, { tools });
    }
    if (req.method === 'tools/call') return this.call(req, ctx);
    if (MCP_TARGET_METHODS.has(req.method) && this.mcp.any()) return this.mcp.serve(req, ctx);
    return failure(req.id, {
      code: ErrorCode.MethodNotFound,
      message: `Method not found: ${req.method} (the gateway serves tools)`,
    });
  }

  /**
   * Every served tool. A function never listed is waited for; one whose listing failed is listed
   * again in the background (a server that takes seconds to fail must not hold up the fleet's
   * `tools/list`), and its tools appear once that listing succeeds.
   */
  async tools(): Promise<GatewayTool[]> {
    const now = Date.now();
    const first: Promise<CatalogEntry>[] = [];
    for (const fn of this.lambda.functions.values()) {
      const entry = this.catalog.get(fn.server.id);
      if (entry === undefined) first.push(this.list(fn));
      else if (entry.error !== undefined && now - entry.listedAt > RELIST_AFTER_MS) void this.list(fn);
    }
    await Promise.all(first);
    const tools = this.entries().flatMap((e) => e.tools);
    if (this.options.search) {
      tools.push({
        name: SEARCH_TOOL,
        description:
          'Search the tools of this gateway by what they do; returns the best matches with their input schemas.',
        inputSchema: {
          type: 'object',
          properties: { query: { type: 'string', description: 'What the tool should do' } },
          required: ['query'],
        },
      });
    }
    return tools;
  }

  /** Lists one function's tools, joining a listing of it already under way. */
  private list(fn: LocalFunction): Promise<CatalogEntry> {
    const under = this.listing.get(fn);
    if (under) return under;
    const p = this.listOnce(fn).finally(() => this.listing.delete(fn));
    this.listing.set(fn, p);
    return p;
  }

  private async listOnce(fn: LocalFunction): Promise<CatalogEntry> {
    const entry: CatalogEntry = {
      serverId: fn.server.id,
      target: fn.server.gateway.target,
      tools: [],
      warnings: [],
      listedAt: 0,
    };
    try {
      if (isMcpTarget(fn.server)) {
        // An MCP-server target: the gateway lists the server's tools as they are (no lowering).
        entry.tools = (await this.mcp.tools(fn, Date.now() + fn.server.timeout * 1000)).map((t) => ({
          ...t,
          name: String(t['name']),
          description: typeof t['description'] === 'string' ? t['description'] : '',
          inputSchema: (t['inputSchema'] ?? { type: 'object' }) as Record<string, unknown>,
        }));
        this.catalog.set(fn.server.id, entry);
        return entry;
      }
      const raw = await listTools(
        async (event) => this.lambda.invoke(fn.name, event),
        `gateway-list-${++this.requests}`,
      );
      const lowered = lowerTools(entry.target, raw);
      const prefix = `${entry.target}${TOOL_NAME_DELIMITER}`;
      entry.tools = lowered.tools.map((t) => ({
        name: `${prefix}${t.name}`,
        description: t.description,
        inputSchema: t.inputSchema,
        ...(t.outputSchema === undefined ? {} : { outputSchema: t.outputSchema }),
      }));
      // What the deployed gateway would refuse or change, said now.
      entry.warnings.push(...lowered.errors.map((e) => `AgentCore would refuse: ${e}`), ...lowered.warnings);
    } catch (err) {
      entry.error = (err as Error).message;
    }
    entry.listedAt = Date.now();
    // A function replaced or removed (hot reload) while it was listed keeps its new entry.
    if (this.lambda.functions.get(fn.name) === fn) this.catalog.set(fn.server.id, entry);
    return entry;
  }

  private async call(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    const name = req.params?.['name'];
    const args = req.params?.['arguments'] ?? {};
    if (typeof name !== 'string')
      return failure(req.id, { code: ErrorCode.InvalidParams, message: 'tools/call needs params.name' });
    if (this.options.search && name === SEARCH_TOOL) {
      const query =
        typeof (args as Record<string, unknown>)['query'] === 'string'
          ? String((args as Record<string, unknown>)['query'])
          : '';
      const found = search(await this.tools(), query);
      return success(req.id, {
        content: [{ type: 'text', text: JSON.stringify({ tools: found }) }],
        structuredContent: { tools: found },
      });
    }
    const at = name.indexOf(TOOL_NAME_DELIMITER);
    const target = at === -1 ? undefined : name.slice(0, at);
    const fn = target === undefined ? undefined : this.lambda.forTarget(target);
    if (!fn) return failure(req.id, { code: ErrorCode.InvalidParams, message: `Unknown tool: ${name}` });
    const refused = this.access?.call(req.id, name, args);
    if (refused) return refused;
    if (isMcpTarget(fn.server)) {
      // MCP over the Function URL: the call's progress and logging notifications reach the caller.
      try {
        return await this.mcp.call(fn, req, name.slice(at + TOOL_NAME_DELIMITER.length), ctx);
      } catch (err) {
        return failure(req.id, { code: ErrorCode.InternalError, message: (err as Error).message });
      }
    }
    let outcome;
    try {
      outcome = await this.lambda.invoke(fn.name, args, {
        clientContext: agentCoreClientContext({
          toolName: name,
          requestId: `local-${++this.requests}`,
          messageId: String(req.id),
          gatewayId: this.options.name,
          targetId: fn.server.gateway.target,
        }),
      });
    } catch (err) {
      // Throttled, or the environment could not be initialized.
      return failure(req.id, {
        code: ErrorCode.InternalError,
        message: `${fn.name} failed: ${(err as Error).message}`,
      });
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

/** Lexical ranking: query words found in a tool's name (weighted) and description. */
export function search(tools: readonly GatewayTool[], query: string, limit = 10): GatewayTool[] {
  const words = query
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 1);
  if (words.length === 0) return [];
  return tools
    .filter((t) => t.name !== SEARCH_TOOL)
    .map((t) => {
      const name = t.name.toLowerCase();
      const description = t.description.toLowerCase();
      const score = words.reduce(
        (s, w) => s + (name.includes(w) ? 3 : 0) + (description.includes(w) ? 1 : 0),
        0,
      );
      return { t, score };
    })
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score || a.t.name.localeCompare(b.t.name))
    .slice(0, limit)
    .map((x) => x.t);
}
