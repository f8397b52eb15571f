import {
  DEFAULTS,
  FUNCTION_NAME_PREFIX,
  MANAGED_INSTANCES_MIN_MEMORY_MB,
  MULTI_CALL_HOSTS,
  RUNTIME_IDLE_TIMEOUT_DEFAULT_S,
  RUNTIME_MAX_LIFETIME_DEFAULT_S,
  SESSION_HOSTS,
  GATEWAY_SESSION_DEFAULT_S,
  type Host,
  type ServerState,
  GATEWAY_TARGET_NAME_MAX,
  GATEWAY_TARGET_NAME_PATTERN,
} from './limits.js';
import { PACKAGE_KINDS, PACKAGE_PARSERS, type PackageSpec } from './package-spec.js';
import type { RawDefaults, RawFleet, RawSecret, RawServer } from './schema.js';
import type { FleetPolicy } from './policy.js';
import type { FleetInterceptors } from './interceptors.js';
import type { RateLimitConfig } from './rate-limits.js';

/** A secret reference: an environment variable read from a store when the server starts. */
export type SecretRef =
  { source: 'ssm'; parameter: string } | { source: 'secretsManager'; secret: string; key?: string };

export interface IamStatement {
  effect: 'Allow' | 'Deny';
  actions: string[];
  resources: string[];
  conditions?: Record<string, Record<string, string | string[]>>;
}

export interface ToolFilter {
  /** Glob patterns of tool names to serve; empty = all. */
  allow: string[];
  /** Glob patterns of tool names never served; wins over allow. */
  deny: string[];
  /** original name → served name. */
  rename: Record<string, string>;
}

export type Isolation = 'warm' | 'per-invocation';

export type TargetType = 'lambda' | 'mcp';
export type ListingMode = 'default' | 'dynamic';

export type { Host } from './limits.js';

/** Where a server runs on AWS, and the settings of that host. */
export interface Hosting {
  host: Host;
  /**
   * Calls one environment takes at once: 1 for `function`; for the other hosts the configured
   * value (default 64), at most `concurrency × processes` (default 32 × 4).
   */
  environmentConcurrency: number;
  /** Calls one server process takes at once (1 for `function`). */
  concurrency: number;
  /** Server processes one environment runs at most (started when the others are full and none is starting). */
  processes: number;
  maxEnvironments?: number;
  minEnvironments?: number;
  /** web-function: the endpoint's requests per second. */
  rateLimit?: number;
  /** managed-instances: the EC2 capacity provider. */
  capacityProvider?: { subnetIds: string[]; securityGroupIds: string[]; maxVCpuCount?: number };
  /** agentcore-runtime: a session's life, seconds (idle timeout, and at most, idle or not). */
  session?: { idleTimeout: number; maxLifetime: number };
}

export interface RecycleLimits {
  maxInvocations?: number;
  idleSeconds?: number;
}

/** One server of the fleet, with every default filled in. */
export interface ServerConfig {
  id: string;
  /** `mcp-server-<id>` */
  functionName: string;
  name: string;
  description: string;
  enabled: boolean;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  shell: boolean;
  /** Seconds. */
  timeout: number;
  /** MB. */
  memory: number;
  package?: PackageSpec;
  /** For pypi packages: the Python version the server needs, e.g. "3.12". */
  python?: string;
  /** OS packages the server needs in its image (dnf names). */
  system: string[];
  /** For pypi packages: extra version constraints on dependencies (pip constraint lines). */
  constraints: string[];
  /** For image packages: paths copied from the server's image. */
  copy: string[];
  /** A checked-in tools/list result used instead of discovery; relative to the config file. */
  toolsFile?: string;
  /** Deprecated upstream: the reason or successor. */
  deprecated?: string;
  isolation: Isolation;
  recycle: RecycleLimits;
  hosting: Hosting;
  tools: ToolFilter;
  secrets: Record<string, SecretRef>;
  aws: {
    architecture: 'arm64' | 'x86_64';
    reservedConcurrency?: number;
    iam: { managedPolicies: string[]; statements: IamStatement[] };
    vpc?: { subnetIds: string[]; securityGroupIds: string[] };
    logRetentionDays: number;
    /** A web function's system log level (Lambda's default, INFO, when not set). */
    systemLogLevel?: 'DEBUG' | 'INFO' | 'WARN';
    functionUrl: boolean;
  };
  gateway: {
    target: string;
    description: string;
    /** lambda: a Lambda target (tools only, declared schemas); mcp: an MCP-server target on the Function URL. */
    targetType: TargetType;
    /** mcp targets: DEFAULT (listed and cached by the gateway) or DYNAMIC (listed live). */
    listingMode: ListingMode;
    /** mcp targets: resource URI collisions go to the lowest value. */
    resourcePriority: number;
    /** web-function targets: the SigV4 service the gateway signs for. */
    signingService: string;
  };
  /** Cost and ownership tags: the fleet's, then defaults', then the server's own. */
  tags: Record<string, string>;
  verify?: { tool: string; arguments: Record<string, unknown> };
  /** What the user declared about the server's state between calls (`state:`). */
  state?: ServerState;
  /**
   * Where the server is defined; `at`: where each of its own top-level settings' values is written
   * (for the problems that later steps, such as synth, find in one of them).
   */
  source: {
    file: string;
    line: number;
    column: number;
    at?: Readonly<Record<string, { line: number; column: number }>>;
  };
}

