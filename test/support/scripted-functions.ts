/**
 * Scripts that make a scripted environment answer as mcp-fleet's runtime answers in a function:
 * JSON-RPC `tools/list` through Invoke, AgentCore tool calls (the tool's name in the client
 * context), and MCP over a Function URL event (an MCP-server target). The tools are the test's.
 */
import type { InvokeMessage, InvokeReply } from '../../src/local/lambda/worker-protocol.js';
import type { EnvironmentScript } from './scripted-environment.js';
import { result } from './scripted-environment.js';

export interface ScriptedTool {
  name: string;
  description?: string;
  inputSchema?: Record<string, unknown>;
}

/** What a tool call answers (default: its arguments echoed as text). */
export type ToolAnswer = (name: string, args: unknown) => Record<string, unknown> | undefined;

const echo: ToolAnswer = (name, args) => ({
  content: [{ type: 'text', text: `${name} ${JSON.stringify(args)}` }],
});

function toolList(tools: readonly ScriptedTool[]): Record<string, unknown>[] {
  return tools.map((t) => ({
    name: t.name,
    description: t.description ?? `the ${t.name} tool`,
    inputSchema: t.inputSchema ?? { type: 'object', properties: {} },
  }));
}

/** A Lambda target's function: JSON-RPC tools/list, and AgentCore calls through the client context. */
export function lambdaTarget(tools: readonly ScriptedTool[], answer: ToolAnswer = echo): EnvironmentScript {
  return {
    answer: (msg) => {
      const event = msg.event as { jsonrpc?: unknown; id?: unknown; method?: unknown };
      if (event.jsonrpc === '2.0' && event.method === 'tools/list')
        return result(msg, { jsonrpc: '2.0', id: event.id, result: { tools: toolList(tools) } });
      const custom = (msg.clientContext as { custom?: Record<string, string> } | undefined)?.custom;
      const full = custom?.['bedrockAgentCoreToolName'] ?? '';
      const name = full.slice(full.indexOf('___') + 3);
      const out = answer(name, msg.event);
      return out === undefined ? undefined : result(msg, out);
    },
  };
}

/** An MCP-server target's function: one JSON-RPC request per Function URL event, a JSON answer. */
export function mcpTarget(
  tools: readonly ScriptedTool[],
  answer: ToolAnswer = echo,
  extra: (method: string, params: Record<string, unknown>) => Record<string, unknown> | undefined = () =>
    undefined,
): EnvironmentScript {
  return {
    answer: (msg: InvokeMessage): InvokeReply | undefined => {
      const body = JSON.parse(String((msg.event as { body?: unknown }).body)) as {
        id: unknown;
        method: string;
        params?: Record<string, unknown>;
      };
      const params = body.params ?? {};
      let out: Record<string, unknown> | undefined;
      if (body.method === 'tools/list') out = { tools: toolList(tools) };
      else if (body.method === 'tools/call') out = answer(String(params['name']), params['arguments']);
      else out = extra(body.method, params);
      const response =
        out === undefined
          ? {
              jsonrpc: '2.0',
              id: body.id,
              error: { code: -32601, message: `Method not found: ${body.method}` },
            }
          : { jsonrpc: '2.0', id: body.id, result: out };
      return result(msg, {
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(response),
      });
    },
  };
}
