import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BuildError } from '../../build/exec.js';
import { functionErrorMessage, isErrorResult } from '../../contract/function-call.js';
import { formatProblem, loadConfig, type FleetConfig } from '../../config/index.js';
import { fleetPaths } from '../../config/fleet-paths.js';
import type { CatalogEntry } from '../../local/gateway/gateway.js';
import { DEFAULT_PORT, startFleet, type RunningFleet } from '../../local/dev/fleet.js';
import type { InvocationRecord } from '../../local/lambda/function.js';
import { sameServer } from '../../config/changes.js';
import { watchFile } from '../../platform/watch.js';
import { parseAllowedHost, parseAllowedOrigin } from '../../local/dev/security.js';
import { CliError, EXIT } from '../exit.js';
import { lockLines, runBuild } from './build.js';
import { plural } from './validate.js';
import { decisionLine } from '../../local/gateway/policy.js';
import { loadPrincipals } from '../../local/gateway/identity.js';
import type { Principal } from '../../config/cedar.js';

export interface DevOptions {
  config: string;
  port?: string;
  host: string;
  token?: string;
  allowedHost?: string[];
  allowedOrigin?: string[];
  concurrency?: string;
  search?: boolean;
  /** false (--no-build): run servers from earlier builds or their command on PATH, build nothing. */
  build?: boolean;
  /** false (--no-watch): no hot reload of the config. */
  watch?: boolean;
  /** Build progress as plain lines (default when stdout is not a terminal). */
  plain?: boolean;
  /** false with --no-freeze. */
  freeze: boolean;
  memoryLimits: string;
  sandbox?: boolean;
  /** Policy: a file of bearer token → principal (`--principals`). */
  principals?: string;
}

const MEMORY_MODES = ['auto', 'cgroup', 'proc', 'off'] as const;

function callLine(r: InvocationRecord): string {
  const time = new Date().toISOString().slice(11, 23);
  const what = r.toolName ?? jsonRpcMethod(r);
  const status =
    r.functionError !== undefined
      ? `FAILED (${functionErrorMessage(r.payload) ?? r.functionError})`
      : isErrorResult(r.payload) || (r.payload as { error?: unknown } | null)?.error !== undefined
        ? 'error result'
        : 'ok';
  const init = r.report.initDurationMs !== undefined ? `, init ${r.report.initDurationMs.toFixed(0)} ms` : '';
  const memory = `${r.report.maxMemoryUsedMb}/${r.report.memorySizeMb} MB`;
  return `${time} ${r.functionName} ${what} ${r.durationMs.toFixed(1)} ms${r.coldStart ? ` (cold start${init})` : ''} ${memory} ${status}`;
}

function jsonRpcMethod(r: InvocationRecord): string {
  const p = r.payload as { id?: unknown; result?: unknown; statusCode?: unknown } | null;
  if (typeof p?.statusCode === 'number') return `HTTP ${p.statusCode}`;
  return 'json-rpc';
}

/** Servers `dev` builds: the enabled ones with a package (the others run their command on PATH). */
const buildable = (config: FleetConfig): string[] =>
  config.servers.filter((s) => s.enabled && s.package !== undefined).map((s) => s.id);

/** The config without the servers whose build failed (they are reported, not run). */
const runnable = (config: FleetConfig, failed: ReadonlyMap<string, BuildError>): FleetConfig => ({
  ...config,
  servers: config.servers.filter((s) => !failed.has(s.id)),
});

/** One line per catalog entry: its tools, or why it has none. */
function catalogLines(entries: readonly CatalogEntry[], width: number): string[] {
  return entries.map((e) => {
    const status =
      e.error !== undefined
        ? `FAILED  ${e.error}`
        : `${String(e.tools.length).padStart(3)} tools${e.warnings.length > 0 ? ` (${e.warnings.length} schema warnings)` : ''}`;
    return `  ${e.serverId.padEnd(width)}  ${status}`;
  });
}

