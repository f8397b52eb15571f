/**
 * One `mcp-fleet dev` run, as the command drives it: the options read once (every problem with
 * them collected and reported together), then start (build, the fleet, the state file, the
 * watcher, and only then the ready line), reloads while it runs, and stop.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Principal } from '../../config/cedar.js';
import { serverChanges } from '../../config/changes.js';
import { fleetPaths, type FleetPaths } from '../../config/fleet-paths.js';
import { formatProblem, loadConfig } from '../../config/index.js';
import type { FleetConfig } from '../../config/model.js';
import { FLEET_ERROR, FleetError } from '../../contract/errors.js';
import { watchFile, type FileWatcher } from '../../platform/watch.js';
import { loadPrincipals } from '../gateway/identity.js';
import { MeasurementRecorder, measurementsDir, type MeasuredServer } from '../lambda/measurements.js';
import type { MemoryMode } from '../lambda/memory.js';
import { tmpIsolationNotes } from '../lambda/own-tmp.js';
import { claimDevFiles, type DevClaim } from './claim.js';
import { DEFAULT_PORT } from './defaults.js';
import { startFleet, type RunningFleet } from './fleet.js';
import { parseAllowedHost, parseAllowedOrigin } from './security.js';
import type { FleetStatus } from './status.js';
import { jsonOutput, textOutput, type DevOutput, type ReadyView } from './terminal.js';

/** `mcp-fleet dev`'s options, as the command line gives them. */
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
  /** false with --no-tracing. */
  tracing?: boolean;
  /** OTLP/HTTP endpoint for the spans (`--otlp`). */
  otlp?: string;
  memoryLimits: string;
  sandbox?: boolean;
  /** Policy: a file of bearer token → principal (`--principals`). */
  principals?: string;
  /** One JSON object per line on stdout instead of text. */
  json?: boolean;
}

/** The options, read and checked. */
export interface DevSettings {
  configFile: string;
  paths: FleetPaths;
  port: number;
  host: string;
  token?: string;
  allowedHosts: string[];
  allowedOrigins: string[];
  concurrency?: number;
  search?: boolean;
  build: boolean;
  watch: boolean;
  plain: boolean;
  freeze: boolean;
  tracing: boolean;
  otlp?: string;
  memory: MemoryMode;
  sandbox: boolean;
  principals?: { file: string; map: Map<string, Principal> };
  json: boolean;
}

/** Wrong options: every problem found, one per line. */
export class DevOptionsError extends FleetError {
  constructor(readonly problems: readonly string[]) {
    super(FLEET_ERROR.usage, problems.join('\n'));
  }
}

const MEMORY_MODES = ['auto', 'cgroup', 'proc', 'off'] as const;

/** Collects the problem of one option instead of stopping at it. */
function checked<T>(problems: string[], read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    problems.push((err as Error).message);
    return undefined;
  }
}

function port(value: string | undefined): number {
  const n = value === undefined ? DEFAULT_PORT : Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port ${value ?? ''}: not a port number`);
  return n;
}

function concurrency(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--concurrency ${value}: use a whole number of environments, 1 or more`);
  return n;
}