export interface FleetConfig {
  file: string;
  version: 1;
  stack: string;
  region?: string;
  gateway: {
    name: string;
    auth: 'cognito' | 'iam' | 'none';
    search: boolean;
    /**
     * X-Ray traces (`gateway.tracing`, default on): the gateway's own (vended TRACES), each event
     * function's (active tracing) and the runtime's spans inside it, each AgentCore runtime's.
     */
    tracing: boolean;
    /** The gateway's application logs delivered to a log group of the stack (`gateway.logs`, default on). */
    logs: boolean;
    instructions?: string;
    description?: string;
    /** AgentCore Gateway interceptors (`gateway.interceptors`), each its own Lambda function. */
    interceptors?: FleetInterceptors;
    /** AgentCore Gateway rate limits (`gateway.rateLimits`), in file order. */
    rateLimits?: RateLimitConfig[];
    /**
     * MCP sessions (`sessionConfiguration`): seconds a client's session lasts from its first
     * initialize. Set when written, or by default when a server's host keeps sessions.
     */
    sessionTimeout?: number;
    /**
     * Response streaming (`streamingConfiguration.enableResponseStreaming`): a call's progress
     * and log messages reach the caller as they come, and a server's questions (elicitation,
     * sampling, roots) reach the client through the gateway's sessions. Set when written, else on
     * when the fleet has an MCP-server target.
     */
    responseStreaming: boolean;
  };
  /** In file order. */
  servers: ServerConfig[];
  /** Fleet-level tags (the gateway's; merged into every server's). */
  tags: Record<string, string>;
  /** AgentCore Policy (Cedar), when `policy:` is set. */
  policy?: FleetPolicy;
}

/**
 * What the runtime needs to start and serve one server: the part of a {@link ServerConfig} that
 * goes into a function.
 */
export interface LaunchSpec {
  id: string;
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  shell: boolean;
  /** Seconds. */
  timeout: number;
  isolation: Isolation;
  recycle: RecycleLimits;
  /** The host (default `function`): how many calls the runtime takes at once. */
  host?: Host;
  /** Calls one server process takes at once (multi-call hosts); undefined: no limit. */
  concurrency?: number;
  /** Server processes one environment runs at most (multi-call hosts with `concurrency`). */
  processes?: number;
  tools: ToolFilter;
  secrets: Record<string, SecretRef>;
  /**
   * Secrets whose values the runtime takes from its own environment instead of their store, by
   * variable name (`mcp-fleet dev`: the developer's environment). The values are never written
   * into the launch spec.
   */
  localSecrets?: string[];
  /**
   * Folders put in front of PATH (relative to the launch file's folder, or absolute): where a
   * staged function keeps its server's executables.
   */
  path?: string[];
}

export function toLaunchSpec(server: ServerConfig): LaunchSpec {
  const spec: LaunchSpec = {
    id: server.id,
    name: server.name,
    command: server.command,
    args: [...server.args],
    env: { ...server.env },
    shell: server.shell,
    timeout: server.timeout,
    isolation: server.isolation,
    recycle: { ...server.recycle },
    tools: {
      allow: [...server.tools.allow],
      deny: [...server.tools.deny],
      rename: { ...server.tools.rename },
    },
    secrets: { ...server.secrets },
  };
  if (server.cwd !== undefined) spec.cwd = server.cwd;
  if (server.hosting.host !== 'function') {
    spec.host = server.hosting.host;
    spec.processes = server.hosting.processes;
    spec.concurrency = server.hosting.concurrency;
  }
  return spec;
}

