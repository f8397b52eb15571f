/**
 * The gateway's catalog: every function's tools under `<target>___<tool>`. Lambda targets' tools
 * are listed through the Invoke path and lowered to AgentCore's schema subset, as the build
 * declares them; MCP-server targets' tools are kept as the server gives them. A function whose
 * listing failed is listed again in the background, never while a caller waits.
 */
import os from 'node:os';
import { lowerTools } from '../../build/tools.js';
import { gatewayToolName } from '../../config/tool-names.js';
import { listTools } from '../../contract/function-call.js';
import type { Clock } from '../../platform/time.js';
import type { LocalFunction } from '../lambda/function.js';
import type { LocalLambda } from '../lambda/service.js';
import { isMcpTarget, type McpTargets } from './mcp-target.js';
import { searchTool } from './search.js';

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

/**
 * A function whose tools could not be listed is listed again, in the background, once this long
 * has passed since its last listing ended; `tools/list` answers from what the gateway has.
 */
export const RELIST_AFTER_MS = 5_000;

export interface CatalogOptions {
  /** Add the search tool to what `tools/list` answers. */
  search: boolean;
  clock: Clock;
}

export class Catalog {
  private readonly entriesById = new Map<string, CatalogEntry>();
  /** Listings under way: one at a time per function. */
  private readonly listing = new Map<LocalFunction, Promise<CatalogEntry>>();
  private requests = 0;

  constructor(
    private readonly lambda: LocalLambda,
    private readonly mcp: McpTargets,
    private readonly options: CatalogOptions,
  ) {}

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
    for (const id of [...this.entriesById.keys()]) {
      if (!present.has(id) || serverIds.includes(id)) this.entriesById.delete(id);
    }
    const fns = [...this.lambda.functions.values()].filter((fn) => serverIds.includes(fn.server.id));
    const entries = await Promise.all(fns.map((fn) => this.list(fn)));
    // Keep the fleet's order.
    const order = [...this.lambda.functions.values()].map((fn) => fn.server.id);
    const sorted = [...this.entriesById.entries()].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
    this.entriesById.clear();
    for (const [id, e] of sorted) this.entriesById.set(id, e);
    return entries;
  }

  entries(): CatalogEntry[] {
    return [...this.entriesById.values()];
  }

  entry(serverId: string): CatalogEntry | undefined {
    return this.entriesById.get(serverId);
  }

  /**
   * Every served tool. A function never listed is waited for; one whose listing failed is listed
   * again in the background (a server that takes seconds to fail must not hold up the fleet's
   * `tools/list`), and its tools appear once that listing succeeds.
   */
  async tools(): Promise<GatewayTool[]> {
    const now = this.options.clock.now();
    const first: Promise<CatalogEntry>[] = [];
    for (const fn of this.lambda.functions.values()) {
      const entry = this.entriesById.get(fn.server.id);
      if (entry === undefined) first.push(this.list(fn));
      else if (entry.error !== undefined && now - entry.listedAt > RELIST_AFTER_MS) void this.list(fn);
    }
    await Promise.all(first);
    const tools = this.entries().flatMap((e) => e.tools);
    if (this.options.search) tools.push(searchTool());
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
      if (isMcpTarget(fn.server)) entry.tools = await this.mcpTools(fn);
      else Object.assign(entry, await this.lambdaTools(fn, entry.target));
    } catch (err) {
      entry.error = (err as Error).message;
    }
    entry.listedAt = this.options.clock.now();
    // A function replaced or removed (hot reload) while it was listed keeps its new entry.
    if (this.lambda.functions.get(fn.name) === fn) this.entriesById.set(fn.server.id, entry);
    return entry;
  }

  /** An MCP-server target's tools as the server lists them (no lowering). */
  private async mcpTools(fn: LocalFunction): Promise<GatewayTool[]> {
    const deadline = this.options.clock.now() + fn.server.timeout * 1000;
    return (await this.mcp.tools(fn, deadline)).map((t) => ({
      ...t,
      name: String(t['name']),
      description: typeof t['description'] === 'string' ? t['description'] : '',
      inputSchema: (t['inputSchema'] ?? { type: 'object' }) as Record<string, unknown>,
    }));
  }

  /** A Lambda target's tools, lowered as the stack declares them; what AgentCore would refuse, said now. */
  private async lambdaTools(
    fn: LocalFunction,
    target: string,
  ): Promise<Pick<CatalogEntry, 'tools' | 'warnings'>> {
    const raw = await listTools(
      async (event) => this.lambda.invoke(fn.name, event),
      `gateway-list-${++this.requests}`,
    );
    const lowered = lowerTools(target, raw);
    return {
      tools: lowered.tools.map((t) => ({
        name: gatewayToolName(target, t.name),
        description: t.description,
        inputSchema: t.inputSchema,
        ...(t.outputSchema === undefined ? {} : { outputSchema: t.outputSchema }),
      })),
      warnings: [...lowered.errors.map((e) => `AgentCore would refuse: ${e}`), ...lowered.warnings],
    };
  }
}
