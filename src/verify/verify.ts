/**
 * Checks a deployed (or local) fleet with real calls: per server, through the AWS SDK's
 * LambdaClient, a JSON-RPC `tools/list` and an AgentCore-style call of its `verify:` tool; and
 * through the gateway's MCP endpoint, its tools listed and the same call made.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { TOOL_NAME_DELIMITER } from '../config/limits.js';
import type { FleetConfig, ServerConfig } from '../config/model.js';
import {
  agentCoreClientContext,
  FunctionCallError,
  isErrorResult,
  listTools,
  payloadOf,
  resultText,
} from '../contract/function-call.js';
import { invokeFunction } from './invoke.js';
import { allPages, checkMcpTarget, gatewayListing, type GatewayListing } from './mcp-target.js';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface Check {
  status: CheckStatus;
  ms?: number;
  /** What was found, or why it failed or was skipped. */
  detail: string;
}

export interface ServerVerification {
  id: string;
  functionName: string;
  toolsList: Check;
  agentCoreCall: Check;
  gateway: Check;
}

export interface VerifyOptions {
  lambda: LambdaClient;
  /** The gateway's MCP endpoint; without it the gateway checks are skipped. */
  gatewayUrl?: string;
  /** Bearer token for the gateway (Cognito access token, or the dev fleet's --token). */
  token?: string;
  /** Only these server ids. */
  only?: string[];
  /** Per call. Default 60 s. */
  timeoutMs?: number;
}

export interface Verification {
  servers: ServerVerification[];
  /** The gateway's own check: connect and list. */
  gateway: Check;
  ok: boolean;
}

const since = (t: number): number => Math.round((performance.now() - t) * 10) / 10;

function message(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const what =
    err.name === 'Error' || err.name === 'Unknown' || err instanceof FunctionCallError
      ? err.message
      : `${err.name}: ${err.message}`;
  return status !== undefined ? `HTTP ${status}: ${what}` : what;
}

/** A tool result's text on one line. */
const oneLine = (result: unknown): string => resultText(result).replace(/\s+/g, ' ').trim();

const short = (s: string, n = 80): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * A web function or an AgentCore Runtime has no Lambda Invoke: it is checked through the gateway
 * (its MCP-server target); undefined for the hosts that have one.
 */
function noInvoke(server: ServerConfig): Check | undefined {
  const { host } = server.hosting;
  if (host !== 'web-function' && host !== 'agentcore-runtime') return undefined;
  const what = host === 'web-function' ? 'a web function' : 'an AgentCore Runtime';
  return {
    status: 'skip',
    detail: `${what} has no Lambda Invoke; checked through the gateway (--gateway-url)`,
  };
}

async function checkToolsList(client: LambdaClient, server: ServerConfig): Promise<Check> {
  const skip = noInvoke(server);
  if (skip) return skip;
  const t = performance.now();
  try {
    const tools = await listTools(
      (event) => invokeFunction(client, server.functionName, event),
      'verify-list',
    );
    if (tools.length === 0) return { status: 'fail', ms: since(t), detail: 'no tools listed' };
    return { status: 'pass', ms: since(t), detail: `${tools.length} tools` };
  } catch (err) {
    return { status: 'fail', ms: since(t), detail: message(err) };
  }
}

async function checkAgentCoreCall(client: LambdaClient, server: ServerConfig): Promise<Check> {
  if (server.verify === undefined) return { status: 'skip', detail: 'no verify: tool configured' };
  const skip = noInvoke(server);
  if (skip) return skip;
  const full = `${server.gateway.target}${TOOL_NAME_DELIMITER}${server.verify.tool}`;
  const t = performance.now();
  try {
    const answer = await invokeFunction(
      client,
      server.functionName,
      server.verify.arguments,
      agentCoreClientContext({ toolName: full, messageId: 'verify' }),
    );
    const p = payloadOf(answer);
    if (isErrorResult(p)) return { status: 'fail', ms: since(t), detail: short(oneLine(p)) };
    return { status: 'pass', ms: since(t), detail: `${server.verify.tool}: ${short(oneLine(p), 60)}` };
  } catch (err) {
    return { status: 'fail', ms: since(t), detail: message(err) };
  }
}

