import path from 'node:path';
import { defaultBuildDir, hostPaths } from '../../build/build.js';
import { fleetPaths } from '../../config/fleet-paths.js';
import type { FleetConfig } from '../../config/model.js';
import { LocalGateway, type CatalogEntry } from '../gateway/gateway.js';
import { Redactor } from '../../runtime/redact.js';
import type { MemoryMode } from '../lambda/memory.js';
import { planSandbox } from '../lambda/sandboxed.js';
import type { InvocationRecord } from '../lambda/function.js';
import { LocalLambda } from '../lambda/service.js';
import { startDevServer, type DevServerLimits } from './server.js';
import { GatewayAccess, type DecisionRecord } from '../gateway/policy.js';
import { GatewayInterceptors } from '../gateway/interceptors.js';
import type { Principal } from '../../config/cedar.js';

export interface FleetOptions {
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
  /** Redacts the secret values this process knows (those taken from the environment). */
  redactor: Redactor;
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

export const DEFAULT_PORT = 4040;

/**
 * The whole fleet on this machine: a local Lambda service with one function per server, its
 * Invoke API, the AgentCore-compatible gateway, per-server MCP endpoints and the status page.
 */
export async function startFleet(config: FleetConfig, options: FleetOptions = {}): Promise<RunningFleet> {
  const configDir = path.dirname(path.resolve(config.file));
  const buildDir = options.buildDir === false ? undefined : (options.buildDir ?? defaultBuildDir(config));
  const hostInstalls = buildDir === undefined ? {} : await hostPaths(config, buildDir);
  const sandbox =
    options.sandbox === true ? await planSandbox(config, buildDir ?? defaultBuildDir(config)) : undefined;
  const launchPaths = { ...hostInstalls, ...sandbox?.launchPaths };
  const lambda = new LocalLambda(config.servers, {
    launchPaths,
    ...(sandbox ? { launcher: sandbox.launcher } : {}),
    workDir: fleetPaths(config.file).devDir,
    cwd: configDir,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.queueLimit !== undefined ? { queueLimit: options.queueLimit } : {}),
    ...(options.idleMs !== undefined ? { idleMs: options.idleMs } : {}),
    ...(options.onInvoke ? { onInvoke: options.onInvoke } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.freeze !== undefined ? { freeze: options.freeze } : {}),
    ...(options.memory !== undefined ? { memory: options.memory } : {}),
    ...(config.region !== undefined ? { region: config.region } : {}),
  });
  // Secrets taken from the developer's environment: their values never appear in what we print
  // (learnt again when a reload of servers.yaml adds or replaces functions).
  const redactor = new Redactor();
  const parentEnv = options.env ?? process.env;
  const learnLocalSecrets = (): void => {
    for (const fn of lambda.functions.values())
      for (const name of fn.localSecrets) redactor.add({ [name]: parentEnv[name] });
  };
  learnLocalSecrets();
  const gateway = new LocalGateway(lambda, {
    name: config.gateway.name,
    version: options.version ?? '0.1.0',
    search: options.search ?? config.gateway.search,
    ...(config.gateway.instructions !== undefined ? { instructions: config.gateway.instructions } : {}),
    ...(options.principals ? { principals: options.principals } : {}),
  });
  const accessFor = (policy: FleetConfig['policy']): GatewayAccess | undefined =>
    policy === undefined
      ? undefined
      : new GatewayAccess(policy, {
          gatewayName: config.gateway.name,
          ...(config.region !== undefined ? { region: config.region } : {}),
          ...(options.principals ? { principals: options.principals } : {}),
          ...(options.onDecision ? { onDecision: options.onDecision } : {}),
        });
  gateway.access = accessFor(config.policy);
  // Interceptors (`gateway.interceptors`): each its own local function, bundled as the build does.
  const interceptorsFor = async (next: FleetConfig): Promise<GatewayInterceptors | undefined> => {
    if (next.gateway.interceptors === undefined || Object.keys(next.gateway.interceptors).length === 0)
      return undefined;
    const started = await GatewayInterceptors.start(next.gateway.interceptors, {
      buildDir: buildDir ?? defaultBuildDir(next),
      workDir: fleetPaths(config.file).devDir,
      cwd: configDir,
      region: next.region ?? options.env?.['AWS_REGION'] ?? process.env['AWS_REGION'] ?? 'us-east-1',
      ...(options.env ? { env: options.env } : {}),
      ...(options.freeze !== undefined ? { freeze: options.freeze } : {}),
      ...(options.memory !== undefined ? { memory: options.memory } : {}),
      ...(options.onInterceptor ? { onCall: options.onInterceptor } : {}),
    });
    if (options.watchInterceptors === true) started.watch();
    return started;
  };
  try {
    gateway.interceptors = await interceptorsFor(config);
  } catch (err) {
    await lambda.shutdown();
    throw err;
  }
  let server: Awaited<ReturnType<typeof startDevServer>>;
  try {
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
    });
  } catch (err) {
    await gateway.interceptors?.shutdown();
    await lambda.shutdown();
    throw err;
  }
  const discovery = await gateway.discover();
  const fromBuild = Object.keys(launchPaths);
  return {
    url: server.url,
    lambda,
    gateway,
    discovery,
    fromBuild,
    ...(sandbox ? { sandbox: { inside: Object.keys(sandbox.roots), outside: sandbox.outside } } : {}),
    redactor,
    apply: async (next, opts = {}) => {
      const installs = buildDir === undefined ? {} : await hostPaths(next, buildDir);
      const plan =
        options.sandbox === true ? await planSandbox(next, buildDir ?? defaultBuildDir(next)) : undefined;
      const paths = { ...installs, ...plan?.launchPaths };
      const change = await lambda.apply(next.servers, {
        launchPaths: paths,
        ...(plan ? { launcher: plan.launcher } : {}),
        ...(opts.rebuilt !== undefined ? { replace: opts.rebuilt } : {}),
      });
      fromBuild.splice(0, fromBuild.length, ...Object.keys(paths));
      learnLocalSecrets();
      if (next.policy === undefined) gateway.access = undefined;
      else if (gateway.access) gateway.access.update(next.policy);
      else gateway.access = accessFor(next.policy);
      if (interceptorKey(next) !== interceptorKey(config)) {
        const old = gateway.interceptors;
        gateway.interceptors = await interceptorsFor(next);
        config = next;
        await old?.shutdown();
      }
      const listed = await gateway.refresh([...change.added, ...change.replaced]);
      return { ...change, listed };
    },
    close: async () => {
      await server.close();
      await gateway.interceptors?.shutdown();
      await lambda.shutdown();
    },
  };
}

/** What decides how the interceptors run (not where the config says so). */
function interceptorKey(config: FleetConfig): string {
  return JSON.stringify(
    Object.values(config.gateway.interceptors ?? {}).map(({ source: _source, ...rest }) => rest),
  );
}
