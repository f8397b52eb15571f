/**
 * The whole fleet on this machine: a local Lambda service with one function per server, its
 * Invoke API, the AgentCore-compatible gateway (policy, interceptors), per-server MCP endpoints
 * and the status page — started, changed while it runs (hot reload), and stopped.
 */
import path from 'node:path';
import { defaultBuildDir, hostPaths } from '../../build/build.js';
import type { Principal } from '../../config/cedar.js';
import { fleetPaths } from '../../config/fleet-paths.js';
import type { FleetConfig } from '../../config/model.js';
import { Redactor } from '../../runtime/redact.js';
import { LocalGateway, type CatalogEntry } from '../gateway/gateway.js';
import { GatewayInterceptors } from '../gateway/interceptors.js';
import { GatewayRateLimits } from '../gateway/rate-limits.js';
import { LocalTracing } from '../lambda/tracing.js';
import { systemClock, type Clock } from '../../platform/time.js';
import { GatewayAccess, type DecisionRecord } from '../gateway/policy.js';
import type { InvocationRecord } from '../lambda/function.js';
import type { MemoryMode } from '../lambda/memory.js';
import { planSandbox, type SandboxPlan } from '../lambda/sandboxed.js';
import { LocalLambda } from '../lambda/service.js';
import type { Guardian } from '../lambda/environment.js';
import { startDevServer, type DevServer, type DevServerLimits } from './server.js';
import { DEFAULT_PORT } from './defaults.js';
import { fleetStatus, type FleetStatus } from './status.js';
import { ensureWebFunctionNode, type WebNode } from '../lambda/web-node.js';

export interface FleetOptions {
  /** Trace every call (default true): recent traces in `/status`, spans to `otlp` when set. */
  tracing?: boolean;
  /** OTLP/HTTP endpoint every span is exported to (`--otlp`). */
  otlp?: string;
  /** What a developer should know that no answer says (the gateway's onNotice). */
  onNotice?: (line: string) => void;
  /** The OTLP export failed, or works again (told once per change). */
  onTraceExport?: (ok: boolean, message: string) => void;
  /** The clock the gateway's rate limits count their windows on (default the machine's; a test's manual clock). */
  rateLimitClock?: Clock;
  host?: string;
  port?: number;
  token?: string;
  /** More names the dev server may be reached by (`--allowed-host`). */
  allowedHosts?: readonly string[];
  /** Origins whose browser pages may call the dev server (`--allowed-origin`). */
  allowedOrigins?: readonly string[];
  /** Connection limits of the dev server (timeouts, body size). */
  limits?: Partial<DevServerLimits>;
  /** Environments per function when aws.reservedConcurrency is not set. */
  concurrency?: number;
  queueLimit?: number;
  idleMs?: number;
  /** Add the x_amz_bedrock_agentcore_search tool (default: the config's gateway.search). */
  search?: boolean;
  onInvoke?: (record: InvocationRecord) => void;
  /** An asynchronous invocation's event dropped after Lambda's retries of a throttle. */
  onEventDropped?: (functionName: string, why: string) => void;
  /** An environment ended whose /tmp held files a later call read (for `mcp-fleet plan`). */
  onStateFiles?: (serverId: string, files: readonly string[]) => void;
  /** A server sent its client a request in the middle of a call (elicitation, sampling, roots). */
  onAsk?: (serverId: string, method: string) => void;
  /**
   * Run each built zip function in the Lambda-like sandbox (read-only /var/task, only /tmp
   * writable, Lambda's base tools and variables); needs root on Linux.
   */
  sandbox?: boolean;
  /** Stop environments between invocations, as Lambda freezes them (default true). */
  freeze?: boolean;
  /** How each function's memory is enforced (default `auto`). */
  memory?: MemoryMode;
  /** Environment the local functions inherit (default process.env). */
  env?: NodeJS.ProcessEnv;
  version?: string;
  /**
   * Run servers from `mcp-fleet build`'s host installs where there are some (default: the build
   * folder beside the config, when present); false: always the config's command on PATH.
   */
  buildDir?: string | false;
  /** Policy (`policy:`): bearer token → principal (`--principals`); without, every caller is `dev`. */
  principals?: ReadonlyMap<string, Principal>;
  /** Each policy decision of the gateway. */
  onDecision?: (record: DecisionRecord) => void;
  /** An interceptor's failure (or rebuild), as a terminal line. */
  onInterceptor?: (line: string) => void;
  /** Bundle an interceptor again when its handler file is saved (`dev`'s hot reload). */
  watchInterceptors?: boolean;
  /** Added to the status model (the servers `dev` could not build). */
  statusExtras?: () => Pick<FleetStatus, 'notRunning'>;
}

