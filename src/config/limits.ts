/**
 * Limits of AWS Lambda and Amazon Bedrock AgentCore Gateway that servers.yaml is checked against,
 * and the defaults mcp-fleet fills in. One place, named, so messages and checks agree.
 */

/** Lambda: function timeout, seconds. */
export const LAMBDA_TIMEOUT_MIN_S = 1;
export const LAMBDA_TIMEOUT_MAX_S = 900;
/** Lambda: memory, MB. */
export const LAMBDA_MEMORY_MIN_MB = 128;
export const LAMBDA_MEMORY_MAX_MB = 10_240;
/** Lambda: function names are at most 64 characters of letters, digits, '-' and '_'. */
export const LAMBDA_FUNCTION_NAME_MAX = 64;
/** Every function is named `mcp-server-<id>`, as in the seed document. */
export const FUNCTION_NAME_PREFIX = 'mcp-server-';
/** So a server id may be at most this long. */
export const SERVER_ID_MAX = LAMBDA_FUNCTION_NAME_MAX - FUNCTION_NAME_PREFIX.length;
export const SERVER_ID_PATTERN = /^[A-Za-z0-9_-]+$/;

/** AgentCore Gateway: target names (no underscores: `___` separates target and tool). */
export const GATEWAY_TARGET_NAME_PATTERN = /^([0-9a-zA-Z][-]?){1,100}$/;
export const GATEWAY_TARGET_NAME_MAX = 100;
/** AgentCore Gateway: gateway names. */
export const GATEWAY_NAME_PATTERN = /^([0-9a-zA-Z][-]?){1,48}$/;
/** AgentCore Gateway: at most this many targets per gateway. */
export const GATEWAY_MAX_TARGETS = 100;
/** The delimiter AgentCore puts between a target name and a tool name. */
export const TOOL_NAME_DELIMITER = '___';

/** CloudWatch Logs accepts only these retention periods, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** CloudFormation stack names. */
export const STACK_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
/** AWS region names such as us-east-1, eu-central-2, us-gov-west-1, cn-north-1. */
export const AWS_REGION_PATTERN = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;
/** Environment variable names (POSIX portable). */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** MCP tool names (spec 2025-11-25: 1–128 of letters, digits, '_', '-', '.'). */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

export const DEFAULTS = {
  timeout: 60,
  memory: 1024,
  architecture: 'arm64',
  isolation: 'warm',
  logRetentionDays: 30,
  stack: 'McpFleet',
  gatewayName: 'mcp-fleet',
  gatewayAuth: 'cognito',
  targetType: 'lambda',
  listingMode: 'default',
  /** AgentCore's default resourcePriority of an MCP-server target. */
  resourcePriority: 1000,
  host: 'function',
  /** Calls one environment of a web-function or managed-instances host takes at once. */
  environmentConcurrency: 64,
  /**
   * Calls one server process takes at once on web-function and managed-instances, which run npm
   * and Go servers only: the largest number at which every npm and Go seed server measured answered
   * right within its memory (docs/hosts.md, "How many calls one server process takes";
   * examples/seed/server-concurrency.json's `recommendation`, checked by a test).
   */
  concurrency: 32,
  /**
   * The same on agentcore-runtime (one server process per session), which runs every package
   * kind: the largest number at which every seed server measured did (aws-iac, a Python server,
   * outgrew its memory at 32).
   */
  sessionConcurrency: 8,
  /** Server processes one environment runs at most (started only when the others are full and none is starting). */
  processes: 4,
  /** The SigV4 service the gateway signs a web function's endpoint for (no AWS source names it). */
  webFunctionSigningService: 'lambda',
} as const;

/** Where a server runs on AWS (docs/hosts.md). */
export const HOSTS = ['function', 'web-function', 'managed-instances', 'agentcore-runtime'] as const;
export type Host = (typeof HOSTS)[number];
/** The hosts whose environment takes several calls at once. */
export const MULTI_CALL_HOSTS: readonly Host[] = ['web-function', 'managed-instances'];

/** The hosts that keep one server per client session (AgentCore Runtime: one microVM per session). */
export const SESSION_HOSTS: readonly Host[] = ['agentcore-runtime'];
/** AgentCore Runtime: `idleRuntimeSessionTimeout` and `maxLifetime` of a microVM session, seconds. */
export const RUNTIME_SESSION_MIN_S = 60;
export const RUNTIME_SESSION_MAX_S = 28_800;
export const RUNTIME_IDLE_TIMEOUT_DEFAULT_S = 900;
export const RUNTIME_MAX_LIFETIME_DEFAULT_S = 28_800;
/** AgentCore Runtime: each session's microVM has 2 vCPU and 8 GB. */
export const RUNTIME_SESSION_MEMORY_MB = 8192;
/** AgentCore Gateway: `sessionConfiguration.sessionTimeoutInSeconds` (absolute from the first initialize). */
export const GATEWAY_SESSION_MIN_S = 900;
export const GATEWAY_SESSION_MAX_S = 28_800;
export const GATEWAY_SESSION_DEFAULT_S = 3_600;
/** What the user declares about a server's state between calls (`state:`), for the host advisor. */
export const SERVER_STATES = ['none', 'session'] as const;
export type ServerState = (typeof SERVER_STATES)[number];

/** Lambda Web Functions: `maxConcurrencyPerEnvironment` of a revision. */
export const WEB_FUNCTION_CONCURRENCY_MAX = 128;
/** Lambda Web Functions: an endpoint's `maxEnvironments` is at least 2. */
export const WEB_FUNCTION_MIN_ENVIRONMENTS = 2;
export const MAX_ENVIRONMENTS_MAX = 10_000;
/** Lambda Web Functions: a fixed 2 GB per environment, no memory setting. */
export const WEB_FUNCTION_MEMORY_MB = 2048;
/** Lambda Web Functions: the server must listen within this long after the process starts. */
export const WEB_FUNCTION_INIT_LIMIT_MS = 10_000;
/** Lambda Web Functions: after SIGTERM, this long before the environment is killed. */
export const WEB_FUNCTION_SHUTDOWN_GRACE_MS = 1_000;
/** Lambda Managed Instances: the smallest function memory. */
export const MANAGED_INSTANCES_MIN_MEMORY_MB = 2048;
/** Lambda Managed Instances: `PerExecutionEnvironmentMaxConcurrency`. */
export const MANAGED_INSTANCES_CONCURRENCY_MAX = 1_600;
/** Lambda Web Functions: the endpoint's `rateLimit` (requests per second) takes only these values. */
export const WEB_FUNCTION_RATE_LIMITS: readonly number[] = [
  0,
  ...Array.from({ length: 10 }, (_, i) => (i + 1) * 100),
  ...Array.from({ length: 9 }, (_, i) => (i + 2) * 1000),
];
