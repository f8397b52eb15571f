/**
 * `mcp-fleet build`: stages every enabled server (in parallel, skipping unchanged ones), discovers
 * and lowers its tools, checks the catalog, and records what was resolved in the lock file.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fleetPaths } from '../config/fleet-paths.js';
import { toLaunchSpec, type FleetConfig, type LaunchSpec, type ServerConfig } from '../config/model.js';
import { BuildError } from './exec.js';
import { hostBuild } from './host.js';
import { entryFits, openLock, updateLock, type LockFile, type LockUpdate } from './lock.js';
import {
  stageServer,
  writeHandler,
  writeLaunch,
  type Artifact,
  type DirectCodeLimits,
  type LockEntry,
  type PythonInstaller,
} from './stage/index.js';
import { lowerTools, targetTools, type LoweredCatalog, type LoweredTool } from './tools.js';
import { LAUNCH_FILE_NAME } from '../contract/function-env.js';
import { buildInterceptors, type InterceptorBuild } from './interceptor.js';

/** Bump when the layout of a server's build folder changes: every server is staged again. */
const BUILD_FORMAT = 2;
/** What tool discovery is given: a staged server to run, and where. */
export interface DiscoveryRequest {
  server: ServerConfig;
  /** The host install's launch spec. */
  launchFile: string;
  /** A folder of the server's build for the discovery's environment and logs. */
  workDir: string;
  /** The config's folder (relative paths of the server are relative to it). */
  cwd: string;
}

/**
 * Runs a staged server and lists its tools. The build does not run servers itself: the local
 * Lambda service does (src/local/discovery.ts), given here by whoever builds (the CLI, tests).
 */
export type ToolDiscovery = (
  req: DiscoveryRequest,
) => Promise<{ tools: Record<string, unknown>[]; coldStartMs: number }>;

export interface BuildOptions {
  /** Build folder (default: the config's, see fleetPaths). */
  outDir?: string;
  /** Only these server ids. */
  only?: string[];
  /** Servers staged at the same time (default: CPUs, at most 4). */
  concurrency?: number;
  /** Stage again even when nothing changed. */
  force?: boolean;
  /** Remove from the lock the pins of servers no longer in the config (kept otherwise). */
  pruneLock?: boolean;
  /** The runtime bundle each event function (`function`, `managed-instances`) carries (default: the built one). */
  handlerBundle?: string;
  /** The Web Function entry each `web-function` zip carries (default: the built one, WEB_BUNDLE). */
  webBundle?: string;
  /**
   * The session entry each `agentcore-runtime` direct-code zip or container carries (default: the
   * built one, SESSION_BUNDLE).
   */
  sessionBundle?: string;
  /** agentcore-runtime: the direct-code sizes over which a zip becomes a container (default: AgentCore's, DIRECT_CODE_LIMITS). */
  directCodeLimits?: DirectCodeLimits;
  /** Lists a staged server's tools (needed unless every server built has a toolsFile). */
  discover?: ToolDiscovery;
  signal?: AbortSignal;
  /** How PyPI servers are installed (default: uv; the build benchmark's baseline passes pip). */
  pythonInstaller?: PythonInstaller;
  /** Progress of one server: a phase change or an installer's output line. */
  onProgress?: (serverId: string, event: { phase?: Phase; line?: string }) => void;
}

export type Phase = 'queued' | 'staging' | 'up to date' | 'discovering tools' | 'done' | 'failed';

/** What `build` records per server in `<build>/<id>/manifest.json`. */
export interface ServerManifest {
  format: number;
  id: string;
  package: string;
  installKey: string;
  toolsKey: string;
  /** Relative to the server's build folder. */
  artifact: Artifact;
  /** Launch file that runs the server here, relative to the server's build folder. */
  hostLaunch?: string;
  hostMissing?: string;
  /** Why the artifact is not the one its host takes first (agentcore-runtime: a container, as direct code is too big). */
  artifactNote?: string;
  /** Bytes of the artifact folder (uncompressed). */
  bytes: number;
  stageMs: number;
  tools: {
    source: 'discovered' | 'file';
    count: number;
    warnings: string[];
    needsS3: boolean;
    bytes: number;
    /** Discovery: from starting the environment to the tools/list answer. */
    coldStartMs?: number;
  };
}