export async function verifyFleet(fleet: FleetConfig, opts: VerifyOptions): Promise<Verification> {
  const servers = fleet.servers.filter(
    (s) => s.enabled && (opts.only === undefined || opts.only.length === 0 || opts.only.includes(s.id)),
  );
  const results: ServerVerification[] = [];
  for (const server of servers) {
    results.push({
      id: server.id,
      functionName: server.functionName,
      toolsList: await checkToolsList(opts.lambda, server),
      agentCoreCall: await checkAgentCoreCall(opts.lambda, server),
      gateway: { status: 'skip', detail: 'no gateway URL' },
    });
  }

  let gateway: Check = { status: 'skip', detail: 'no gateway URL (--gateway-url)' };
  if (opts.gatewayUrl !== undefined) {
    gateway = await checkGateway(opts, servers, results);
  }
  const ok =
    gateway.status !== 'fail' &&
    results.every(
      (r) =>
        r.toolsList.status !== 'fail' && r.agentCoreCall.status !== 'fail' && r.gateway.status !== 'fail',
    );
  return { servers: results, gateway, ok };
}

async function checkGateway(
  opts: VerifyOptions,
  servers: ServerConfig[],
  results: ServerVerification[],
): Promise<Check> {
  const url = opts.gatewayUrl ?? '';
  const client = new Client({ name: 'mcp-fleet-verify', version: '0.1.0' });
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers['Authorization'] = `Bearer ${opts.token}`;
  const timeout = opts.timeoutMs ?? 60_000;
  const t = performance.now();
  let listed: Set<string>;
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
    listed = new Set(
      await allPages(async (params) => {
        const p = await client.listTools(params, { timeout });
        return { items: p.tools.map((x) => x.name), nextCursor: p.nextCursor };
      }),
    );
  } catch (err) {
    await client.close().catch(() => undefined);
    const detail = `cannot list tools at ${url}: ${message(err)}`;
    for (const r of results) r.gateway = { status: 'fail', detail: 'gateway unreachable' };
    return { status: 'fail', ms: since(t), detail };
  }
  const gateway: Check = { status: 'pass', ms: since(t), detail: `${listed.size} tools at ${url}` };
  // MCP-server targets: their prompts and resources too (the gateway's lists, read once).
  let listing: Promise<GatewayListing> | undefined;
  const session: GatewaySession = {
    lambda: opts.lambda,
    client,
    timeout,
    listed,
    lists: () => (listing ??= gatewayListing(client, timeout)),
  };
  try {
    for (const [i, server] of servers.entries()) {
      const result = results[i];
      if (result !== undefined) result.gateway = await checkAtGateway(session, server);
    }
  } finally {
    await client.close().catch(() => undefined);
  }
  return gateway;
}

/** The gateway as verify's client sees it once connected. */
interface GatewaySession {
  lambda: LambdaClient;
  client: Client;
  /** Per call. */
  timeout: number;
  /** The names of the tools the gateway lists. */
  listed: ReadonlySet<string>;
  /** The gateway's prompts and resources, read once for every MCP-server target. */
  lists: () => Promise<GatewayListing>;
}

/**
 * One server through the gateway: its tools listed, an MCP-server target's prompts and resources
 * too, and its `verify:` tool called.
 */
async function checkAtGateway(gw: GatewaySession, server: ServerConfig): Promise<Check> {
  const prefix = `${server.gateway.target}${TOOL_NAME_DELIMITER}`;
  const count = [...gw.listed].filter((n) => n.startsWith(prefix)).length;
  if (count === 0) return { status: 'fail', detail: `no ${prefix}* tools at the gateway` };
  let served = `${count} tools listed`;
  // A web function's or a runtime's own prompts and resources would be read from its endpoint
  // (SigV4), not Invoke.
  if (server.gateway.targetType === 'mcp' && noInvoke(server) === undefined) {
    const started = performance.now();
    try {
      const more = await checkMcpTarget(gw.lambda, server, gw.lists);
      if (more !== '') served += `, ${more}`;
    } catch (err) {
      return { status: 'fail', ms: since(started), detail: message(err) };
    }
  }
  if (server.verify === undefined) return { status: 'pass', detail: served };
  const started = performance.now();
  try {
    const answer = await gw.client.callTool(
      { name: `${prefix}${server.verify.tool}`, arguments: server.verify.arguments },
      { timeout: gw.timeout },
    );
    return answer.isError === true
      ? { status: 'fail', ms: since(started), detail: short(oneLine(answer)) }
      : { status: 'pass', ms: since(started), detail: `${served}; ${server.verify.tool} ok` };
  } catch (err) {
    return { status: 'fail', ms: since(started), detail: message(err) };
  }
}
