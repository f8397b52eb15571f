import path from 'node:path';
import { FUNCTION_ENV } from '../contract/function-env.js';
import {
  FUNCTION_NAME_PREFIX,
  GATEWAY_MAX_TARGETS,
  MANAGED_INSTANCES_MIN_MEMORY_MB,
  LAMBDA_FUNCTION_NAME_MAX,
  SERVER_ID_MAX,
  SERVER_ID_PATTERN,
  WEB_FUNCTION_CONCURRENCY_MAX,
  WEB_FUNCTION_MIN_ENVIRONMENTS,
  type Host,
} from './limits.js';
import { deriveTargetName, type FleetConfig, type ServerConfig } from './model.js';
import type { Problem } from './problems.js';
import type { RawServer } from './schema.js';
import type { PathKey, SourceMap } from './source-map.js';
import { ToolPolicy } from './tool-filter.js';

/** Commands that download the server when it starts. */
const DOWNLOADERS = new Set(['uvx', 'npx', 'bunx', 'pnpx', 'pipx', 'uv']);

interface CheckInput {
  serverIds: readonly string[];
  parsed: ReadonlyMap<string, RawServer>;
  config: FleetConfig | undefined;
  source: SourceMap;
}

/** Where the checks report: an error or a warning at a path (at its key when `key`). */
interface Report {
  error(path: PathKey[], message: string, key?: boolean): void;
  warn(path: PathKey[], message: string, key?: boolean): void;
}

/** A setting of one server: its own place, or `defaults.*` when it inherited the value. */
type SettingPath = (...rest: PathKey[]) => PathKey[];

/** Rules that span fields or servers; the per-field rules live in the schema. */
export function checkFleet({ serverIds, parsed, config, source }: CheckInput): Problem[] {
  const problems: Problem[] = [];
  const report: Report = {
    error: (path, message, key = false) => {
      problems.push(source.problem(path, message, { key }));
    },
    warn: (path, message, key = false) => {
      problems.push(source.problem(path, message, { key, severity: 'warning' }));
    },
  };

  checkIdsAndTargets(serverIds, parsed, source, report);
  if (serverIds.length > GATEWAY_MAX_TARGETS) {
    report.error(
      source.serversPrefix,
      `${serverIds.length} servers, over AgentCore's ${GATEWAY_MAX_TARGETS} targets per gateway; split the fleet into several files`,
    );
  }

  for (const server of config?.servers ?? []) checkServer(server, parsed.get(server.id), source, report);

  if (config?.gateway.auth === 'none') {
    report.warn(
      ['gateway', 'auth'],
      'with auth "none" anyone who can reach the gateway URL can call every tool; use cognito or iam',
    );
  }
  return problems;
}

/** Every id makes a function name and a target name, and no two servers share a target name. */
function checkIdsAndTargets(
  serverIds: readonly string[],
  parsed: ReadonlyMap<string, RawServer>,
  source: SourceMap,
  report: Report,
): void {
  const targets = new Map<string, string>();
  for (const id of serverIds) {
    const at = source.serverPath(id);
    if (!checkId(id, at, report)) continue;
    const explicit = parsed.get(id)?.gateway?.target;
    const target = explicit ?? derivedTarget(id, at, report);
    if (target === undefined) continue;
    const other = targets.get(target);
    if (other !== undefined) {
      report.error(
        explicit !== undefined ? source.serverPath(id, 'gateway', 'target') : at,
        `target name "${target}" is also used by server "${other}"; set gateway.target on one of them`,
        explicit === undefined,
      );
    } else {
      targets.set(target, id);
    }
  }
}

