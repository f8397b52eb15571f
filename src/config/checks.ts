import {
  FUNCTION_NAME_PREFIX,
  GATEWAY_MAX_TARGETS,
  LAMBDA_FUNCTION_NAME_MAX,
  SERVER_ID_MAX,
  SERVER_ID_PATTERN,
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
