/**
 * What `verify` checks beyond tools for an MCP-server target: the prompts and resources the
 * server itself lists (asked through the Lambda API, JSON-RPC) are served by the gateway —
 * prompts under `<target>___<prompt>`, resources under their own URIs.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { Client } from '@modelcontextprotocol/client';
import { TOOL_NAME_DELIMITER } from '../config/limits.js';
import type { ServerConfig } from '../config/model.js';
import { invokeFunction } from './invoke.js';

/** The gateway's prompt names and resource URIs, every page (listed once per run). */
export interface GatewayListing {
  prompts: Set<string>;
  resources: Set<string>;
}

/** Every item of a paged MCP list (through `nextCursor`). */
export async function allPages<T>(
  page: (params: { cursor?: string }) => Promise<{ items: T[]; nextCursor?: string | undefined }>,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(cursor === undefined ? {} : { cursor });
    items.push(...p.items);
    cursor = p.nextCursor;
  } while (cursor !== undefined);
  return items;
}

export async function gatewayListing(client: Client, timeout: number): Promise<GatewayListing> {
  const caps = client.getServerCapabilities();
  const prompts =
    caps?.prompts === undefined
      ? []
      : await allPages(async (params) => {
          const p = await client.listPrompts(params, { timeout });
          return { items: p.prompts.map((x) => x.name), nextCursor: p.nextCursor };
        });
  const resources =
    caps?.resources === undefined
      ? []
      : await allPages(async (params) => {
          const p = await client.listResources(params, { timeout });
          return { items: p.resources.map((x) => x.uri), nextCursor: p.nextCursor };
        });
  return { prompts: new Set(prompts), resources: new Set(resources) };
}

/** The first page of a list the server itself gives (JSON-RPC through the Lambda API); [] when it has none. */
async function ownList(
  lambda: LambdaClient,
  server: ServerConfig,
  method: 'prompts/list' | 'resources/list',
  key: 'prompts' | 'resources',
): Promise<Record<string, unknown>[]> {
  const { payload, functionError } = await invokeFunction(lambda, server.functionName, {
    jsonrpc: '2.0',
    id: `verify-${method}`,
    method,
  });
  const p = payload as {
    result?: Record<string, unknown>;
    error?: { code?: number; message?: string };
    errorMessage?: string;
  } | null;
  if (functionError !== undefined) throw new Error(`${method}: ${p?.errorMessage ?? functionError}`);
  // -32601: the server has no such capability.
  if (p?.error !== undefined) {
    if (p.error.code === -32601) return [];
    throw new Error(`${method}: ${p.error.message ?? 'error'}`);
  }
  const list = p?.result?.[key];
  return Array.isArray(list) ? (list as Record<string, unknown>[]) : [];
}

/**
 * Checks an MCP-server target's prompts and resources at the gateway. Returns what was found
 * ("2 prompts, 10 resources"), or throws with what is missing.
 */
export async function checkMcpTarget(
  lambda: LambdaClient,
  server: ServerConfig,
  listing: () => Promise<GatewayListing>,
): Promise<string> {
  const [prompts, resources] = await Promise.all([
    ownList(lambda, server, 'prompts/list', 'prompts'),
    ownList(lambda, server, 'resources/list', 'resources'),
  ]);
  const found: string[] = [];
  if (prompts.length > 0) {
    const at = await listing();
    const prefix = `${server.gateway.target}${TOOL_NAME_DELIMITER}`;
    const missing = prompts.map((p) => `${prefix}${String(p['name'])}`).filter((n) => !at.prompts.has(n));
    if (missing.length > 0) throw new Error(`prompts not at the gateway: ${missing.slice(0, 3).join(', ')}`);
    found.push(`${prompts.length} prompts`);
  }
  if (resources.length > 0) {
    const at = await listing();
    // A URI another target also lists may be served by that one (resourcePriority): present is enough.
    const missing = resources.map((r) => String(r['uri'])).filter((u) => !at.resources.has(u));
    if (missing.length > 0)
      throw new Error(`resources not at the gateway: ${missing.slice(0, 3).join(', ')}`);
    found.push(`${resources.length} resources`);
  }
  return found.join(', ');
}
