import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import * as z from 'zod';
import {
  defaultsSchema,
  FLEET_SETTING_KEYS,
  fleetSchema,
  genericMessage,
  serverSchema,
  type RawFleet,
  type RawServer,
} from './schema.js';
import { ConfigError, hasErrors, type Problem } from './problems.js';
import { SourceMap } from './source-map.js';
import { resolveFleet, type FleetConfig } from './model.js';
import { checkFleet } from './checks.js';
import { checkTags, resolvePolicy } from './policy.js';
import { resolveInterceptors } from './interceptors.js';
import { resolveRateLimits } from './rate-limits.js';

export interface LoadResult {
  /** Present when the file has no errors (it may still have warnings). */
  config?: FleetConfig;
  problems: Problem[];
}

export interface ParseOptions {
  /** The file name used in problems (default `servers.yaml`). */
  file?: string;
}

/** Reads and validates a servers.yaml file, collecting every problem. */
export async function loadConfig(file: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    return {
      problems: [
        {
          severity: 'error',
          file,
          line: 1,
          column: 1,
          path: '',
          message: `cannot read the config: ${reason}; create one with \`mcp-fleet init\``,
        },
      ],
    };
  }
  return parseConfig(text, { file });
}

/** Like {@link loadConfig}, but throws a {@link ConfigError} listing every error. */
export async function loadConfigOrThrow(file: string): Promise<FleetConfig> {
  const result = await loadConfig(file);
  if (result.config === undefined) throw new ConfigError(result.problems);
  return result.config;
}

/** Validates servers.yaml text, collecting every problem with its line and column. */
export function parseConfig(text: string, options: ParseOptions = {}): LoadResult {
  const file = options.file ?? 'servers.yaml';
  const read = readDocument(text, file);
  if (read.top === undefined) return { problems: read.problems };
  const { source, top } = read;
  const problems = read.problems;

  const { seedForm, fleetInput } = fleetInputOf(top, source, problems);
  // 1. The fleet's own settings (servers are checked one by one below, so each gets its own result).
  const fleetResult = parseFleetSettings(fleetInput, source, problems);
  // 2. Each server.
  const servers = isRecord(fleetInput['servers']) ? fleetInput['servers'] : {};
  const { parsed, checkable } = parseServers(servers, source, problems);
  if (Object.keys(servers).length === 0 && isRecord(fleetInput['servers'])) {
    problems.push(
      source.problem(source.serversPrefix, 'no servers defined; add at least one (see `mcp-fleet init`)'),
    );
  }

  // 3. Rules across fields and servers, on what parsed.
  const defaults = fleetResult.success ? fleetResult.data.defaults : safeDefaults(top['defaults'], seedForm);
  const fleetRaw = fleetResult.success ? { ...fleetResult.data, servers: {} } : undefined;
  const config = fleetRaw
    ? resolveFleet(fleetRaw, defaults, checkable, file, (id) => ({
        ...source.locate(source.serverPath(id), { key: true }),
        at: settingPositions(servers[id], (key) => source.locate(source.serverPath(id, key))),
      }))
    : undefined;
  problems.push(...checkFleet({ serverIds: Object.keys(servers), parsed: checkable, config, source }));
  if (config !== undefined && fleetResult.success) {
    problems.push(...resolvePolicyAndInterceptors(config, fleetResult.data, source));
  }

  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  const ok = !hasErrors(problems) && config !== undefined && parsed.size === Object.keys(servers).length;
  return ok ? { config, problems } : { problems };
}

/**
 * The YAML document and its top-level map; without the map (syntax errors other than duplicate
 * keys, unresolved aliases, an empty file, a top level that is not a map), only the problems.
 */