export interface ServerBuild {
  server: ServerConfig;
  /** Whether staging ran (false: unchanged, reused). */
  staged: boolean;
  manifest: ServerManifest;
  /** Absolute. */
  artifact: Artifact;
  /** Absolute; runs the server on this machine. */
  hostLaunch?: string;
  tools: LoweredTool[];
  /** tools.lowered.json, absolute (the S3 schema source when over 1 MB). */
  toolsFile: string;
}

export interface FleetBuild {
  outDir: string;
  lockFile: string;
  /** What the build did to the lock beyond the pins it resolved: kept or pruned pins, a seeded start. */
  lock: LockUpdate;
  built: ServerBuild[];
  failed: BuildError[];
  /** The gateway's interceptors, each bundled into its function folder. */
  interceptors?: InterceptorBuild[];
  ms: number;
}

/** The config's build folder (see fleetPaths). */
export function defaultBuildDir(fleet: FleetConfig): string {
  return fleetPaths(fleet.file).buildDir;
}

/**
 * Where the last build installed each server on this machine: by server id, the folders (absolute)
 * its launch spec puts in front of PATH. Servers never built are absent.
 */
export async function hostPaths(
  fleet: FleetConfig,
  buildDir = defaultBuildDir(fleet),
): Promise<Record<string, string[]>> {
  const paths: Record<string, string[]> = {};
  for (const server of fleet.servers) {
    const manifest = await readJson<ServerManifest>(path.join(buildDir, server.id, 'manifest.json'));
    if (manifest?.hostLaunch === undefined) continue;
    const launch = path.join(buildDir, server.id, manifest.hostLaunch);
    const spec = await readJson<LaunchSpec>(launch);
    if (spec?.path === undefined) continue;
    paths[server.id] = spec.path.map((d) => path.resolve(path.dirname(launch), d));
  }
  return paths;
}

const sha256 = (value: unknown): string =>
  createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Builds the fleet. Failures of single servers are collected, not thrown. */
export async function buildFleet(fleet: FleetConfig, opts: BuildOptions = {}): Promise<FleetBuild> {
  const t0 = performance.now();
  const paths = fleetPaths(fleet.file);
  const outDir = path.resolve(opts.outDir ?? paths.buildDir);
  await mkdir(outDir, { recursive: true });
  // The build folder holds generated files only; keep it out of version control.
  await writeFile(path.join(outDir, '.gitignore'), '*\n');
  const { lock, seed } = await openLock(paths, fleet);
  const unknown = (opts.only ?? []).filter((id) => !fleet.servers.some((s) => s.id === id));
  if (unknown.length > 0)
    throw new Error(`no server ${unknown.map((u) => `"${u}"`).join(', ')} in ${fleet.file}`);
  const servers = fleet.servers.filter(
    (s) => s.enabled && (opts.only === undefined || opts.only.length === 0 || opts.only.includes(s.id)),
  );
  for (const s of servers) opts.onProgress?.(s.id, { phase: 'queued' });

  const built: ServerBuild[] = [];
  const failed: BuildError[] = [];
  /** The pins resolved by the servers built: only a server whose build succeeded changes its pin. */
  const resolved = new Map<string, LockEntry>();
  const queue = [...servers];
  const concurrency = Math.max(1, opts.concurrency ?? Math.min(4, os.availableParallelism()));
  const worker = async (): Promise<void> => {
    for (let server = queue.shift(); server !== undefined; server = queue.shift()) {
      try {
        const { build, lockEntry } = await buildServer(fleet, server, outDir, lock, opts);
        built.push(build);
        if (lockEntry !== undefined) resolved.set(server.id, lockEntry);
        opts.onProgress?.(server.id, { phase: 'done' });
      } catch (err) {
        const error =
          err instanceof BuildError
            ? err
            : new BuildError(server.id, err instanceof Error ? err.message : String(err));
        failed.push(error);
        opts.onProgress?.(server.id, { phase: 'failed' });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, servers.length) }, worker));

  // The lock keeps every pin this build did not resolve: servers not built this time, disabled,
  // failed (their previous pin), and those no longer in the config unless pruning was asked for.
  const update = await updateLock(paths.lockFile, lock, resolved, fleet, opts.pruneLock === true);
  const order = new Map(fleet.servers.map((s, i) => [s.id, i]));
  built.sort((a, b) => (order.get(a.server.id) ?? 0) - (order.get(b.server.id) ?? 0));
  let interceptors: InterceptorBuild[] = [];
  try {
    interceptors = await buildInterceptors(fleet, outDir);
  } catch (err) {
    failed.push(new BuildError('interceptors', (err as Error).message));
  }
  return {
    outDir,
    lockFile: paths.lockFile,
    lock: { ...update, ...(seed !== undefined ? { seed } : {}) },
    built,
    failed,
    interceptors,
    ms: performance.now() - t0,
  };
}