export interface RunningFleet {
  url: string;
  lambda: LocalLambda;
  gateway: LocalGateway;
  /** Each server's tools (or why they could not be listed), from the start. */
  discovery: CatalogEntry[];
  /** Ids of the servers run from the build's host installs. */
  fromBuild: string[];
  /**
   * Applies a changed config while running (hot reload): new servers are added, changed ones
   * replaced (and `rebuilt` ones, whose install changed in place), removed ones stopped; the
   * others keep their warm environments. The gateway's catalog follows.
   */
  apply(config: FleetConfig, opts?: { rebuilt?: readonly string[] }): Promise<FleetChange>;
  /** With `sandbox`: the servers running in it, and those outside it with the reason. */
  sandbox?: { inside: string[]; outside: { id: string; why: string }[] };
  /** The Node.js web functions run on, when the fleet has one. */
  webNode?: WebNode;
  /** Redacts the secret values this process knows (those taken from the environment). */
  redactor: Redactor;
  /** The status model (what `/status` answers). */
  status(): FleetStatus;
  close(): Promise<void>;
}

export interface FleetChange {
  added: string[];
  replaced: string[];
  removed: string[];
  unchanged: string[];
  /** The catalog entries of the added and replaced servers. */
  listed: CatalogEntry[];
}

export { DEFAULT_PORT } from './defaults.js';

/** Where each server runs from: the build's host installs, and the sandbox when asked for. */
interface LaunchPlan {
  launchPaths: Record<string, readonly string[]>;
  sandbox: SandboxPlan | undefined;
  /** The Node.js web functions run on (when the fleet has one). */
  webNode: WebNode | undefined;
}

async function launchPlan(config: FleetConfig, options: FleetOptions): Promise<LaunchPlan> {
  const buildDir = options.buildDir === false ? undefined : (options.buildDir ?? defaultBuildDir(config));
  const hostInstalls = buildDir === undefined ? {} : await hostPaths(config, buildDir);
  const sandbox =
    options.sandbox === true ? await planSandbox(config, buildDir ?? defaultBuildDir(config)) : undefined;
  const webNode = config.servers.some((s) => s.enabled && s.hosting.host === 'web-function')
    ? await ensureWebFunctionNode()
    : undefined;
  return { launchPaths: { ...hostInstalls, ...sandbox?.launchPaths }, sandbox, webNode };
}

function localLambda(
  config: FleetConfig,
  options: FleetOptions,
  plan: LaunchPlan,
  tracing: LocalTracing | undefined,
): LocalLambda {
  return new LocalLambda(config.servers, {
    ...(tracing ? { tracing } : {}),
    launchPaths: plan.launchPaths,
    ...(plan.sandbox ? { launcher: plan.sandbox.launcher } : {}),
    ...(plan.webNode ? { webNode: plan.webNode } : {}),
    workDir: fleetPaths(config.file).devDir,
    cwd: path.dirname(path.resolve(config.file)),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.queueLimit !== undefined ? { queueLimit: options.queueLimit } : {}),
    ...(options.idleMs !== undefined ? { idleMs: options.idleMs } : {}),
    ...(options.onInvoke ? { onInvoke: options.onInvoke } : {}),
    ...(options.onEventDropped ? { onEventDropped: options.onEventDropped } : {}),
    ...(options.onStateFiles ? { onStateFiles: options.onStateFiles } : {}),
    ...(options.onAsk ? { onAsk: options.onAsk } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.freeze !== undefined ? { freeze: options.freeze } : {}),
    ...(options.memory !== undefined ? { memory: options.memory } : {}),
    ...(config.region !== undefined ? { region: config.region } : {}),
  });
}

