import type { CallContext, McpBackend } from '../protocol/bridge.js';
import type { JsonRpcRequest, JsonRpcResponse } from '../protocol/jsonrpc.js';
import { withTraceMeta } from '../contract/trace.js';
import type { ClientChannel, RequestOptions } from './connection.js';
import type { ServerHost } from './supervisor.js';
import type { FunctionTracer } from './tracing.js';

/**
 * The backend of one stdio server, through its supervisor (or its pool of processes): each
 * request under our own id on the stdio side, answered under the caller's; the caller's abort
 * signal travels with it (the server is sent `notifications/cancelled` when it fires).
 */
export class SupervisorBackend implements McpBackend {
  constructor(
    private readonly servers: ServerHost,
    /** Records a span per request in a sampled trace (a deployed function with active tracing). */
    private readonly tracer?: FunctionTracer,
    /**
     * Given on a host that keeps the session: the server's questions go to the client on the
     * call's stream, and the client's capabilities are kept here for the server's `initialize`.
     */
    private readonly client?: ClientChannel,
  ) {}

  initializeResult(deadline: number): Promise<Record<string, unknown>> {
    return this.servers.initializeResult(deadline);
  }

  clientCapabilities(capabilities: Record<string, unknown>): void {
    // The server is initialized once per session, with what the session's first request said.
    if (this.client !== undefined) this.client.capabilities ??= capabilities;
  }

  async answer(response: JsonRpcResponse): Promise<boolean> {
    const id = response.id;
    const conn = typeof id === 'string' ? this.client?.asked.get(id) : undefined;
    return conn === undefined ? false : conn.answerClient(response);
  }

  forward(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    const { signal } = ctx;
    return this.servers.use(
      ctx.deadline,
      async (conn, timeLeft) => {
        const opts: RequestOptions = { timeoutMs: timeLeft() };
        if (ctx.onNotification) opts.onNotification = ctx.onNotification;
        if (signal) opts.signal = signal;
        if (this.client !== undefined && ctx.onRequest) opts.onRequest = ctx.onRequest;
        const span = this.tracer?.start(spanName(req), ctx.trace, spanAttributes(req));
        // A server that traces joins the call's trace (the OpenTelemetry conventions for MCP),
        // under the runtime's span of the request when there is one.
        try {
          const response = await conn.request(
            req.method,
            withTraceMeta(req.params, span?.trace ?? ctx.trace),
            opts,
          );
          span?.end(responseError(response));
          return { ...response, id: req.id };
        } catch (err) {
          span?.end(err instanceof Error ? err.name : 'error');
          throw err;
        }
      },
      signal ? { signal } : {},
    );
  }
}

/** `<method> <tool>` for a tool call, else the method (the OpenTelemetry conventions for MCP). */
function spanName(req: JsonRpcRequest): string {
  const tool = toolOf(req);
  return tool === undefined ? req.method : `${req.method} ${tool}`;
}

function toolOf(req: JsonRpcRequest): string | undefined {
  const name = req.method === 'tools/call' ? req.params?.['name'] : undefined;
  return typeof name === 'string' ? name : undefined;
}

function spanAttributes(req: JsonRpcRequest): Record<string, string> {
  const tool = toolOf(req);
  return {
    'mcp.method.name': req.method,
    ...(tool === undefined ? {} : { 'gen_ai.tool.name': tool, 'gen_ai.operation.name': 'execute_tool' }),
  };
}

/** What a span records of a failed answer: the JSON-RPC code, or `tool_error` for an isError result. */
function responseError(response: JsonRpcResponse): string | undefined {
  if ('error' in response) return String(response.error.code);
  return response.result['isError'] === true ? 'tool_error' : undefined;
}
