import os from 'node:os';
import { TOOL_NAME_DELIMITER } from '../config/limits.js';
import { listTools, lowerTools } from '../build/tools.js';
import type { CallContext, McpBackend } from '../runtime/bridge.js';
import {
  ErrorCode,
  failure,
  success,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../runtime/jsonrpc.js';
import type { LocalFunction } from './function.js';
import type { LocalLambda } from './lambda-service.js';
import type { GatewayAccess } from './policy.js';

/** AgentCore's optional semantic-search tool; here a lexical search over names and descriptions. */
export const SEARCH_TOOL = 'x_amz_bedrock_agentcore_search';

export interface GatewayTool {
  /** `<target>___<tool>` */
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface CatalogEntry {
  serverId: string;
  target: string;
  tools: GatewayTool[];
  /** Schema-lowering and naming warnings. */
  warnings: string[];
  /** Why the tools could not be listed. */
  error?: string;
}

export interface GatewayOptions {
  name: string;
  version: string;
  instructions?: string;
  search: boolean;
}

/** Retry listing a failed function's tools at most this often. */
const RELIST_AFTER_MS = 5_000;

/**
 * What AgentCore Gateway does, on one machine: every function's tools under `<target>___<tool>`
 * with schemas lowered to AgentCore's subset, and each `tools/call` sent through the Invoke path
 * with AgentCore's client context.
 */
export class LocalGateway implements McpBackend {
  private readonly catalog = new Map<string, CatalogEntry>();
  private readonly listedAt = new Map<string, number>();
  private requests = 0;
  /** AgentCore Policy (`policy:` in the config): decides tools/list and tools/call. */
  access: GatewayAccess | undefined;

  constructor(
    private readonly lambda: LocalLambda,
    private readonly options: GatewayOptions,
  ) {}

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
        this.listedAt.delete(id);
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
      capabilities: { tools: {} },
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
    return failure(req.id, {
      code: ErrorCode.MethodNotFound,
      message: `Method not found: ${req.method} (the gateway serves tools)`,
    });
  }

  /** Every served tool, refreshing functions whose listing failed a while ago. */
  async tools(): Promise<GatewayTool[]> {
    const now = Date.now();
    await Promise.all(
      [...this.lambda.functions.values()]
        .filter((fn) => {
          const entry = this.catalog.get(fn.server.id);
          return (
            entry === undefined ||
            (entry.error !== undefined && now - (this.listedAt.get(fn.server.id) ?? 0) > RELIST_AFTER_MS)
          );
        })
        .map((fn) => this.list(fn)),
    );
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

  private async list(fn: LocalFunction): Promise<CatalogEntry> {
    const entry: CatalogEntry = {
      serverId: fn.server.id,
      target: fn.server.gateway.target,
      tools: [],
      warnings: [],
    };
    this.listedAt.set(fn.server.id, Date.now());
    try {
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
      }));
      // What the deployed gateway would refuse or change, said now.
      entry.warnings.push(...lowered.errors.map((e) => `AgentCore would refuse: ${e}`), ...lowered.warnings);
    } catch (err) {
      entry.error = (err as Error).message;
    }
    this.catalog.set(fn.server.id, entry);
    return entry;
  }

  private async call(req: JsonRpcRequest, _ctx: CallContext): Promise<JsonRpcResponse> {
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
    const fn = [...this.lambda.functions.values()].find((f) => f.server.gateway.target === target);
    if (!fn) return failure(req.id, { code: ErrorCode.InvalidParams, message: `Unknown tool: ${name}` });
    const refused = this.access?.call(req.id, name, args);
    if (refused) return refused;
    let outcome;
    try {
      outcome = await this.lambda.invoke(fn.name, args, {
        clientContext: {
          custom: {
            bedrockAgentCoreToolName: name,
            bedrockAgentCoreMessageVersion: '1.0',
            bedrockAgentCoreAwsRequestId: `local-${++this.requests}`,
            bedrockAgentCoreMcpMessageId: String(req.id),
            bedrockAgentCoreGatewayId: this.options.name,
            bedrockAgentCoreTargetId: fn.server.gateway.target,
          },
        },
      });
    } catch (err) {
      // Throttled, or the environment could not be initialized.
      return failure(req.id, {
        code: ErrorCode.InternalError,
        message: `${fn.name} failed: ${(err as Error).message}`,
      });
    }
    if (outcome.functionError !== undefined) {
      const p = outcome.payload as { errorMessage?: unknown; errorType?: unknown };
      return failure(req.id, {
        code: ErrorCode.InternalError,
        message: `${fn.name} failed: ${typeof p.errorMessage === 'string' ? p.errorMessage : typeof p.errorType === 'string' ? p.errorType : 'function error'}`,
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