function installKey(server: ServerConfig): string {
  const { host } = server.hosting;
  return sha256({
    format: BUILD_FORMAT,
    // The entry, the CPU and the artifact (an agentcore-runtime server's direct code or container)
    // follow the host: a host change stages the server again (keys of event functions are as they
    // were before hosts existed, so their builds stay up to date).
    ...(host === 'function' ? {} : { host }),
    package: server.package?.spec,
    kind: server.package?.kind,
    architecture: server.aws.architecture,
    python: server.python,
    system: server.system,
    copy: server.copy,
    constraints: server.constraints,
    command: server.command,
  });
}

/** One server's build: what its phases share. */
interface ServerJob {
  fleet: FleetConfig;
  server: ServerConfig;
  /** The server's build folder, `<build>/<id>`. */
  dir: string;
  opts: BuildOptions;
  /** The manifest of the previous build, if any. */
  previous: ServerManifest | undefined;
  /** The server's pin in the lock the build started from, if any. */
  locked: LockEntry | undefined;
  installKey: string;
  /** The runtime entry the server's zip or container carries as index.mjs (its host's). */
  handlerBundle: string;
  progress: (phase: Phase) => void;
}

/** What staging (or reusing an unchanged stage) gives. */
interface StagedServer {
  /** Whether staging ran (false: unchanged, reused). */
  staged: boolean;
  artifact: Artifact;
  hostLaunch?: string;
  hostMissing?: string;
  /** See ServerManifest.artifactNote. */
  note?: string;
  stageMs: number;
  /** What staging resolved (absent when the stage was reused: the lock's pin stands). */
  lockEntry?: LockEntry;
}

/** The server's tools as discovered or read from its toolsFile. */
interface RawTools {
  tools: Record<string, unknown>[];
  toolsKey: string;
  source: 'discovered' | 'file';
  coldStartMs?: number;
}

/**
 * Builds one server: stage (or reuse), discover its tools, lower them, write its artifacts. Answers
 * the pin staging resolved, for the lock (only once the whole build of the server succeeded).
 */
async function buildServer(
  fleet: FleetConfig,
  configured: ServerConfig,
  outDir: string,
  lock: LockFile,
  opts: BuildOptions,
): Promise<{ build: ServerBuild; lockEntry?: LockEntry }> {
  // The host decides the zip's entry and CPU (and refuses what it cannot run).
  const { server, entry: handlerBundle, entryName } = hostBuild(configured, opts);
  const dir = path.join(outDir, server.id);
  if (!existsSync(handlerBundle)) {
    throw new BuildError(server.id, `${entryName} ${handlerBundle} is missing; run npm run build`);
  }
  const job: ServerJob = {
    fleet,
    server,
    dir,
    opts,
    previous: await readJson<ServerManifest>(path.join(dir, 'manifest.json')),
    locked: lock.servers[server.id],
    installKey: installKey(server),
    handlerBundle,
    progress: (phase) => opts.onProgress?.(server.id, { phase }),
  };
  const staged = (await reuseStage(job)) ?? (await stage(job));
  const raw = await discover(job, staged);
  const lowered = await lower(job, raw.tools);
  const build = await writeArtifacts(job, staged, raw, lowered);
  return staged.lockEntry !== undefined ? { build, lockEntry: staged.lockEntry } : { build };
}

/**
 * The previous stage when the install is unchanged and the lock holds its pin (its handler and
 * launch spec rewritten: they follow the config and the runtime at every build); undefined when it
 * must be staged again — also when the lock has no pin of this package (a lock deleted or new), so
 * that the lock gets one.
 */