/** `--otlp`: an http(s) URL of an OTLP/HTTP traces endpoint. */
function otlpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(
      `--otlp ${value}: not a URL; give the collector's OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`--otlp ${value}: use an http or https URL (OTLP over HTTP)`);
  return url.href;
}

function memoryMode(value: string): MemoryMode {
  const mode = MEMORY_MODES.find((m) => m === value);
  if (mode === undefined) throw new Error(`--memory-limits ${value}: use one of ${MEMORY_MODES.join(', ')}`);
  return mode;
}

/** Reads every option once; throws a {@link DevOptionsError} with all the problems found. */
export async function devSettings(o: DevOptions): Promise<DevSettings> {
  const problems: string[] = [];
  const paths = checked(problems, () => fleetPaths(o.config));
  const settings = {
    port: checked(problems, () => port(o.port)),
    concurrency: checked(problems, () => concurrency(o.concurrency)),
    memory: checked(problems, () => memoryMode(o.memoryLimits)),
    otlp: o.otlp === undefined ? undefined : checked(problems, () => otlpUrl(o.otlp ?? '')),
    allowedHosts: (o.allowedHost ?? []).flatMap((h) => checked(problems, () => [parseAllowedHost(h)]) ?? []),
    allowedOrigins: (o.allowedOrigin ?? []).flatMap(
      (h) => checked(problems, () => [parseAllowedOrigin(h)]) ?? [],
    ),
  };
  let principals: DevSettings['principals'];
  if (o.principals !== undefined) {
    const file = o.principals;
    const map = await loadPrincipals(file).catch((err: unknown) => {
      problems.push((err as Error).message);
      return undefined;
    });
    if (map) principals = { file, map };
  }
  if (
    problems.length > 0 ||
    paths === undefined ||
    settings.port === undefined ||
    settings.memory === undefined
  )
    throw new DevOptionsError(problems);
  return {
    configFile: o.config,
    paths,
    port: settings.port,
    host: o.host,
    ...(o.token !== undefined ? { token: o.token } : {}),
    allowedHosts: settings.allowedHosts,
    allowedOrigins: settings.allowedOrigins,
    ...(settings.concurrency !== undefined ? { concurrency: settings.concurrency } : {}),
    ...(o.search !== undefined ? { search: o.search } : {}),
    build: o.build !== false,
    watch: o.watch !== false,
    plain: o.plain === true,
    freeze: o.freeze,
    tracing: o.tracing !== false,
    ...(settings.otlp !== undefined ? { otlp: settings.otlp } : {}),
    memory: settings.memory,
    sandbox: o.sandbox === true,
    ...(principals ? { principals } : {}),
    json: o.json === true,
  };
}

/** A build of some servers, as the command runs it (its task list), and how it went. */
export interface DevBuildResult {
  /** Built (or reused) now. */
  built: string[];
  /** Staged again now: their install changed in place. */
  staged: string[];
  failed: { id: string; reason: string }[];
}

/** What the session needs from the command: the build, and where lines go. */
export interface DevHost {
  /** Builds these servers; throws when the build cannot run at all (the lock file, the folder). */
  build(config: FleetConfig, ids: readonly string[]): Promise<DevBuildResult>;
  /** stdout (text, or JSON lines with `--json`). */
  out(line: string): void;
  /** stderr: problems, always text. */
  err(line: string): void;
}

/** The config could not be loaded (its problems were printed). */
export class DevConfigError extends FleetError {
  constructor(file: string) {
    super(
      FLEET_ERROR.configInvalid,
      `${file} is not valid; fix the problems above (mcp-fleet validate ${file})`,
    );
  }
}

/** Servers `dev` builds: the enabled ones with a package (the others run their command on PATH). */
const buildable = (config: FleetConfig): string[] =>
  config.servers.filter((s) => s.enabled && s.package !== undefined).map((s) => s.id);

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export class DevSession {
  private fleet: RunningFleet | undefined;
  private watcher: FileWatcher | undefined;
  private current: FleetConfig | undefined;
  /** Servers whose last build failed, with the reason: not run until a build of theirs succeeds. */
  private readonly failed = new Map<string, string>();
  private readonly output: DevOutput;
  /** Calls are printed once the fleet is ready (discovery's calls are not). */
  private ready = false;
  /** What `mcp-fleet plan` reads: each server's REPORT figures, kept across runs. */
  private readonly measurements: MeasurementRecorder;
  /** This process's claim of the config's dev files, from start to stop. */
  private claim: DevClaim | undefined;

  constructor(
    readonly settings: DevSettings,
    private readonly host: DevHost,
  ) {
    // Every line printed goes through the fleet's redactor (secret values taken from the environment).
    const out = (line: string): void => {
      host.out(this.redact(line));
    };
    this.output = settings.json ? jsonOutput(out) : textOutput(out);
    this.measurements = new MeasurementRecorder(measurementsDir(settings.paths.devDir), (id) =>
      measuredServer(this.current, id),
    );
  }

  private redact(text: string): string {
    return this.fleet?.redactor.redact(text) ?? text;
  }

  private say(line: string): void {
    if (!this.settings.json) this.host.out(this.redact(line));
  }

  private warn(line: string): void {
    this.host.err(this.redact(line));
  }

  /** The status model, with the servers that did not build. */
  status(): FleetStatus | undefined {
    return this.fleet?.status();
  }

  /** Builds, starts the fleet, writes the state file, watches the config; then says it is ready. */
  async start(): Promise<void> {
    const { configFile, paths } = this.settings;
    // Before anything is built or written: the config's files are this process's alone.
    this.claim = await claimDevFiles(paths.devClaim, paths.devState, path.resolve(configFile));
    const initialText = await readFile(configFile, 'utf8').catch(() => undefined);
    const config = await this.load();
    if (!config) throw new DevConfigError(configFile);
    this.current = config;
    const toBuild = this.settings.build ? buildable(config) : [];
    if (toBuild.length > 0)
      this.say(`mcp-fleet dev: building what is not built yet (${plural(toBuild.length, 'server')}) …`);
    await this.build(config, toBuild);
    const enabled = config.servers.filter((s) => s.enabled).length;
    this.say(`mcp-fleet dev: starting ${plural(enabled - this.failed.size, 'server')} from ${configFile} …`);
    this.fleet = await startFleet(this.runnable(config), this.fleetOptions());
    // Ready only once everything a client needs is in place: the watcher the line announces, and
    // the state file that `invoke`, `tools` and scripts read (the config's own).
    if (this.settings.watch) this.watch(initialText);
    await this.writeState(this.fleet.url);
    this.ready = true;
    this.output.ready(this.fleet.status(), this.readyView(config, this.fleet));
  }

  private async load(): Promise<FleetConfig | undefined> {
    const { config, problems } = await loadConfig(this.settings.configFile);
    for (const p of problems) this.warn(formatProblem(p));
    return config;
  }

  /** The config without the servers whose build failed (they are reported, not run). */
  private runnable(config: FleetConfig): FleetConfig {
    return { ...config, servers: config.servers.filter((s) => !this.failed.has(s.id)) };
  }

  private fleetOptions(): Parameters<typeof startFleet>[1] {
    const s = this.settings;
    return {
      host: s.host,
      port: s.port,
      ...(s.token !== undefined ? { token: s.token } : {}),
      ...(s.allowedHosts.length > 0 ? { allowedHosts: s.allowedHosts } : {}),
      ...(s.allowedOrigins.length > 0 ? { allowedOrigins: s.allowedOrigins } : {}),
      ...(s.concurrency !== undefined ? { concurrency: s.concurrency } : {}),
      ...(s.search !== undefined ? { search: s.search } : {}),
      freeze: s.freeze,
      tracing: s.tracing,
      ...(s.otlp !== undefined ? { otlp: s.otlp } : {}),
      memory: s.memory,
      ...(s.sandbox ? { sandbox: true } : {}),
      ...(s.principals ? { principals: s.principals.map } : {}),
      onInvoke: (r) => {
        this.measurements.record(r);
        if (this.ready) this.output.call(r);
      },
      onStateFiles: (id, files) => {
        this.measurements.recordState(id, files);
      },
      onAsk: (id, method) => {
        this.measurements.recordAsk(id, method);
      },
      onDecision: (r) => {
        this.output.decision(r);
      },
      onInterceptor: (line) => {
        this.output.interceptor(line);
      },
      onEventDropped: (functionName, why) => {
        this.output.eventDropped(functionName, why);
      },
      onTraceExport: (ok, message) => {
        this.output.traceExport(ok, message);
      },
      onNotice: (line) => {
        this.output.notice(line);
      },
      watchInterceptors: s.watch,
      statusExtras: () =>
        this.failed.size === 0
          ? {}
          : { notRunning: [...this.failed].map(([id, reason]) => ({ id, reason: `build: ${reason}` })) },
    };
  }

  /**
   * Builds what is not built yet (incremental: an unchanged server is reused). Answers the ids
   * whose install was staged again.
   */
  private async build(config: FleetConfig, ids: readonly string[]): Promise<string[]> {
    if (!this.settings.build || ids.length === 0) return [];
    let result;
    try {
      result = await this.host.build(config, ids);
    } catch (err) {
      // The lock file or the build folder cannot be used: every server of this build fails.
      for (const id of ids) this.failed.set(id, (err as Error).message);
      this.warn(`build failed: ${(err as Error).message}`);
      return [];
    }
    for (const id of result.built) this.failed.delete(id);
    for (const f of result.failed) this.failed.set(f.id, f.reason);
    return result.staged;
  }

  private readyView(config: FleetConfig, fleet: RunningFleet): ReadyView {
    const s = this.settings;
    return {
      url: fleet.url,
      configFile: s.configFile,
      enabled: config.servers.filter((srv) => srv.enabled).length,
      watching: s.watch,
      tokenRequired: s.token !== undefined,
      allowedOrigins: s.allowedOrigins,
      allowedHosts: s.allowedHosts,
      ...(config.policy ? { policy: this.policyWords(config.policy) } : {}),
      notes: this.notes(fleet),
    };
  }

  private policyWords(policy: NonNullable<FleetConfig['policy']>): string {
    const { principals } = this.settings;
    const count = `${policy.policies.length} polic${policy.policies.length === 1 ? 'y' : 'ies'}`;
    const callers = principals
      ? `${plural(principals.map.size, 'token')} from ${principals.file}`
      : 'every one is AgentCore::OAuthUser "dev" (no claims; --principals gives tokens)';
    return `${policy.mode}, ${count}; callers: ${callers}`;
  }

  /** Where servers run from: the build's installs, the sandbox, secrets from the environment. */
  private notes(fleet: RunningFleet): string[] {
    const lines: string[] = [];
    if (fleet.fromBuild.length > 0) {
      const where = path.relative(process.cwd(), this.settings.paths.buildDir) || '.';
      const others =
        fleet.fromBuild.length < fleet.lambda.functions.size ? '; the others: their command on PATH' : '';
      lines.push(`  run from the build (${where}): ${fleet.fromBuild.join(', ')}${others}`);
    }
    if (fleet.sandbox) {
      lines.push(
        `  in the Lambda sandbox (read-only /var/task, only /tmp writable): ${fleet.sandbox.inside.join(', ') || 'none'}`,
      );
      for (const o of fleet.sandbox.outside) lines.push(`  ${o.id}: outside the sandbox: ${o.why}`);
    }
    lines.push(...tmpIsolationNotes([...fleet.lambda.functions.values()], fleet.sandbox));
    const web = [...fleet.lambda.functions.values()].filter((f) => f.server.hosting.host === 'web-function');
    if (fleet.webNode && web.length > 0)
      lines.push(
        `  web functions (${web.map((f) => f.server.id).join(', ')}) run on Node.js ${fleet.webNode.version}${fleet.webNode.exact ? '' : `, standing in for Node.js 24: ${fleet.webNode.why ?? ''}`}`,
      );
    if (this.settings.otlp !== undefined)
      lines.push(`  traces: every call's spans also go to ${this.settings.otlp} (OTLP/HTTP)`);
    for (const fn of fleet.lambda.functions.values()) {
      if (fn.localSecrets.length > 0)
        lines.push(
          `  ${fn.server.id}: ${fn.localSecrets.join(', ')} from your environment, not from its secret store`,
        );
    }
    return lines;
  }

  private watch(initialText: string | undefined): void {
    const { configFile } = this.settings;
    this.watcher = watchFile(configFile, () => this.reload(), {
      ...(initialText !== undefined ? { initialText } : {}),
      onError: (e) => {
        this.warn(`reload of ${configFile} failed: ${e.message}; still running the last applied config`);
      },
    });
  }

  /** The state file `invoke`, `tools` and scripts read to find the fleet. */
  private async writeState(url: string): Promise<void> {
    const state = this.settings.paths.devState;
    await mkdir(path.dirname(state), { recursive: true });
    const body = { url, pid: process.pid, config: path.resolve(this.settings.configFile) };
    await writeFile(state, `${JSON.stringify(body, null, 2)}\n`);
  }

  /**
   * A saved config: applied when it is valid (changed servers rebuilt and replaced, added ones
   * started, removed ones stopped); an invalid one is reported, and the last good one keeps running.
   */
  async reload(): Promise<void> {
    const { configFile } = this.settings;
    const fleet = this.fleet;
    const current = this.current;
    if (!fleet || !current) return;
    const { config: saved, problems } = await loadConfig(configFile);
    for (const p of problems) this.warn(formatProblem(p));
    if (!saved) {
      const errors = problems.filter((p) => p.severity === 'error').length;
      this.warn(`✗ ${configFile}: ${plural(errors, 'error')}; still running the last good config`);
      return;
    }
    // A server that becomes a runtime needs the gateway's sessions, which are set at start only:
    // it is held back (its old self kept) rather than run with every call in a new session.
    const held = fleet.gateway.sessions === undefined ? heldForSessions(current, saved) : [];
    for (const id of held)
      this.warn(
        `${id}: host agentcore-runtime keeps a server per client session, which needs the gateway's sessions (gateway.sessionTimeout), set at start only: restart mcp-fleet dev to apply it; ${current.servers.some((s) => s.id === id) ? 'still running it as before' : 'not started'}`,
      );
    const next: FleetConfig =
      held.length === 0
        ? saved
        : {
            ...saved,
            servers: saved.servers.flatMap((s) =>
              held.includes(s.id) ? current.servers.filter((c) => c.id === s.id) : [s],
            ),
          };
    const changes = serverChanges(current.servers, next.servers, (s) => this.failed.has(s.id));
    const changed = [...changes.added, ...changes.changed];
    for (const id of this.failed.keys())
      if (!next.servers.some((s) => s.id === id && s.enabled)) this.failed.delete(id);
    this.say(
      `\n${configFile} changed: ${changed.length > 0 ? `building ${changed.join(', ')} …` : 'applying …'}`,
    );
    const rebuilt = await this.build(
      next,
      changed.filter((id) => buildable(next).includes(id)),
    );
    const change = await fleet.apply(this.runnable(next), { rebuilt });
    this.current = next;
    this.output.reloaded(change, {
      configFile,
      failed: changed.flatMap((id) => {
        const reason = this.failed.get(id);
        return reason === undefined ? [] : [{ id, reason: `build: ${reason}` }];
      }),
      fleetLevel: fleetLevelChanges(current, next),
      appliedLive: liveChanges(current, next),
    });
  }

  /** Stops watching, stops every server, removes the state file. */
  async stop(signal?: string): Promise<void> {
    if (signal !== undefined) this.output.stopping(signal);
    await this.watcher?.close();
    await this.fleet?.close();
    await this.measurements.flush();
    // The state file is this process's only while it holds the claim (another dev's otherwise).
    if (this.claim !== undefined) await rm(this.settings.paths.devState, { force: true });
    await this.claim?.release();
    this.claim = undefined;
    if (this.ready) this.output.stopped();
    this.ready = false;
  }
}

