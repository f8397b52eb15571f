/** JSON-RPC 2.0 as MCP uses it: the shapes, guards, and the two error families. */

export type RequestId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: RequestId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcSuccess {
  jsonrpc: '2.0';
  id: RequestId;
  result: Record<string, unknown>;
}

export interface JsonRpcFailure {
  jsonrpc: '2.0';
  id: RequestId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/**
 * Every JSON-RPC error code mcp-fleet puts on the wire: JSON-RPC 2.0's own, and MCP's of protocol
 * revision 2026-07-28 (the values of the MCP SDK's `ProtocolErrorCode`; test/unit checks them).
 * Local failures inside these answers are -32603 with what happened in `data`; mcp-fleet never
 * sends -32002, which MCP gives to "resource not found".
 */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** 2026-07-28: an `Mcp-*` header and the body disagree. */
  HeaderMismatch: -32020,
  /** 2026-07-28: the request needs a client capability the request did not declare. */
  MissingRequiredClientCapability: -32021,
  /** 2026-07-28: the request's protocol version is not supported. */
  UnsupportedProtocolVersion: -32022,
} as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isId = (v: unknown): v is RequestId => typeof v === 'string' || typeof v === 'number';

export function isRequest(m: unknown): m is JsonRpcRequest {
  return isObject(m) && m['jsonrpc'] === '2.0' && typeof m['method'] === 'string' && isId(m['id']);
}

export function isNotification(m: unknown): m is JsonRpcNotification {
  return isObject(m) && m['jsonrpc'] === '2.0' && typeof m['method'] === 'string' && !('id' in m);
}

export function isResponse(m: unknown): m is JsonRpcResponse {
  return (
    isObject(m) &&
    m['jsonrpc'] === '2.0' &&
    !('method' in m) &&
    (isId(m['id']) || m['id'] === null) &&
    (isObject(m['result']) || isObject(m['error']))
  );
}

export function isMessage(m: unknown): m is JsonRpcMessage {
  return isRequest(m) || isNotification(m) || isResponse(m);
}

/**
 * A JSON-RPC error to put on the wire (a protocol error with its code), as opposed to a local
 * failure. Internal failures map to -32603, never to parse or params errors.
 */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcError';
  }

  toJSON(): JsonRpcErrorObject {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }

  static from(err: unknown): RpcError {
    if (err instanceof RpcError) return err;
    return new RpcError(ErrorCode.InternalError, err instanceof Error ? err.message : String(err));
  }
}

export function success(id: RequestId, result: Record<string, unknown>): JsonRpcSuccess {
  return { jsonrpc: '2.0', id, result };
}

export function failure(id: RequestId | null, error: JsonRpcErrorObject): JsonRpcFailure {
  return { jsonrpc: '2.0', id, error };
}