/** Whether the id has only characters a function name may have (one too long is still checked on). */
function checkId(id: string, at: PathKey[], report: Report): boolean {
  if (id === '') {
    report.error(at, "a server id is empty; use letters, digits, '-' and '_'", true);
    return false;
  }
  if (!SERVER_ID_PATTERN.test(id)) {
    const bad = [...new Set(id.replace(/[A-Za-z0-9_-]/g, ''))]
      .map((c) => (c === ' ' ? 'space' : `"${c}"`))
      .join(', ');
    report.error(
      at,
      `server id "${id}" has characters a Lambda function name cannot have (${bad}); use letters, digits, '-' and '_'`,
      true,
    );
    return false;
  }
  if (id.length > SERVER_ID_MAX) {
    report.error(
      at,
      `server id is ${id.length} characters: function name ${FUNCTION_NAME_PREFIX}${id} would be ${FUNCTION_NAME_PREFIX.length + id.length}, over Lambda's ${LAMBDA_FUNCTION_NAME_MAX}; use at most ${SERVER_ID_MAX}`,
      true,
    );
  }
  return true;
}

/** The target name made from an id without gateway.target; undefined (an error) when none can be. */
function derivedTarget(id: string, at: PathKey[], report: Report): string | undefined {
  const target = deriveTargetName(id);
  if (target === undefined) {
    report.error(
      at,
      `server id "${id}" cannot be made into an AgentCore target name; set gateway.target (letters, digits, single '-')`,
      true,
    );
  } else if (target !== id) {
    report.warn(
      at,
      `"${id}" is not a valid AgentCore target name (letters, digits, single '-'); its target is named "${target}"; set gateway.target to choose another`,
      true,
    );
  }
  return target;
}

function checkServer(
  server: ServerConfig,
  raw: RawServer | undefined,
  source: SourceMap,
  report: Report,
): void {
  const at: SettingPath = (...rest) => {
    const own = source.serverPath(server.id, ...rest);
    return source.has(own) || !source.has(['defaults', ...rest]) ? own : ['defaults', ...rest];
  };
  checkLaunch(server, at, report);
  checkAws(server, at, report);
  checkHost(server, raw, (...rest) => source.serverPath(server.id, ...rest), source, report);
  // listingMode and resourcePriority configure an MCP-server target; a Lambda target has neither.
  if (server.gateway.targetType === 'lambda') {
    for (const key of ['listingMode', 'resourcePriority'] as const) {
      if (raw?.gateway?.[key] !== undefined)
        report.warn(
          source.serverPath(server.id, 'gateway', key),
          `${key} applies to mcp targets only; this server is a lambda target (set gateway.targetType: mcp, or remove it)`,
          true,
        );
    }
  }
  checkToolNames(server, at, report);
}

/** How the server is started: env and secrets, the command, the process's life. */
function checkLaunch(server: ServerConfig, at: SettingPath, report: Report): void {
  for (const name of Object.keys(server.secrets)) {
    if (name in server.env)
      report.error(at('secrets', name), `"${name}" is set both in env and in secrets; keep one`, true);
  }

  if (server.deprecated !== undefined) {
    report.warn(at('deprecated'), `deprecated upstream: ${server.deprecated}`);
  }

  const cmd = server.command.split('/').at(-1) ?? server.command;
  if (DOWNLOADERS.has(cmd)) {
    report.warn(
      at('command'),
      `"${cmd}" downloads the server at every cold start (seconds, and network access); declare it under package: and run the installed executable`,
    );
  }

  if (server.isolation === 'per-invocation' && Object.keys(server.recycle).length > 0) {
    report.warn(
      at('recycle'),
      'recycle has no effect with isolation: per-invocation (every call gets a fresh process)',
      true,
    );
  }
}

/** Function settings that are valid but almost surely not meant. */
function checkAws(server: ServerConfig, at: SettingPath, report: Report): void {
  if (server.aws.reservedConcurrency === 0) {
    report.warn(
      at('aws', 'reservedConcurrency'),
      'reserved concurrency 0 stops every invocation of this function; remove it or use 1 or more',
    );
  }
  server.aws.iam.statements.forEach((st, i) => {
    if (st.effect === 'Allow' && st.actions.includes('*')) {
      report.warn(
        at('aws', 'iam', 'statements', i, 'actions'),
        'action "*" allows every AWS action; list the actions the server needs',
      );
    }
  });
}

