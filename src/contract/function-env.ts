/**
 * The environment-variable contract between what writes a function (build, the CDK constructs,
 * the local Lambda service, the sandbox) and what runs in it (the runtime's Lambda entry, the
 * local worker). Both sides read the names from here; docs/architecture.md lists them once.
 * No imports: the CDK constructs load this without loading the runtime.
 */
export const FUNCTION_ENV = {
  /** The server's id (`servers.<id>`); set on every deployed function. */
  serverId: 'MCP_FLEET_SERVER_ID',
  /** Path of the launch spec; default `launch.json` beside the handler. */
  launchFile: 'MCP_FLEET_LAUNCH_FILE',
  /** Fix the front: agentcore, http or jsonrpc; default detected per event. */
  front: 'MCP_FLEET_FRONT',
  /** "true": AgentCore errors are thrown (FunctionError) instead of returned as isError results. */
  throwOnError: 'MCP_FLEET_THROW_ON_ERROR',
  /** HTTP front: origins whose browser pages may call it (comma-separated, or `*`); default none. */
  allowOrigin: 'MCP_FLEET_ALLOW_ORIGIN',
  /** "true" for an MCP-server target: the function's URL is in RESPONSE_STREAM mode, and its
   * Function URL answers are streamed. */
  responseStream: 'MCP_FLEET_RESPONSE_STREAM',
  /** Local worker only: the handler module it loads (the runtime bundle, or a test's). */
  handler: 'MCP_FLEET_HANDLER',
  /** Powertools: the service name of logs and metrics (the function's name). */
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  /** Powertools: the metrics namespace (METRICS_NAMESPACE). */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  /** AgentCore Runtime session: the session's own folder, in its server's environment and as
   * `${MCP_FLEET_SESSION_DIR}` in the server's env values (no other host replaces it). */
  sessionDir: 'MCP_FLEET_SESSION_DIR',
  /**
   * Local only (set by `mcp-fleet dev`, never in AWS, where IAM guards the endpoint): a web
   * function's or a runtime session's entry takes only requests that carry this key in
   * {@link LOCAL_KEY_HEADER}, so that no process reaches an environment's loopback port around
   * dev (its `--token`, the gateway's policy and interceptors).
   */
  localKey: 'MCP_FLEET_LOCAL_KEY',
} as const;

/** The request header that carries {@link FUNCTION_ENV}.localKey to an environment's entry. */
export const LOCAL_KEY_HEADER = 'x-mcp-fleet-local-key';

/**
 * The AgentCore Runtime session entry: where it listens (AgentCore: 0.0.0.0:8000, its defaults;
 * a local session environment names a free loopback port).
 */
export const SESSION_PORT_ENV = 'MCP_FLEET_SESSION_PORT';
export const SESSION_HOST_ENV = 'MCP_FLEET_SESSION_HOST';

/** The launch spec's file name in a function root. */
export const LAUNCH_FILE_NAME = 'launch.json';