/**
 * The AgentCore target name for a server id: the id itself when AgentCore accepts it, else the id
 * with '_' turned into '-' and runs of '-' collapsed. Undefined when even that is refused.
 */
export function deriveTargetName(id: string): string | undefined {
  if (GATEWAY_TARGET_NAME_PATTERN.test(id)) return id;
  const mapped = id
    .replace(/_/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+/, '')
    .slice(0, GATEWAY_TARGET_NAME_MAX);
  return GATEWAY_TARGET_NAME_PATTERN.test(mapped) ? mapped : undefined;
}

/** Maps are merged (the server's keys win); every other value is replaced by the server's own. */
function mergeDefaults(defaults: RawDefaults | undefined, server: RawServer): RawServer {
  if (defaults === undefined) return server;
  const out: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(server)) {
    out[key] = deepMerge(out[key], value);
  }
  return out as RawServer;
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toSecret(raw: RawSecret): SecretRef {
  if (raw.ssm !== undefined) return { source: 'ssm', parameter: raw.ssm };
  const ref: SecretRef = { source: 'secretsManager', secret: raw.secretsManager ?? '' };
  if (raw.key !== undefined) ref.key = raw.key;
  return ref;
}

function toPackage(raw: RawServer['package']): PackageSpec | undefined {
  if (raw === undefined) return undefined;
  for (const kind of PACKAGE_KINDS) {
    const spec = raw[kind];
    if (spec !== undefined) {
      const parsed = PACKAGE_PARSERS[kind](spec);
      if (parsed.ok) return parsed.value;
    }
  }
  return undefined;
}

/** The host and its settings, defaults filled in. */
function resolveHosting(s: RawServer): Hosting {
  const host = s.host ?? DEFAULTS.host;
  if (host === 'agentcore-runtime') {
    // One server process per session (its state lives there), taking the session's calls at once.
    const concurrency = s.concurrency ?? DEFAULTS.sessionConcurrency;
    return {
      host,
      environmentConcurrency: concurrency,
      concurrency,
      processes: 1,
      session: {
        idleTimeout: s.idleTimeout ?? RUNTIME_IDLE_TIMEOUT_DEFAULT_S,
        maxLifetime: s.maxLifetime ?? RUNTIME_MAX_LIFETIME_DEFAULT_S,
      },
    };
  }
  if (!MULTI_CALL_HOSTS.includes(host))
    return { host, environmentConcurrency: 1, concurrency: 1, processes: 1 };
  const processes = s.processes ?? DEFAULTS.processes;
  const concurrency = s.concurrency ?? DEFAULTS.concurrency;
  const hosting: Hosting = {
    host,
    processes,
    concurrency,
    environmentConcurrency: Math.min(
      s.environmentConcurrency ?? DEFAULTS.environmentConcurrency,
      concurrency * processes,
    ),
  };
  if (s.maxEnvironments !== undefined) hosting.maxEnvironments = s.maxEnvironments;
  if (host === 'managed-instances' && s.minEnvironments !== undefined)
    hosting.minEnvironments = s.minEnvironments;
  if (host === 'web-function' && s.rateLimit !== undefined) hosting.rateLimit = s.rateLimit;
  if (host === 'managed-instances' && s.capacityProvider !== undefined)
    hosting.capacityProvider = s.capacityProvider;
  return hosting;
}