/** The hosts each host setting applies to, and what the others do instead. */
const HOST_SETTINGS: Record<string, { hosts: readonly Host[]; why: string | ((host: Host) => string) }> = {
  concurrency: {
    hosts: ['web-function', 'managed-instances', 'agentcore-runtime'],
    why: 'a function environment takes one call at a time',
  },
  processes: {
    hosts: ['web-function', 'managed-instances'],
    why: (host) =>
      host === 'agentcore-runtime'
        ? 'a session keeps its state in its one server process'
        : 'a function environment takes one call at a time',
  },
  environmentConcurrency: {
    hosts: ['web-function', 'managed-instances'],
    why: (host) =>
      host === 'agentcore-runtime'
        ? "a session's calls go to its own server process (use concurrency)"
        : 'a function environment takes one call at a time (aws.reservedConcurrency caps its environments)',
  },
  maxEnvironments: {
    hosts: ['web-function', 'managed-instances'],
    why: (host) =>
      host === 'agentcore-runtime'
        ? 'AgentCore Runtime starts one environment per session (its limit is active sessions per account)'
        : 'a function scales by environments up to aws.reservedConcurrency',
  },
  minEnvironments: {
    hosts: ['managed-instances'],
    why: 'only managed instances keep environments running; other hosts scale to zero',
  },
  rateLimit: { hosts: ['web-function'], why: "only a web function's endpoint has a rate limit" },
  capacityProvider: {
    hosts: ['managed-instances'],
    why: 'only managed instances run on EC2 capacity you provide',
  },
  idleTimeout: {
    hosts: ['agentcore-runtime'],
    why: 'only AgentCore Runtime keeps a server per session (Lambda hosts end idle environments on their own)',
  },
  maxLifetime: {
    hosts: ['agentcore-runtime'],
    why: 'only AgentCore Runtime keeps a server per session',
  },
};

/** "host web-function", "hosts web-function and managed-instances", "hosts a, b and c" */
function hostsNamed(hosts: readonly Host[]): string {
  if (hosts.length === 1) return `host ${hosts[0] ?? ''}`;
  return `hosts ${hosts.slice(0, -1).join(', ')} and ${hosts.at(-1) ?? ''}`;
}

/** Commands that start a Python server (which a Node.js zip cannot hold). */
const PYTHON_LAUNCHERS = /^(uvx|uv|pipx|pip3?|python(3(\.\d+)?)?)$/;

/**
 * What a host cannot run or take (settings written on the server itself; defaults are ignored). A
 * host's setting counts as written even when its value has errors of its own (and so is not in
 * `raw`): that it does not fit the host is said beside them.
 */