function readDocument(
  text: string,
  file: string,
): { source: SourceMap; problems: Problem[]; top?: Record<string, unknown> } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const source = new SourceMap(file, doc, lineCounter);
  source.text = text;
  const problems: Problem[] = doc.errors.map((err) => {
    const pos = lineCounter.linePos(err.pos[0]);
    return {
      severity: 'error',
      file,
      line: pos.line,
      column: pos.col,
      path: '',
      message: yamlErrorMessage(err.code, err.message, source, err.pos[0]),
    };
  });
  if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) return { source, problems };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    problems.push(unreadableYaml(err, source));
    return { source, problems };
  }
  if (data === null || data === undefined) {
    problems.push(source.problem([], 'the file is empty; expected a map of servers (see `mcp-fleet init`)'));
    return { source, problems };
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    problems.push(source.problem([], 'expected a map of servers (id: definition) at the top level'));
    return { source, problems };
  }
  return { source, problems, top: data as Record<string, unknown> };
}

/** Why a parsed document has no data: most often an alias with no anchor before it. */
function unreadableYaml(err: unknown, source: SourceMap): Problem {
  const alias = source.unresolvedAlias();
  const message = alias
    ? `alias *${alias.name} refers to no anchor (&${alias.name}) defined before it; define the anchor first`
    : `cannot read the YAML: ${(err as Error).message}`;
  return {
    severity: 'error',
    file: source.file,
    line: alias?.line ?? 1,
    column: alias?.column ?? 1,
    path: '',
    message,
  };
}

/**
 * The fleet in its full form. The seed document's form is a bare map of servers (fleet settings
 * there are problems); the full form puts them under `servers:`. Tells the source map which.
 */
function fleetInputOf(
  top: Record<string, unknown>,
  source: SourceMap,
  problems: Problem[],
): { seedForm: boolean; fleetInput: Record<string, unknown> } {
  const seedForm = !('servers' in top);
  source.serversPrefix = seedForm ? [] : ['servers'];
  if (!seedForm) return { seedForm, fleetInput: top };
  for (const key of FLEET_SETTING_KEYS) {
    if (key in top) {
      problems.push(
        source.problem(
          [key],
          `"${key}" is a fleet setting, allowed only when the servers are listed under "servers:"; move the servers under servers:`,
          { key: true },
        ),
      );
    }
  }
  const settings: readonly string[] = FLEET_SETTING_KEYS;
  const servers = Object.fromEntries(Object.entries(top).filter(([k]) => !settings.includes(k)));
  return { seedForm, fleetInput: { servers } };
}

/** The fleet's own settings, with `servers` only checked to be a map. */
function parseFleetSettings(fleetInput: Record<string, unknown>, source: SourceMap, problems: Problem[]) {
  const shell = fleetSchema.extend({
    servers: z.record(z.string(), z.unknown(), {
      error: (iss) => `expected a map of servers (id: definition), got ${describeInput(iss.input)}`,
    }),
  });
  const result = shell.safeParse(fleetInput, { reportInput: true, error: genericMessage });
  if (!result.success) problems.push(...source.fromIssues(result.error.issues, fleetSchema, []));
  return result;
}

/**
 * Each server on its own, so that one bad server does not hide another's problems. `checkable`
 * also holds each failed server without the settings its errors are on, so that the rules across
 * its other settings are checked too (fixing one error then does not reveal the next).
 */
function parseServers(
  servers: Record<string, unknown>,
  source: SourceMap,
  problems: Problem[],
): { parsed: Map<string, RawServer>; checkable: Map<string, RawServer> } {
  const parsed = new Map<string, RawServer>();
  const checkable = new Map<string, RawServer>();
  for (const [id, raw] of Object.entries(servers)) {
    const result = serverSchema.safeParse(raw, { reportInput: true, error: genericMessage });
    if (result.success) {
      parsed.set(id, result.data);
      checkable.set(id, result.data);
      continue;
    }
    problems.push(...source.fromIssues(result.error.issues, serverSchema, source.serverPath(id)));
    const rest = withoutBadSettings(raw, result.error.issues);
    if (rest !== undefined) checkable.set(id, rest);
  }
  return { parsed, checkable };
}

/**
 * A server's settings without those its schema errors are on (unknown keys, wrong values; a
 * missing one takes its parent with it), parsed again; undefined when that cannot parse or when
 * `host` or `command` is wrong (the other rules depend on them, and would mislead).
 */
