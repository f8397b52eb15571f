import type { TraceContext } from '../../contract/trace.js';
import type { Context } from 'aws-lambda';
import { TOOL_NAME_DELIMITER } from '../../config/limits.js';
import type { McpBridge } from '../../protocol/bridge.js';

/** Event keys the older hand-written handlers accept as the tool name (seed document). */
const EVENT_NAME_KEYS = ['toolName', 'tool_name', 'bedrockAgentCoreToolName'] as const;

export const MISSING_TOOL_NAME = 'Missing bedrockAgentCoreToolName in context';

export interface CallToolResult {
  content: { type: string; text?: string; [key: string]: unknown }[];
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Thrown instead of returning an error result when `throwOnError` is set. */
export class ToolCallError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'ToolCallError';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The AgentCore client context's custom fields (`custom`, or `Custom` from some clients). */
export function agentCoreCustom(context: Context | undefined): Record<string, unknown> | undefined {
  const cc = context?.clientContext as unknown;
  if (!isObject(cc)) return undefined;
  const custom = cc['custom'] ?? cc['Custom'];
  return isObject(custom) ? custom : undefined;
}

/**
 * Where the tool name is: the client context (AgentCore), else the seed's fallbacks in the event.
 * With a fallback, those keys are taken out of the arguments.
 */
export function findToolName(
  event: unknown,
  context: Context | undefined,
): { fullName?: string; args: Record<string, unknown> } {
  const args = isObject(event) ? event : {};
  const fromContext = agentCoreCustom(context)?.['bedrockAgentCoreToolName'];
  if (typeof fromContext === 'string' && fromContext !== '') return { fullName: fromContext, args };

  const headers = args['headers'];
  const candidates = [
    ...EVENT_NAME_KEYS.map((k) => args[k]),
    isObject(headers) ? headers['bedrockAgentCoreToolName'] : undefined,
  ];
  const fromEvent = candidates.find((v): v is string => typeof v === 'string' && v !== '');
  if (fromEvent === undefined) return { args };
  const dropped = new Set<string>([...EVENT_NAME_KEYS, ...(isObject(headers) ? ['headers'] : [])]);
  const rest = Object.fromEntries(Object.entries(args).filter(([k]) => !dropped.has(k)));
  return { fullName: fromEvent, args: rest };
}

/** `target___tool` → `tool` (split at the FIRST delimiter: the tool name may contain it). */
export function stripTarget(fullName: string): string {
  const at = fullName.indexOf(TOOL_NAME_DELIMITER);
  return at === -1 ? fullName : fullName.slice(at + TOOL_NAME_DELIMITER.length);
}

export function errorResult(text: string, extra: Record<string, unknown> = {}): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true, ...extra };
}

/**
 * The AgentCore Gateway target front: the event is the tool's arguments, the tool name is in the
 * client context; the answer is the tool's `CallToolResult`. Failures come back as `isError`
 * results with a readable message (or are thrown with `throwOnError`).
 */
export async function agentCoreFront(
  event: unknown,
  context: Context | undefined,
  bridge: McpBridge,
  opts: {
    deadline: number;
    serverId: string;
    serverName: string;
    throwOnError: boolean;
    requestId: string;
    trace?: TraceContext;
  },
): Promise<{ result: CallToolResult; tool: string; error?: string }> {
  const { fullName, args } = findToolName(event, context);
  if (fullName === undefined) {
    const message = `Internal error: ${MISSING_TOOL_NAME}`;
    const data = { server_id: opts.serverId, server_name: opts.serverName };
    if (opts.throwOnError) throw new ToolCallError(message, -32603, data);
    return {
      tool: '',
      error: MISSING_TOOL_NAME,
      result: errorResult(`${message} (server_id: ${opts.serverId}, server_name: ${opts.serverName})`, {
        error: { code: -32603, message, data },
      }),
    };
  }
  const tool = stripTarget(fullName);
  const custom = agentCoreCustom(context);
  const mcpId = custom?.['bedrockAgentCoreMcpMessageId'];
  const id = typeof mcpId === 'string' || typeof mcpId === 'number' ? mcpId : opts.requestId;
  const ctx =
    opts.trace === undefined ? { deadline: opts.deadline } : { deadline: opts.deadline, trace: opts.trace };
  const response = await bridge.callTool(id, tool, args, ctx);
  if ('error' in response) {
    const { code, message, data } = response.error;
    if (opts.throwOnError) throw new ToolCallError(message, code, data);
    return { tool, error: message, result: errorResult(message) };
  }
  const result = response.result as CallToolResult;
  return result.isError === true ? { tool, error: 'tool returned isError', result } : { tool, result };
}