function checkHost(
  server: ServerConfig,
  raw: RawServer | undefined,
  own: SettingPath,
  source: Pick<SourceMap, 'has'>,
  report: Report,
): void {
  const { host } = server.hosting;
  const written = (...path: string[]): boolean => {
    let at: unknown = raw;
    for (const key of path)
      at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined;
    return at !== undefined || (raw !== undefined && source.has(own(...path)));
  };
  for (const [key, rule] of Object.entries(HOST_SETTINGS)) {
    if (!written(key) || rule.hosts.includes(host)) continue;
    report.error(
      own(key),
      `${key} applies to ${hostsNamed(rule.hosts)}; this server's host is ${host}, and ${typeof rule.why === 'string' ? rule.why : rule.why(host)}; remove it or set host`,
      true,
    );
  }
  if (written('gateway', 'signingService') && host !== 'web-function')
    report.error(
      own('gateway', 'signingService'),
      host === 'agentcore-runtime'
        ? 'signingService applies to host web-function; the gateway signs its calls to an AgentCore Runtime for bedrock-agentcore, always; remove it'
        : `signingService applies to host web-function (the gateway signs its calls to the endpoint); this server's host is ${host}; remove it`,
      true,
    );
  if (written('aws', 'systemLogLevel') && host !== 'web-function')
    report.error(
      own('aws', 'systemLogLevel'),
      `aws.systemLogLevel applies to host web-function (its platform events are JSON records with a level); this server's host is ${host}, whose platform lines are text; remove it`,
      true,
    );
  checkSessionDir(server, own, report);
  checkSessionFile(server, own, report);
  if (host === 'function') return;
  const kind = server.package?.kind;
  const command = server.command.split('/').at(-1) ?? server.command;
  const python = kind === undefined && PYTHON_LAUNCHERS.test(command);
  if ((kind === 'pypi' || kind === 'image' || python) && host !== 'agentcore-runtime') {
    const inherited = raw?.host === undefined ? ' (from defaults.host)' : '';
    const what = python
      ? `"${command}" starts a Python server, which`
      : kind === 'image'
        ? 'an image server'
        : 'a pypi server';
    report.error(
      raw?.host === undefined ? own() : own('host'),
      `host ${host}${inherited} runs a Node.js zip (${host === 'web-function' ? 'nodejs24.x' : 'Node.js 22+'}), and ${what} needs its own container image; ${inherited === '' ? 'use' : 'set'} host: function or agentcore-runtime${inherited === '' ? '' : ' on this server'}`,
      raw?.host === undefined,
    );
  }
  if (server.isolation === 'per-invocation' && raw?.isolation !== undefined) {
    report.error(
      own('isolation'),
      `isolation: per-invocation applies to host function; on ${host} calls share the environment's warm servers (use concurrency: 1 for one call per process)`,
      true,
    );
  }
  if (written('aws', 'vpc')) {
    report.error(
      own('aws', 'vpc'),
      host === 'managed-instances'
        ? 'aws.vpc applies to host function; managed instances run in the subnets of capacityProvider'
        : host === 'agentcore-runtime'
          ? "aws.vpc applies to host function; an AgentCore Runtime's VPC mode is not set up by mcp-fleet yet"
          : 'aws.vpc applies to host function; a web function reaches a VPC through a network connector, which mcp-fleet does not set up yet',
      true,
    );
  }
  checkCapacity(server, raw, own, report);
  if (host === 'web-function') checkWebFunction(server, raw, own, report);
  if (host === 'managed-instances') checkManagedInstances(server, raw, own, report);
  if (host === 'agentcore-runtime') checkAgentCoreRuntime(server, raw, own, report);
}

/** An environment takes no more calls than its processes do, nor a process more than its environment. */
function checkCapacity(
  server: ServerConfig,
  raw: RawServer | undefined,
  own: SettingPath,
  report: Report,
): void {
  const { host, concurrency, processes, environmentConcurrency } = server.hosting;
  if (host !== 'web-function' && host !== 'managed-instances') return;
  const written = raw?.environmentConcurrency;
  const room = concurrency * processes;
  // Above a web function's own maximum is an error of its own (checkWebFunction).
  const overWeb = host === 'web-function' && (written ?? 0) > WEB_FUNCTION_CONCURRENCY_MAX;
  if (written !== undefined && written > room && !overWeb)
    report.warn(
      own('environmentConcurrency'),
      `${written} calls per environment is more than its processes take (concurrency ${concurrency} × processes ${processes} = ${room}); the environment takes ${room}; raise concurrency or processes, or lower environmentConcurrency`,
    );
  if (raw?.concurrency !== undefined && concurrency > environmentConcurrency)
    report.warn(
      own('concurrency'),
      `${concurrency} calls per process is more than the environment takes (environmentConcurrency ${environmentConcurrency}); a process gets at most ${environmentConcurrency}`,
    );
}

/** What a session's folder is written as in a server's env, args and cwd. */
const SESSION_DIR_PLACEHOLDER = `\${${FUNCTION_ENV.sessionDir}}`;

/** `${MCP_FLEET_SESSION_DIR}` in env, args or cwd is a session's folder; no other host replaces it. */
function checkSessionDir(server: ServerConfig, own: SettingPath, report: Report): void {
  if (server.hosting.host === 'agentcore-runtime') return;
  const places: [PathKey[], string][] = [
    ...Object.entries(server.env).map(([name, value]): [PathKey[], string] => [['env', name], value]),
    ...server.args.map((value, i): [PathKey[], string] => [['args', i], value]),
    ...(server.cwd === undefined ? [] : [[['cwd'], server.cwd] as [PathKey[], string]]),
  ];
  for (const [at, value] of places) {
    if (value.includes(SESSION_DIR_PLACEHOLDER))
      report.error(
        own(...at),
        `${SESSION_DIR_PLACEHOLDER} is a session's own folder on host agentcore-runtime; on host ${server.hosting.host} it would reach the server as written; use a path (under /tmp on Lambda) or set host: agentcore-runtime`,
      );
  }
}