function withoutBadSettings(raw: unknown, issues: readonly z.core.$ZodIssue[]): RawServer | undefined {
  if (!isRecord(raw)) return undefined;
  const input: unknown = structuredClone(raw);
  for (let round = 0, left = issues; round < 5; round++) {
    for (const issue of left) {
      if (
        issue.path[0] === 'host' ||
        issue.path[0] === 'command' ||
        (issue.path.length === 0 && issue.code !== 'unrecognized_keys')
      )
        return undefined;
      if (issue.code === 'unrecognized_keys') {
        const at = valueAt(input, issue.path);
        if (isRecord(at)) for (const key of issue.keys) Reflect.deleteProperty(at, key);
      } else dropAt(input, issue.path);
    }
    const again = serverSchema.safeParse(input);
    if (again.success) return again.data;
    left = again.error.issues;
  }
  return undefined;
}

/** Where each top-level setting of a server is written (its value). */
function settingPositions(
  raw: unknown,
  locate: (key: string) => { line: number; column: number },
): Record<string, { line: number; column: number }> {
  return isRecord(raw) ? Object.fromEntries(Object.keys(raw).map((key) => [key, locate(key)])) : {};
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path)
    at = isRecord(at) || Array.isArray(at) ? (at as Record<PropertyKey, unknown>)[key] : undefined;
  return at;
}

/**
 * Removes the setting at `path`: the whole list for an item of one, the parent for a value that
 * is missing.
 */
function dropAt(value: unknown, path: readonly PropertyKey[]): void {
  let end = path.length;
  while (end > 0 && typeof path[end - 1] === 'number') end--;
  while (end > 0 && valueAt(value, path.slice(0, end)) === undefined) end--;
  const parent = valueAt(value, path.slice(0, end - 1));
  if (end > 0 && isRecord(parent)) Reflect.deleteProperty(parent, path[end - 1] as PropertyKey);
}

/**
 * Into the resolved config: the access policy (Cedar, parsed by the engine) and the interceptors
 * (handler files beside the config); and the tag counts.
 */
function resolvePolicyAndInterceptors(
  config: FleetConfig,
  fleet: Pick<RawFleet, 'policy' | 'gateway'>,
  source: SourceMap,
): Problem[] {
  const policy = resolvePolicy(fleet.policy, config, source);
  const problems = [...policy.problems];
  if (policy.policy !== undefined) config.policy = policy.policy;
  problems.push(...checkTags(config, source));
  const interceptors = resolveInterceptors(
    fleet.gateway?.interceptors,
    config.file,
    config.gateway.name,
    source,
  );
  problems.push(...interceptors.problems);
  if (interceptors.interceptors !== undefined) config.gateway.interceptors = interceptors.interceptors;
  const limits = resolveRateLimits(
    fleet.gateway?.rateLimits,
    { auth: config.gateway.auth, targets: new Set(config.servers.map((s) => s.gateway.target)) },
    source,
  );
  problems.push(...limits.problems);
  if (limits.rateLimits !== undefined) config.gateway.rateLimits = limits.rateLimits;
  return problems;
}

function safeDefaults(raw: unknown, seedForm: boolean): z.output<typeof defaultsSchema> | undefined {
  if (seedForm) return undefined;
  const result = defaultsSchema.safeParse(raw);
  return result.success ? result.data : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeInput(value: unknown): string {
  return Array.isArray(value)
    ? 'a list'
    : value === null
      ? 'nothing (null)'
      : typeof value === 'object'
        ? 'a map'
        : JSON.stringify(value);
}

function yamlErrorMessage(code: string, message: string, source: SourceMap, offset: number): string {
  if (code === 'DUPLICATE_KEY') {
    const dup = source.duplicateAt(offset);
    if (dup !== undefined) {
      const where = dup.firstLine === undefined ? '' : ` (first defined on line ${dup.firstLine})`;
      return dup.isServer
        ? `duplicate server id "${dup.key}"${where}; each server id must be unique`
        : `duplicate key "${dup.key}"${where}; each key may appear once`;
    }
  }
  if (code === 'MULTIPLE_DOCS') {
    return "YAML syntax error: a second document starts here ('---'); a servers.yaml holds one document";
  }
  return `YAML syntax error: ${message.replace(/ at line \d+, column \d+:?\s*$/s, '')}`;
}