export async function devCommand(options: DevOptions): Promise<number> {
  const configFile = options.config;
  // Its files (build folder, work folder, state file): the config's own (throws for an unusable name).
  const paths = fleetPaths(configFile);
  const initialText = await readFile(configFile, 'utf8').catch(() => undefined);
  const { config, problems } = await loadConfig(configFile);
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
  if (!config)
    throw new CliError(
      `${configFile} is not valid; fix the problems above (mcp-fleet validate ${configFile})`,
    );
  const port = options.port === undefined ? DEFAULT_PORT : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliError(`--port ${options.port ?? ''}: not a port number`, EXIT.USAGE);
  const concurrency = options.concurrency === undefined ? undefined : Number(options.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new CliError(
      `--concurrency ${options.concurrency ?? ''}: use a whole number of environments, 1 or more`,
      EXIT.USAGE,
    );
  }
  const memory = MEMORY_MODES.find((m) => m === options.memoryLimits);
  if (memory === undefined)
    throw new CliError(
      `--memory-limits ${options.memoryLimits}: use one of ${MEMORY_MODES.join(', ')}`,
      EXIT.USAGE,
    );
  let allowedHosts: string[];
  let allowedOrigins: string[];
  try {
    allowedHosts = (options.allowedHost ?? []).map(parseAllowedHost);
    allowedOrigins = (options.allowedOrigin ?? []).map(parseAllowedOrigin);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.USAGE);
  }
  let principals: Map<string, Principal> | undefined;
  if (options.principals !== undefined) {
    try {
      principals = await loadPrincipals(options.principals);
    } catch (e) {
      throw new CliError((e as Error).message, EXIT.USAGE);
    }
  }
  // Every line printed goes through the redactor (secret values taken from the environment).
  let redact = (text: string): string => text;
  const out = (line: string): void => {
    process.stdout.write(`${redact(line)}\n`);
  };
  const err = (line: string): void => {
    process.stderr.write(`${redact(line)}\n`);
  };

  /** Servers whose last build failed, with the reason: not run until a build of theirs succeeds. */
  const failed = new Map<string, BuildError>();
  /**
   * Builds what is not built yet (incremental: an unchanged server is reused), under the task
   * list of `mcp-fleet build`. Answers the ids whose install was staged again.
   */
  const build = async (cfg: FleetConfig, ids: readonly string[]): Promise<string[]> => {
    if (options.build === false || ids.length === 0) return [];
    let result;
    try {
      result = await runBuild(cfg, { only: [...ids], ...(options.plain === true ? { plain: true } : {}) });
    } catch (e) {
      // The lock file or the build folder cannot be used: every server of this build fails.
      for (const id of ids) failed.set(id, new BuildError(id, (e as Error).message));
      err(`build failed: ${(e as Error).message}`);
      return [];
    }
    for (const b of result.built) failed.delete(b.server.id);
    for (const f of result.failed) {
      failed.set(f.serverId, f);
      err(`FAILED ${f.detail}`);
    }
    for (const line of lockLines(result.lock, configFile)) out(line);
    return result.built.filter((b) => b.staged).map((b) => b.server.id);
  };

  const enabled = config.servers.filter((s) => s.enabled).length;
  const toBuild = buildable(config);
  if (options.build !== false && toBuild.length > 0)
    out(`mcp-fleet dev: building what is not built yet (${plural(toBuild.length, 'server')}) …`);
  await build(config, toBuild);
  out(`mcp-fleet dev: starting ${plural(enabled - failed.size, 'server')} from ${configFile} …`);
  let started = false;
  let fleet: RunningFleet;
  try {
    fleet = await startFleet(runnable(config, failed), {
      host: options.host,
      port,
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(allowedHosts.length > 0 ? { allowedHosts } : {}),
      ...(allowedOrigins.length > 0 ? { allowedOrigins } : {}),
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(options.search !== undefined ? { search: options.search } : {}),
      freeze: options.freeze,
      memory,
      ...(options.sandbox === true ? { sandbox: true } : {}),
      onInvoke: (r) => {
        if (started) out(callLine(r));
      },
      ...(principals ? { principals } : {}),
      onDecision: (r) => {
        out(decisionLine(r));
      },
      onInterceptor: (line) => {
        out(line);
      },
      watchInterceptors: options.watch !== false,
    });
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const { redactor } = fleet;
  redact = (text) => redactor.redact(text);

  if (fleet.fromBuild.length > 0)
    out(
      `  run from the build (${path.relative(process.cwd(), paths.buildDir) || '.'}): ${fleet.fromBuild.join(', ')}${fleet.fromBuild.length < fleet.lambda.functions.size ? '; the others: their command on PATH' : ''}`,
    );
  if (fleet.sandbox) {
    out(
      `  in the Lambda sandbox (read-only /var/task, only /tmp writable): ${fleet.sandbox.inside.join(', ') || 'none'}`,
    );
    for (const o of fleet.sandbox.outside) out(`  ${o.id}: outside the sandbox: ${o.why}`);
  }
  for (const fn of fleet.lambda.functions.values()) {
    if (fn.localSecrets.length > 0)
      out(
        `  ${fn.server.id}: ${fn.localSecrets.join(', ')} from your environment, not from its secret store`,
      );
  }
  const ids = [...fleet.discovery.map((e) => e.serverId), ...failed.keys()];
  const width = Math.max(...ids.map((id) => id.length), 6);
  out('');
  for (const line of catalogLines(fleet.discovery, width)) out(line);
  for (const [id, f] of failed) out(`  ${id.padEnd(width)}  FAILED  build: ${f.message}`);
  out('');
  if (config.policy) {
    out(
      `  policy                              ${config.policy.mode}, ${config.policy.policies.length} polic${config.policy.policies.length === 1 ? 'y' : 'ies'}; callers: ${principals ? `${plural(principals.size, 'token')} from ${options.principals ?? ''}` : 'every one is AgentCore::OAuthUser "dev" (no claims; --principals gives tokens)'}`,
    );
  }
  out(`  MCP gateway (AgentCore-compatible)  ${fleet.url}/mcp`);
  out(`  one server (Function URL front)     ${fleet.url}/servers/<id>/mcp`);
  out(
    `  Lambda Invoke API                   ${fleet.url}   (aws lambda invoke --endpoint-url ${fleet.url} …)`,
  );
  out(
    `  status                              ${fleet.url}/${options.token !== undefined ? '   (it asks for the --token; or open /#token=…, which stays in the browser)' : ''}`,
  );
  out('');
  out(
    `  browser pages allowed               ${[`this server's own (${fleet.url})`, ...allowedOrigins].join(', ')}${allowedOrigins.length === 0 ? '; --allowed-origin adds one' : ''}`,
  );
  if (allowedHosts.length > 0) out(`  also answers to                     ${allowedHosts.join(', ')}`);
  out('');

  // Hot reload: the servers of a changed config are applied; an invalid one is reported and the
  // fleet keeps running on the last good config.
  let current = config;
  const reload = async (): Promise<void> => {
    const { config: next, problems: found } = await loadConfig(configFile);
    for (const p of found) err(formatProblem(p));
    if (!next) {
      const errors = found.filter((p) => p.severity === 'error').length;
      err(`✗ ${configFile}: ${plural(errors, 'error')}; still running the last good config`);
      return;
    }
    const before = new Map(current.servers.map((s) => [s.id, s]));
    const changed = next.servers
      .filter((s) => {
        const was = before.get(s.id);
        return s.enabled && (was === undefined || !sameServer(was, s) || failed.has(s.id));
      })
      .map((s) => s.id);
    const nextIds = new Set(next.servers.filter((s) => s.enabled).map((s) => s.id));
    for (const id of failed.keys()) if (!nextIds.has(id)) failed.delete(id);
    const fleetLevel = ['stack', 'gateway', 'region'].filter(
      (k) =>
        JSON.stringify((current as unknown as Record<string, unknown>)[k]) !==
        JSON.stringify((next as unknown as Record<string, unknown>)[k]),
    );
    out(`\n${configFile} changed: ${changed.length > 0 ? `building ${changed.join(', ')} …` : 'applying …'}`);
    const rebuilt = await build(
      next,
      changed.filter((id) => buildable(next).includes(id)),
    );
    const change = await fleet.apply(runnable(next, failed), { rebuilt });
    current = next;
    const parts = [
      change.added.length > 0 ? `added ${change.added.join(', ')}` : '',
      change.replaced.length > 0 ? `replaced ${change.replaced.join(', ')}` : '',
      change.removed.length > 0 ? `removed ${change.removed.join(', ')}` : '',
      `${plural(change.unchanged.length, 'server')} unchanged, still serving`,
    ].filter((p) => p !== '');
    out(`reloaded ${configFile}: ${parts.join('; ')}`);
    const w = Math.max(
      6,
      ...change.listed.map((e) => e.serverId.length),
      ...[...failed.keys()].map((k) => k.length),
    );
    for (const line of catalogLines(change.listed, w)) out(line);
    for (const id of changed) {
      const f = failed.get(id);
      if (f) out(`  ${id.padEnd(w)}  FAILED  build: ${f.message}`);
    }
    if (fleetLevel.length > 0)
      out(
        `  ${fleetLevel.join(', ')} changed: restart mcp-fleet dev to apply ${fleetLevel.length > 1 ? 'them' : 'it'}`,
      );
  };
  const watcher =
    options.watch === false
      ? undefined
      : watchFile(configFile, reload, {
          ...(initialText !== undefined ? { initialText } : {}),
          onError: (e) => {
            err(`reload of ${configFile} failed: ${e.message}; still running the last applied config`);
          },
        });

  // Ready only once everything a client needs is in place: the state file that `invoke`, `tools`
  // and scripts read (the config's own: fleets of one folder each have theirs), and the watcher the
  // line announces.
  const state = paths.devState;
  await mkdir(path.dirname(state), { recursive: true });
  await writeFile(
    state,
    `${JSON.stringify({ url: fleet.url, pid: process.pid, config: path.resolve(configFile) }, null, 2)}\n`,
  );

  const down = fleet.discovery.filter((e) => e.error !== undefined).length + failed.size;
  const total = fleet.discovery.reduce((n, e) => n + e.tools.length, 0);
  out(
    `${fleet.discovery.length + failed.size - down} of ${enabled} servers up, ${total} tools${down > 0 ? `; ${down} failed (${failed.size > 0 ? 'see above; ' : ''}their calls get that error)` : ''}.${options.watch !== false ? ` Watching ${configFile} for changes.` : ''} Ctrl-C to stop.`,
  );
  started = true;

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      out(`\n${signal}: stopping every server …`);
      resolve();
    };
    process.once('SIGINT', () => {
      stop('SIGINT');
    });
    process.once('SIGTERM', () => {
      stop('SIGTERM');
    });
  });
  await watcher?.close();
  await fleet.close();
  await rm(state, { force: true });
  out('stopped.');
  return EXIT.OK;
}