/**
 * Servers known to keep their state in a file whose default place is their install folder: on
 * AgentCore each session is a microVM of its own, but `dev`'s sessions share the install folder.
 */
const SESSION_FILES: Readonly<Record<string, { variable: string; file: string }>> = {
  '@modelcontextprotocol/server-memory': { variable: 'MEMORY_FILE_PATH', file: 'memory.jsonl' },
  'mcp-server-memory': { variable: 'MEMORY_FILE_PATH', file: 'memory.jsonl' },
};

/** A known server on agentcore-runtime whose state file is not in the session's folder. */
function checkSessionFile(server: ServerConfig, own: SettingPath, report: Report): void {
  if (server.hosting.host !== 'agentcore-runtime') return;
  const names = [
    server.package?.kind === 'npm' ? server.package.name : undefined,
    path.basename(server.command),
  ];
  const known = names.map((n) => (n === undefined ? undefined : SESSION_FILES[n])).find(Boolean);
  if (known === undefined) return;
  const { variable, file } = known;
  const value = server.env[variable];
  if (value !== undefined && (value.includes(SESSION_DIR_PLACEHOLDER) || path.isAbsolute(value))) return;
  report.warn(
    value === undefined ? own('command') : own('env', variable),
    `${variable} ${value === undefined ? 'is not set' : `is relative ("${value}")`}: this server then keeps its state next to its install, which the sessions of one mcp-fleet dev share (on AgentCore each session is its own microVM); set ${variable}: ${SESSION_DIR_PLACEHOLDER}/${file}`,
  );
}

function checkAgentCoreRuntime(
  server: ServerConfig,
  raw: RawServer | undefined,
  own: SettingPath,
  report: Report,
): void {
  const notHere = (path: PathKey[], message: string): void => {
    report.error(path, message, true);
  };
  if (raw?.memory !== undefined)
    notHere(
      own('memory'),
      'an AgentCore Runtime session has a fixed 2 vCPU and 8 GB; there is no memory setting, remove it',
    );
  if (raw?.aws?.architecture === 'x86_64')
    notHere(
      own('aws', 'architecture'),
      'AgentCore Runtime runs arm64 containers only; remove it or use arm64',
    );
  if (raw?.aws?.reservedConcurrency !== undefined)
    notHere(
      own('aws', 'reservedConcurrency'),
      'AgentCore Runtime has no reserved concurrency (its limit is active sessions per account); remove it',
    );
  if (raw?.aws?.functionUrl !== undefined)
    notHere(
      own('aws', 'functionUrl'),
      'an AgentCore Runtime is reached at its invocation URL; remove functionUrl',
    );
  if (raw?.gateway?.targetType === 'lambda')
    notHere(
      own('gateway', 'targetType'),
      'the gateway reaches an AgentCore Runtime only as an MCP-server target (it has no Lambda invoke); use mcp',
    );
  const session = server.hosting.session;
  if (session !== undefined && session.idleTimeout > session.maxLifetime)
    report.error(
      own(raw?.idleTimeout !== undefined ? 'idleTimeout' : 'maxLifetime'),
      `idleTimeout ${session.idleTimeout} s is above maxLifetime ${session.maxLifetime} s; AgentCore Runtime needs idleTimeout ≤ maxLifetime`,
    );
}