/** A server as its measurements record it (its host and memory now). */
function measuredServer(config: FleetConfig | undefined, id: string): MeasuredServer | undefined {
  const s = config?.servers.find((server) => server.id === id);
  if (!s) return undefined;
  return { host: s.hosting.host, memorySizeMb: s.memory, multiCall: s.hosting.environmentConcurrency > 1 };
}

/** The servers that become AgentCore Runtimes in `next` (for a running gateway that keeps no sessions). */
function heldForSessions(current: FleetConfig, next: FleetConfig): string[] {
  return next.servers
    .filter(
      (s) =>
        s.enabled &&
        s.hosting.host === 'agentcore-runtime' &&
        current.servers.find((c) => c.id === s.id)?.hosting.host !== 'agentcore-runtime',
    )
    .map((s) => s.id);
}

/** The fleet-level settings a reload applies while running (FleetProcess.apply). */
const LIVE_SETTINGS = {
  'gateway.rateLimits': (c: FleetConfig) => c.gateway.rateLimits,
  'gateway.interceptors': (c: FleetConfig) => c.gateway.interceptors,
  policy: (c: FleetConfig) => c.policy,
} as const;

const changedAt = (current: FleetConfig, next: FleetConfig, read: (c: FleetConfig) => unknown): boolean =>
  JSON.stringify(read(current)) !== JSON.stringify(read(next));

/**
 * Fleet-level settings not applied while running: which of them changed (the gateway's, but for
 * those applied live).
 */
function fleetLevelChanges(current: FleetConfig, next: FleetConfig): string[] {
  const gatewayRest = (c: FleetConfig) => ({ ...c.gateway, rateLimits: undefined, interceptors: undefined });
  return (
    [
      ['stack', (c: FleetConfig) => c.stack],
      ['gateway', gatewayRest],
      ['region', (c: FleetConfig) => c.region],
    ] as const
  )
    .filter(([, read]) => changedAt(current, next, read))
    .map(([name]) => name);
}

/** Fleet-level settings that changed and were applied at once. */
function liveChanges(current: FleetConfig, next: FleetConfig): string[] {
  return Object.entries(LIVE_SETTINGS)
    .filter(([, read]) => changedAt(current, next, read))
    .map(([name]) => name);
}