async function reuseStage(job: ServerJob): Promise<StagedServer | undefined> {
  const { previous, dir, server } = job;
  const reusable =
    job.opts.force !== true &&
    previous?.format === BUILD_FORMAT &&
    previous.installKey === job.installKey &&
    entryFits(job.locked, server) &&
    existsSync(path.join(dir, previous.artifact.dir, LAUNCH_FILE_NAME));
  if (!reusable) return undefined;
  job.progress('up to date');
  const artifact: Artifact = { kind: previous.artifact.kind, dir: path.join(dir, previous.artifact.dir) };
  const hostLaunch = previous.hostLaunch !== undefined ? path.join(dir, previous.hostLaunch) : undefined;
  const launch = (await readJson<LaunchSpec>(path.join(artifact.dir, LAUNCH_FILE_NAME)))?.path ?? [];
  await writeHandler(artifact.dir, server, job.handlerBundle, launch);
  if (hostLaunch !== undefined && path.dirname(hostLaunch) !== artifact.dir) {
    const hostPath = (await readJson<LaunchSpec>(hostLaunch))?.path ?? [];
    await writeLaunch(path.dirname(hostLaunch), server, hostPath);
  }
  return {
    staged: false,
    artifact,
    ...(hostLaunch !== undefined ? { hostLaunch } : {}),
    ...(previous.hostMissing !== undefined ? { hostMissing: previous.hostMissing } : {}),
    ...(previous.artifactNote !== undefined ? { note: previous.artifactNote } : {}),
    stageMs: previous.stageMs,
  };
}

