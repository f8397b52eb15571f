import type { ToolPolicy } from '../config/tool-filter.js';
import { ServerExitedError } from './child.js';
import { CallTimeoutError } from './connection.js';
import {
  ErrorCode,
  failure,
  isNotification,
  isRequest,
  RpcError,
  success,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.js';
import type { ServerSupervisor } from './supervisor.js';

/** Protocol versions the fronts speak to clients, newest first. */
export const LEGACY_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
export const STATELESS_PROTOCOL_VERSION = '2026-07-28';
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [
  STATELESS_PROTOCOL_VERSION,
  ...LEGACY_PROTOCOL_VERSIONS,
];

export interface CallContext {
  /** Epoch ms by which the answer must be given. */
  deadline: number;
  /** Notifications the server sends while the request runs (progress, logging). */
  onNotification?: (n: JsonRpcNotification) => void;
}

/** Local failures as JSON-RPC errors: internal failures map to -32603, with what happened in `data`. */
export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof CallTimeoutError) {
    return new RpcError(ErrorCode.InternalError, err.message, {
      reason: 'timeout',
      method: err.method,
      ms: err.ms,
    });
  }
  if (err instanceof ServerExitedError) {
    return new RpcError(ErrorCode.InternalError, err.message, {
      reason: 'server_exited',
      exitCode: err.exit.code,
      signal: err.exit.signal,
    });
  }
  return new RpcError(ErrorCode.InternalError, err instanceof Error ? err.message : String(err));
}

/**
 * MCP between a client and the warm stdio server, the same for every front: the handshake is
 * answered from the warm server's own `initialize` result (so any Lambda environment can serve
 * any request: no per-environment session), the tool policy is applied to `tools/list` and
 * `tools/call`, and everything else is forwarded.
 */
export class McpBridge {
  constructor(
    private readonly supervisor: ServerSupervisor,
    private readonly policy: ToolPolicy,
  ) {}

  /** Handles one client message; notifications get no response (undefined). */
  async handle(message: unknown, ctx: CallContext): Promise<JsonRpcResponse | undefined> {
    if (isNotification(message)) {
      // The warm server was initialized once; a client's `initialized` or `cancelled` stops here.
      return undefined;
    }
    if (!isRequest(message)) {
      return failure(null, {
        code: ErrorCode.InvalidRequest,
        message: 'not a JSON-RPC 2.0 request or notification',
      });
    }
    try {
      return await this.request(message, ctx);
    } catch (err) {
      return failure(message.id, toRpcError(err).toJSON());
    }
  }

  /** Calls a tool by the name clients see; answers with the server's JSON-RPC response. */
  async callTool(
    id: JsonRpcRequest['id'],
    name: string,
    args: Record<string, unknown>,
    ctx: CallContext,
    meta?: Record<string, unknown>,
  ): Promise<JsonRpcResponse> {
    const params: Record<string, unknown> = { name, arguments: args };
    if (meta !== undefined) params['_meta'] = meta;
    return this.handle({ jsonrpc: '2.0', id, method: 'tools/call', params }, ctx) as Promise<JsonRpcResponse>;
  }

  private async request(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    switch (req.method) {
      case 'initialize':
        return success(req.id, await this.initialize(req.params, ctx));
      case 'ping':
        return success(req.id, {});
      case 'tools/call':
        return this.toolsCall(req, ctx);
      case 'tools/list':
        return this.toolsList(req, ctx);
      default:
        return this.forward(req, ctx);
    }
  }

  private async initialize(
    params: Record<string, unknown> | undefined,
    ctx: CallContext,
  ): Promise<Record<string, unknown>> {
    const server = await this.supervisor.initializeResult(ctx.deadline);
    const requested = params?.['protocolVersion'];
    const legacy: readonly string[] = LEGACY_PROTOCOL_VERSIONS;
    const protocolVersion =
      typeof requested === 'string' && legacy.includes(requested) ? requested : LEGACY_PROTOCOL_VERSIONS[0];
    return { ...server, protocolVersion };
  }

  private async toolsList(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    const response = await this.forward(req, ctx);
    if ('error' in response) return response;
    const tools = response.result['tools'];
    if (!Array.isArray(tools)) return response;
    const served = tools
      .filter((t): t is Record<string, unknown> => typeof t === 'object' && t !== null)
      .filter((t) => typeof t['name'] === 'string' && this.policy.serves(t['name']))
      .map((t) => ({ ...t, name: this.policy.servedName(t['name'] as string) }));
    return success(req.id, { ...response.result, tools: served });
  }

  private async toolsCall(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    const name = req.params?.['name'];
    if (typeof name !== 'string') {
      return failure(req.id, {
        code: ErrorCode.InvalidParams,
        message: 'tools/call needs params.name (a string)',
      });
    }
    const original = this.policy.originalName(name);
    if (original === undefined) {
      return failure(req.id, { code: ErrorCode.InvalidParams, message: `Unknown tool: ${name}` });
    }
    return this.forward({ ...req, params: { ...req.params, name: original } }, ctx);
  }

  private forward(req: JsonRpcRequest, ctx: CallContext): Promise<JsonRpcResponse> {
    return this.supervisor.use(ctx.deadline, async (conn, timeLeft) => {
      const opts = ctx.onNotification
        ? { timeoutMs: timeLeft(), onNotification: ctx.onNotification }
        : { timeoutMs: timeLeft() };
      const response = await conn.request(req.method, req.params, opts);
      return { ...response, id: req.id };
    });
  }
}
