import type { CallContext, McpBackend } from '../protocol/bridge.js';
import type { JsonRpcRequest, JsonRpcResponse } from '../protocol/jsonrpc.js';
import type { ServerSupervisor } from './supervisor.js';

/** The backend of one stdio server, through its supervisor. */
export class SupervisorBackend implements McpBackend {
  constructor(private readonly supervisor: ServerSupervisor) {}

  initializeResult(deadline: number): Promise<Record<string, unknown>> {
    return this.supervisor.initializeResult(deadline);
  }

  forward(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    return this.supervisor.use(ctx.deadline, async (conn, timeLeft) => {
      const opts = ctx.onNotification
        ? { timeoutMs: timeLeft(), onNotification: ctx.onNotification }
        : { timeoutMs: timeLeft() };
      const response = await conn.request(req.method, req.params, opts);
      return { ...response, id: req.id };
    });
  }
}
