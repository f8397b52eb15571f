/**
 * `mcp-fleet/runtime`: the Lambda handler that serves one stdio MCP server. Usable on its own:
 *
 *   import { createHandler } from 'mcp-fleet/runtime';
 *   export const handler = createHandler({ id: 'git', command: 'mcp-server-git' });
 *   await handler.ready; // the server starts during Lambda's init phase
 *
 * or, for a Lambda Web Function (an HTTP server on the endpoint Lambda gives):
 *
 *   import { startWebFunction } from 'mcp-fleet/runtime';
 *   await startWebFunction({ id: 'git', command: 'mcp-server-git', host: 'web-function' },
 *     { endpoint: process.env.AWS_LAMBDA_HTTP_ENDPOINT ?? '127.0.0.1:8080' });
 */
export {
  createHandler,
  detectFront,
  normalizeLaunch,
  type Front,
  type HandlerOptions,
  type LaunchInput,
  type McpLambdaHandler,
} from './handler.js';
export { MISSING_TOOL_NAME, ToolCallError, type CallToolResult } from './fronts/agentcore.js';
export {
  LEGACY_PROTOCOL_VERSIONS,
  STATELESS_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '../protocol/bridge.js';
export { ChildProcessTransport, ServerExitedError, type ExitInfo } from './child.js';
export { CallCancelledError, CallTimeoutError } from './connection.js';
export { PoolBusyError, ServerPool, serversFor } from './pool.js';
export type { ServerHost, UseOptions } from './supervisor.js';
export { startWebFunction, type WebFunction, type WebFunctionOptions } from './web-function.js';
export {
  ErrorCode,
  RpcError,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../protocol/jsonrpc.js';
export { METRIC, METRICS_NAMESPACE } from '../contract/metrics.js';
export { FUNCTION_ENV } from '../contract/function-env.js';
export { type RuntimeLogger } from './observability.js';
export type { LaunchSpec } from '../config/model.js';
