import type { CallContext, McpBackend } from '../protocol/bridge.js';
import type { JsonRpcRequest, JsonRpcResponse } from '../protocol/jsonrpc.js';
import { withTraceMeta } from '../contract/trace.js';
import type { RequestOptions } from './connection.js';
import type { ServerHost } from './supervisor.js';

/**
 * The backend of one stdio server, through its supervisor (or its pool of processes): each
 * request under our own id on the stdio side, answered under the caller's; the caller's abort
 * signal travels with it (the server is sent `notifications/cancelled` when it fires).
 */
export class SupervisorBackend implements McpBackend {
  constructor(private readonly servers: ServerHost) {}

  initializeResult(deadline: number): Promise<Record<string, unknown>> {
    return this.servers.initializeResult(deadline);
  }

  forward(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    const { signal } = ctx;
    return this.servers.use(
      ctx.deadline,
      async (conn, timeLeft) => {
        const opts: RequestOptions = { timeoutMs: timeLeft() };
        if (ctx.onNotification) opts.onNotification = ctx.onNotification;
        if (signal) opts.signal = signal;
        // A server that traces joins the call's trace (the OpenTelemetry conventions for MCP).
        const response = await conn.request(req.method, withTraceMeta(req.params, ctx.trace), opts);
        return { ...response, id: req.id };
      },
      signal ? { signal } : {},
    );
  }
}