export function resolveServer(
  id: string,
  raw: RawServer,
  defaults: RawDefaults | undefined,
  source: ServerConfig['source'],
): ServerConfig {
  const s = mergeDefaults(defaults, raw);
  const aws = s.aws ?? {};
  const server: ServerConfig = {
    id,
    functionName: `${FUNCTION_NAME_PREFIX}${id}`,
    name: s.name ?? id,
    description: s.description ?? '',
    enabled: s.enabled ?? true,
    command: s.command,
    args: s.args ?? [],
    env: s.env ?? {},
    shell: s.shell ?? false,
    timeout: s.timeout ?? DEFAULTS.timeout,
    // Managed instances take at least 2 GB.
    memory: s.memory ?? (s.host === 'managed-instances' ? MANAGED_INSTANCES_MIN_MEMORY_MB : DEFAULTS.memory),
    isolation: s.isolation ?? DEFAULTS.isolation,
    recycle: s.recycle ?? {},
    hosting: resolveHosting(s),
    system: s.package?.system ?? [],
    copy: s.package?.copy ?? [],
    constraints: s.package?.constraints ?? [],
    tools: { allow: s.tools?.allow ?? [], deny: s.tools?.deny ?? [], rename: s.tools?.rename ?? {} },
    secrets: Object.fromEntries(Object.entries(s.secrets ?? {}).map(([k, v]) => [k, toSecret(v)])),
    aws: {
      architecture: aws.architecture ?? DEFAULTS.architecture,
      iam: { managedPolicies: aws.iam?.managedPolicies ?? [], statements: aws.iam?.statements ?? [] },
      logRetentionDays: aws.logRetentionDays ?? DEFAULTS.logRetentionDays,
      functionUrl: aws.functionUrl ?? false,
    },
    gateway: {
      target: s.gateway?.target ?? deriveTargetName(id) ?? id,
      description: s.gateway?.description ?? s.description ?? s.name ?? id,
      // A web function is reached only as an MCP-server target (it has no Lambda invoke).
      targetType:
        s.gateway?.targetType ??
        (s.host === 'web-function' || s.host === 'agentcore-runtime' ? 'mcp' : DEFAULTS.targetType),
      listingMode: s.gateway?.listingMode ?? DEFAULTS.listingMode,
      resourcePriority: s.gateway?.resourcePriority ?? DEFAULTS.resourcePriority,
      signingService: s.gateway?.signingService ?? DEFAULTS.webFunctionSigningService,
    },
    tags: { ...(s.tags ?? {}) },
    source,
  };
  if (s.cwd !== undefined) server.cwd = s.cwd;
  const pkg = toPackage(s.package);
  if (pkg !== undefined) server.package = pkg;
  if (s.package?.python !== undefined) server.python = s.package.python;
  if (s.toolsFile !== undefined) server.toolsFile = s.toolsFile;
  if (s.deprecated !== undefined) server.deprecated = s.deprecated;
  if (aws.reservedConcurrency !== undefined) server.aws.reservedConcurrency = aws.reservedConcurrency;
  if (aws.vpc !== undefined) server.aws.vpc = aws.vpc;
  if (aws.systemLogLevel !== undefined) server.aws.systemLogLevel = aws.systemLogLevel;
  if (s.verify !== undefined) server.verify = { tool: s.verify.tool, arguments: s.verify.arguments ?? {} };
  if (s.state !== undefined) server.state = s.state;
  return server;
}

export function resolveFleet(
  fleet: Omit<RawFleet, 'servers'>,
  defaults: RawDefaults | undefined,
  servers: ReadonlyMap<string, RawServer>,
  file: string,
  locate: (id: string) => Omit<ServerConfig['source'], 'file'>,
): FleetConfig {
  const gateway: FleetConfig['gateway'] = {
    name: fleet.gateway?.name ?? DEFAULTS.gatewayName,
    auth: fleet.gateway?.auth ?? DEFAULTS.gatewayAuth,
    search: fleet.gateway?.search ?? false,
    tracing: fleet.gateway?.tracing ?? true,
    logs: fleet.gateway?.logs ?? true,
    responseStreaming: false,
  };
  if (fleet.gateway?.instructions !== undefined) gateway.instructions = fleet.gateway.instructions;
  if (fleet.gateway?.description !== undefined) gateway.description = fleet.gateway.description;
  const config: FleetConfig = {
    file,
    version: 1,
    stack: fleet.stack ?? DEFAULTS.stack,
    gateway,
    servers: [...servers].map(([id, raw]) => resolveServer(id, raw, defaults, { file, ...locate(id) })),
    tags: { ...(fleet.tags ?? {}) },
  };
  for (const s of config.servers) s.tags = { ...config.tags, ...s.tags };
  const sessionHost = config.servers.some((s) => SESSION_HOSTS.includes(s.hosting.host));
  if (fleet.gateway?.sessionTimeout !== undefined) gateway.sessionTimeout = fleet.gateway.sessionTimeout;
  else if (sessionHost) gateway.sessionTimeout = GATEWAY_SESSION_DEFAULT_S;
  gateway.responseStreaming =
    fleet.gateway?.responseStreaming ?? config.servers.some((s) => s.gateway.targetType === 'mcp');
  if (fleet.region !== undefined) config.region = fleet.region;
  return config;
}