function checkWebFunction(
  server: ServerConfig,
  raw: RawServer | undefined,
  own: SettingPath,
  report: Report,
): void {
  const notHere = (path: PathKey[], message: string): void => {
    report.error(path, message, true);
  };
  if (raw?.memory !== undefined)
    notHere(
      own('memory'),
      'a web function environment has a fixed 2 GB; there is no memory setting, remove it',
    );
  if (raw?.aws?.architecture === 'x86_64')
    notHere(own('aws', 'architecture'), 'a web function runs on arm64 only; remove it or use arm64');
  if (raw?.aws?.reservedConcurrency !== undefined)
    notHere(
      own('aws', 'reservedConcurrency'),
      'a web function has no reserved concurrency; use maxEnvironments',
    );
  if (raw?.aws?.functionUrl !== undefined)
    notHere(own('aws', 'functionUrl'), 'a web function is served on its own endpoint; remove functionUrl');
  if (raw?.gateway?.targetType === 'lambda')
    notHere(
      own('gateway', 'targetType'),
      'the gateway reaches a web function only as an MCP-server target (it has no Lambda invoke); use mcp',
    );
  // As written (the resolved value is capped by concurrency × processes).
  const written = raw?.environmentConcurrency;
  if (written !== undefined && written > WEB_FUNCTION_CONCURRENCY_MAX)
    report.error(
      own('environmentConcurrency'),
      `${written} is above a web function's ${WEB_FUNCTION_CONCURRENCY_MAX} requests per environment; use 1–${WEB_FUNCTION_CONCURRENCY_MAX}`,
    );
  const max = server.hosting.maxEnvironments;
  if (max !== undefined && max < WEB_FUNCTION_MIN_ENVIRONMENTS)
    report.error(
      own('maxEnvironments'),
      `a web function endpoint's maxEnvironments is at least ${WEB_FUNCTION_MIN_ENVIRONMENTS}; use ${WEB_FUNCTION_MIN_ENVIRONMENTS}–10000`,
    );
}

function checkManagedInstances(
  server: ServerConfig,
  raw: RawServer | undefined,
  own: SettingPath,
  report: Report,
): void {
  const { minEnvironments, maxEnvironments } = server.hosting;
  if (server.memory < MANAGED_INSTANCES_MIN_MEMORY_MB)
    report.error(
      own('memory'),
      `${server.memory} MB is below the ${MANAGED_INSTANCES_MIN_MEMORY_MB} MB a managed-instances function takes at least; use ${MANAGED_INSTANCES_MIN_MEMORY_MB} or more (or leave memory unset)`,
    );
  if (minEnvironments !== undefined && maxEnvironments !== undefined && minEnvironments > maxEnvironments)
    report.error(
      own('minEnvironments'),
      `minEnvironments ${minEnvironments} is above maxEnvironments ${maxEnvironments}; use at most ${maxEnvironments}`,
    );
  if (raw?.aws?.reservedConcurrency !== undefined)
    report.error(
      own('aws', 'reservedConcurrency'),
      'managed instances scale by environments and their concurrency; use maxEnvironments and environmentConcurrency',
      true,
    );
  if (server.hosting.capacityProvider === undefined)
    report.warn(
      own('host'),
      'host managed-instances needs capacityProvider (subnetIds, securityGroupIds) to deploy; dev and tests run without it',
    );
}

/** Renames give unique served names of served tools, and verify calls a served tool. */
function checkToolNames(server: ServerConfig, at: SettingPath, report: Report): void {
  const policy = new ToolPolicy(server.tools);
  const served = new Map<string, string>();
  for (const [original, name] of Object.entries(server.tools.rename)) {
    const first = served.get(name);
    if (first !== undefined) {
      report.error(
        at('tools', 'rename', original),
        `"${original}" and "${first}" are both renamed to "${name}"; served names must be unique`,
      );
    }
    served.set(name, original);
    if (!policy.serves(original)) {
      report.warn(
        at('tools', 'rename', original),
        `"${original}" is ${policy.whyNotServed(original, server.tools) ?? ''}, so this rename has no effect`,
        true,
      );
    }
  }
  if (server.verify !== undefined && policy.originalName(server.verify.tool) === undefined) {
    const original = served.get(server.verify.tool) ?? server.verify.tool;
    const why =
      server.tools.rename[server.verify.tool] !== undefined
        ? `renamed to "${server.tools.rename[server.verify.tool] ?? ''}"`
        : (policy.whyNotServed(original, server.tools) ?? 'not served');
    report.error(
      at('verify', 'tool'),
      `"${server.verify.tool}" is ${why}; verify must call a tool that is served`,
    );
  }
}