function localGateway(config: FleetConfig, lambda: LocalLambda, options: FleetOptions): LocalGateway {
  return new LocalGateway(lambda, {
    name: config.gateway.name,
    version: options.version ?? '0.1.0',
    search: options.search ?? config.gateway.search,
    ...(config.gateway.instructions !== undefined ? { instructions: config.gateway.instructions } : {}),
    ...(options.principals ? { principals: options.principals } : {}),
    ...(config.gateway.sessionTimeout !== undefined
      ? { sessionTimeoutMs: config.gateway.sessionTimeout * 1000 }
      : {}),
    responseStreaming: config.gateway.responseStreaming,
    ...(options.onNotice ? { onNotice: options.onNotice } : {}),
  });
}

/** AgentCore Policy for the config's `policy:` (none without one). */
function accessFor(config: FleetConfig, options: FleetOptions): GatewayAccess | undefined {
  if (config.policy === undefined) return undefined;
  return new GatewayAccess(config.policy, {
    gatewayName: config.gateway.name,
    ...(config.region !== undefined ? { region: config.region } : {}),
    ...(options.principals ? { principals: options.principals } : {}),
    ...(options.onDecision ? { onDecision: options.onDecision } : {}),
  });
}

/** Rate limits (`gateway.rateLimits`) on the gateway's clock; kept counting across a reload where unchanged. */
function applyRateLimits(gateway: LocalGateway, config: FleetConfig, clock: Clock): void {
  const limits = config.gateway.rateLimits;
  if (limits === undefined || limits.length === 0) gateway.rateLimits = undefined;
  else if (gateway.rateLimits) gateway.rateLimits.update(limits);
  else gateway.rateLimits = new GatewayRateLimits(limits, clock);
}

/** Interceptors (`gateway.interceptors`): each its own local function, bundled as the build does. */
async function interceptorsFor(
  config: FleetConfig,
  options: FleetOptions,
  tracing: LocalTracing | undefined,
  guardian: Guardian,
): Promise<GatewayInterceptors | undefined> {
  if (config.gateway.interceptors === undefined || Object.keys(config.gateway.interceptors).length === 0)
    return undefined;
  const buildDir =
    options.buildDir === false || options.buildDir === undefined ? defaultBuildDir(config) : options.buildDir;
  const started = await GatewayInterceptors.start(config.gateway.interceptors, {
    buildDir,
    workDir: fleetPaths(config.file).devDir,
    cwd: path.dirname(path.resolve(config.file)),
    region: config.region ?? options.env?.['AWS_REGION'] ?? process.env['AWS_REGION'] ?? 'us-east-1',
    ...(options.env ? { env: options.env } : {}),
    ...(options.freeze !== undefined ? { freeze: options.freeze } : {}),
    ...(options.memory !== undefined ? { memory: options.memory } : {}),
    ...(options.onInterceptor ? { onCall: options.onInterceptor } : {}),
    ...(tracing ? { tracing } : {}),
    // The servers' guardian: an interceptor's environments die with `dev` too.
    guardian,
  });
  if (options.watchInterceptors === true) started.watch();
  return started;
}

/** What decides how the interceptors run (not where the config says so). */
function interceptorKey(config: FleetConfig): string {
  return JSON.stringify(
    Object.values(config.gateway.interceptors ?? {}).map(({ source: _source, ...rest }) => rest),
  );
}

/** The values of secrets taken from the environment, for the redactor (again after a reload). */
function learnLocalSecrets(redactor: Redactor, lambda: LocalLambda, options: FleetOptions): void {
  const parentEnv = options.env ?? process.env;
  for (const fn of lambda.functions.values())
    for (const name of fn.localSecrets) redactor.add({ [name]: parentEnv[name] });
}

function statusOf(lambda: LocalLambda, gateway: LocalGateway, options: FleetOptions): FleetStatus {
  return { ...fleetStatus(lambda, gateway), ...options.statusExtras?.() };
}