/** Stages the server from its package; answers what was resolved, for the lock. */
async function stage(job: ServerJob): Promise<StagedServer> {
  const { server, dir, opts } = job;
  job.progress('staging');
  // Staging replaces the install: the previous manifest no longer describes the folder (were this
  // build to fail, a later one must not take what is there for the previous, reusable stage).
  await rm(path.join(dir, 'manifest.json'), { force: true });
  const t = performance.now();
  const result = await stageServer({
    server,
    dir,
    handlerBundle: job.handlerBundle,
    logFile: path.join(dir, 'build.log'),
    ...(job.locked ? { lock: job.locked } : {}),
    onLine: (line) => opts.onProgress?.(server.id, { line }),
    ...(opts.pythonInstaller ? { pythonInstaller: opts.pythonInstaller } : {}),
    ...(opts.directCodeLimits ? { directCodeLimits: opts.directCodeLimits } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return {
    staged: true,
    lockEntry: result.lock,
    artifact: result.artifact,
    ...(result.hostLaunch !== undefined ? { hostLaunch: result.hostLaunch } : {}),
    ...(result.hostMissing !== undefined ? { hostMissing: result.hostMissing } : {}),
    ...(result.note !== undefined ? { note: result.note } : {}),
    stageMs: performance.now() - t,
  };
}

/**
 * Tools: the previous build's when nothing they depend on changed, else read from the checked-in
 * toolsFile or discovered from the staged server (written to tools.json).
 */
async function discover(job: ServerJob, staged: StagedServer): Promise<RawTools> {
  const { server, dir, opts, previous } = job;
  const configDir = path.dirname(job.fleet.file);
  const toolsOverride =
    server.toolsFile !== undefined ? path.resolve(configDir, server.toolsFile) : undefined;
  const overrideText =
    toolsOverride !== undefined
      ? await readFile(toolsOverride, 'utf8').catch((err: unknown) => {
          throw new BuildError(server.id, `toolsFile ${toolsOverride}: ${(err as Error).message}`);
        })
      : undefined;
  const launchSpec = toLaunchSpec(server);
  const toolsKey = sha256({ key: job.installKey, launchSpec, overrideText, target: server.gateway.target });
  const source = overrideText !== undefined ? 'file' : 'discovered';
  const rawFile = path.join(dir, 'tools.json');
  const coldStartMs = previous?.tools.coldStartMs;
  if (opts.force !== true && previous?.toolsKey === toolsKey && !staged.staged) {
    const tools = (await readJson<{ tools: Record<string, unknown>[] }>(rawFile))?.tools;
    if (tools !== undefined)
      return { tools, toolsKey, source, ...(coldStartMs !== undefined ? { coldStartMs } : {}) };
  }
  let found: RawTools;
  if (overrideText !== undefined) {
    found = { tools: parseToolsFile(server.id, toolsOverride ?? '', overrideText), toolsKey, source };
  } else if (staged.hostLaunch !== undefined) {
    if (opts.discover === undefined) {
      throw new BuildError(
        server.id,
        'its tools must be discovered, and this build was given no tool discovery (BuildOptions.discover)',
      );
    }
    job.progress('discovering tools');
    const discovered = await opts.discover({
      server: discoveryServer(server),
      launchFile: staged.hostLaunch,
      workDir: path.join(dir, 'discover'),
      cwd: configDir,
    });
    found = { tools: discovered.tools, toolsKey, source, coldStartMs: discovered.coldStartMs };
  } else {
    throw new BuildError(
      server.id,
      `its tools cannot be discovered: ${staged.hostMissing ?? 'it cannot run here'}; check in its tools/list result and set toolsFile: <file>`,
    );
  }
  await writeFile(rawFile, `${JSON.stringify({ tools: found.tools }, null, 2)}\n`);
  return found;
}

/**
 * The server as its tools are discovered. An agentcore-runtime server's are listed as an event
 * function's: its stdio server (the host install) behind the handler. That is what the runtime
 * serves: the session entry in front of the same server relays its `tools/list` as it is (and the
 * gateway lists an MCP-server target's tools itself, unlowered), so starting the entry over HTTP
 * would list the same tools by a longer way.
 */
function discoveryServer(server: ServerConfig): ServerConfig {
  if (server.hosting.host !== 'agentcore-runtime') return server;
  return {
    ...server,
    hosting: { host: 'function', environmentConcurrency: 1, concurrency: 1, processes: 1 },
  };
}

/** The tools lowered to AgentCore's schema subset; a tool AgentCore would refuse fails the build. */
async function lower(job: ServerJob, raw: Record<string, unknown>[]): Promise<LoweredCatalog> {
  const { server, dir } = job;
  // A Lambda target declares its tools, lowered to AgentCore's schema subset; an MCP-server target
  // is listed by the gateway itself: its tools are kept as the server gives them (no lowering).
  const lowered =
    server.gateway.targetType === 'mcp'
      ? targetTools(server.gateway.target, raw)
      : lowerTools(server.gateway.target, raw);
  if (lowered.errors.length > 0) {
    throw new BuildError(server.id, `AgentCore would refuse its tools:\n${lowered.errors.join('\n')}`);
  }
  await writeFile(path.join(dir, 'tools.lowered.json'), `${JSON.stringify(lowered.tools, null, 2)}\n`);
  return lowered;
}

/** Writes the server's manifest.json and answers its build. */
async function writeArtifacts(
  job: ServerJob,
  staged: StagedServer,
  raw: RawTools,
  lowered: LoweredCatalog,
): Promise<ServerBuild> {
  const { server, dir, previous } = job;
  const { artifact, hostLaunch, hostMissing } = staged;
  const manifest: ServerManifest = {
    format: BUILD_FORMAT,
    id: server.id,
    package: server.package?.spec ?? '',
    installKey: job.installKey,
    toolsKey: raw.toolsKey,
    artifact: { kind: artifact.kind, dir: path.relative(dir, artifact.dir) },
    // Measured when staged; an unchanged install keeps its figure (walking a venv takes a while).
    bytes:
      !staged.staged && previous !== undefined
        ? previous.bytes
        : await dirBytes(
            artifact.kind === 'zip' || !existsSync(path.join(dir, 'host'))
              ? artifact.dir
              : path.join(dir, 'host'),
          ).catch(() => 0),
    stageMs: Math.round(staged.stageMs),
    tools: {
      source: raw.source,
      count: lowered.tools.length,
      warnings: lowered.warnings,
      needsS3: lowered.needsS3,
      bytes: lowered.bytes,
      ...(raw.coldStartMs !== undefined ? { coldStartMs: Math.round(raw.coldStartMs) } : {}),
    },
  };
  if (hostLaunch !== undefined) manifest.hostLaunch = path.relative(dir, hostLaunch);
  if (hostMissing !== undefined) manifest.hostMissing = hostMissing;
  if (staged.note !== undefined) manifest.artifactNote = staged.note;
  await writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const toolsFile = path.join(dir, 'tools.lowered.json');
  const result: ServerBuild = {
    server,
    staged: staged.staged,
    manifest,
    artifact,
    tools: lowered.tools,
    toolsFile,
  };
  if (hostLaunch !== undefined) result.hostLaunch = hostLaunch;
  return result;
}

function parseToolsFile(serverId: string, file: string, text: string): Record<string, unknown>[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BuildError(serverId, `toolsFile ${file}: not valid JSON (${(err as Error).message})`);
  }
  const tools = Array.isArray(parsed) ? parsed : (parsed as { tools?: unknown } | null)?.tools;
  if (!Array.isArray(tools)) {
    throw new BuildError(
      serverId,
      `toolsFile ${file}: expected a tools/list result {"tools": [...]} or a list`,
    );
  }
  tools.forEach((t, i) => {
    const name = (t as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || name === '') {
      throw new BuildError(serverId, `toolsFile ${file}: tool ${i + 1} has no "name"`);
    }
  });
  return tools as Record<string, unknown>[];
}
