/**
 * mcp-fleet's own failures (not errors on the wire, which are JSON-RPC's): one base class with a
 * stable string code, as the MCP SDK's errors carry one. Code that handles a failure reads the
 * code, not the message; the CLI turns codes into exit codes in one place (src/cli/exit.ts).
 */
export const FLEET_ERROR = {
  /** The command line is wrong (unknown option, bad argument). */
  usage: 'MCP_FLEET_USAGE',
  /** A command could not do its work, for a reason its message says. */
  failed: 'MCP_FLEET_FAILED',
  /** servers.yaml has problems (each with file:line:column). */
  configInvalid: 'MCP_FLEET_CONFIG_INVALID',
  /** An MCP client config could not be imported. */
  importFailed: 'MCP_FLEET_IMPORT_FAILED',
  /** A server could not be staged or its tools discovered. */
  buildFailed: 'MCP_FLEET_BUILD_FAILED',
  /** A server process exited, or could not be started. */
  serverExited: 'MCP_FLEET_SERVER_EXITED',
  /** A server did not answer a request in time (it was stopped). */
  callTimeout: 'MCP_FLEET_CALL_TIMEOUT',
  /** A server needs longer to start than the function's timeout allows. */
  startTimeout: 'MCP_FLEET_START_TIMEOUT',
  /** A function answered with Lambda's FunctionError. */
  functionError: 'MCP_FLEET_FUNCTION_ERROR',
  /** No function of that name (the local Lambda API's ResourceNotFoundException). */
  functionNotFound: 'MCP_FLEET_FUNCTION_NOT_FOUND',
  /** A function is at its concurrency limit and its queue is full (TooManyRequestsException). */
  throttled: 'MCP_FLEET_THROTTLED',
  /** A caller stopped waiting for a function's environment (its deadline passed). */
  callerGone: 'MCP_FLEET_CALLER_GONE',
  /** The Lambda-like sandbox cannot run on this machine. */
  sandboxUnavailable: 'MCP_FLEET_SANDBOX_UNAVAILABLE',
  /** A tool schema AgentCore cannot declare. */
  toolSchema: 'MCP_FLEET_TOOL_SCHEMA',
  /** cdk-nag found errors in the synthesized stack. */
  nagFailed: 'MCP_FLEET_NAG_FAILED',
  /** The fleet's stack cannot be defined (quotas, names). */
  stackInvalid: 'MCP_FLEET_STACK_INVALID',
  /** No AWS credentials for deploy/diff/destroy. */
  credentialsMissing: 'MCP_FLEET_CREDENTIALS_MISSING',
} as const;

export type FleetErrorCode = (typeof FLEET_ERROR)[keyof typeof FLEET_ERROR];

/** Base class of every mcp-fleet failure: a message for people, a stable code for code. */
export class FleetError extends Error {
  constructor(
    readonly code: FleetErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  /** What a JSON-RPC error answer carries in `data` about this failure (a `reason` first), if anything. */
  rpcData(): Record<string, unknown> | undefined {
    return undefined;
  }
}