class LocalFleet implements RunningFleet {
  readonly url: string;
  discovery: CatalogEntry[] = [];
  readonly fromBuild: string[];
  readonly sandbox?: { inside: string[]; outside: { id: string; why: string }[] };
  readonly webNode?: WebNode;
  constructor(
    private config: FleetConfig,
    private readonly options: FleetOptions,
    readonly lambda: LocalLambda,
    readonly gateway: LocalGateway,
    /** Secrets taken from the developer's environment: their values never appear in what we print. */
    readonly redactor: Redactor,
    private readonly server: DevServer,
    plan: LaunchPlan,
  ) {
    this.url = server.url;
    this.fromBuild = Object.keys(plan.launchPaths);
    if (plan.sandbox)
      this.sandbox = { inside: Object.keys(plan.sandbox.roots), outside: plan.sandbox.outside };
    if (plan.webNode) this.webNode = plan.webNode;
  }

  status(): FleetStatus {
    return statusOf(this.lambda, this.gateway, this.options);
  }

  async apply(next: FleetConfig, opts: { rebuilt?: readonly string[] } = {}): Promise<FleetChange> {
    const plan = await launchPlan(next, this.options);
    const change = await this.lambda.apply(next.servers, {
      launchPaths: plan.launchPaths,
      ...(plan.sandbox ? { launcher: plan.sandbox.launcher } : {}),
      ...(opts.rebuilt !== undefined ? { replace: opts.rebuilt } : {}),
    });
    this.fromBuild.splice(0, this.fromBuild.length, ...Object.keys(plan.launchPaths));
    learnLocalSecrets(this.redactor, this.lambda, this.options);
    if (next.policy === undefined) this.gateway.access = undefined;
    else if (this.gateway.access) this.gateway.access.update(next.policy);
    else this.gateway.access = accessFor(next, this.options);
    applyRateLimits(this.gateway, next, this.options.rateLimitClock ?? systemClock);
    if (interceptorKey(next) !== interceptorKey(this.config)) {
      const old = this.gateway.interceptors;
      this.gateway.interceptors = await interceptorsFor(
        next,
        this.options,
        this.gateway.tracing,
        this.lambda.guardian,
      );
      this.config = next;
      await old?.shutdown();
    }
    const listed = await this.gateway.refresh([...change.added, ...change.replaced]);
    return { ...change, listed };
  }

  /**
   * No new connections; the functions and interceptors stopped (a call waiting on one is answered
   * with an error, and that answer reaches its client); then the connections and the tracing.
   */
  async close(): Promise<void> {
    await this.server.close(() => {
      this.gateway.close();
      return Promise.all([this.lambda.shutdown(), this.gateway.interceptors?.shutdown()]);
    });
    await this.gateway.tracing?.shutdown();
  }
}

/**
 * Starts the fleet: the local Lambda service, the gateway (policy, interceptors), the dev server;
 * then lists every server's tools. What was started is stopped again when a later step fails.
 */
export async function startFleet(config: FleetConfig, options: FleetOptions = {}): Promise<RunningFleet> {
  const plan = await launchPlan(config, options);
  const redactor = new Redactor();
  const tracing =
    options.tracing === false
      ? undefined
      : new LocalTracing({
          redact: (text) => redactor.redact(text),
          ...(options.otlp === undefined ? {} : { otlp: options.otlp }),
          ...(options.onTraceExport === undefined ? {} : { onExport: options.onTraceExport }),
        });
  const lambda = localLambda(config, options, plan, tracing);
  const gateway = localGateway(config, lambda, options);
  gateway.tracing = tracing;
  gateway.access = accessFor(config, options);
  applyRateLimits(gateway, config, options.rateLimitClock ?? systemClock);
  learnLocalSecrets(redactor, lambda, options);
  let server: DevServer | undefined;
  try {
    gateway.interceptors = await interceptorsFor(config, options, tracing, lambda.guardian);
    server = await startDevServer({
      lambda,
      gateway,
      host: options.host ?? '127.0.0.1',
      port: options.port ?? DEFAULT_PORT,
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
      ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      redactor,
      status: () => statusOf(lambda, gateway, options),
    });
    const fleet = new LocalFleet(config, options, lambda, gateway, redactor, server, plan);
    fleet.discovery = await gateway.discover();
    return fleet;
  } catch (err) {
    await server?.close();
    await gateway.interceptors?.shutdown();
    await lambda.shutdown();
    await tracing?.shutdown();
    throw err;
  }
}
