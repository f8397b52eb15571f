/**
 * What the advisor knows of one server: from its config (package kind, host, memory, the `state:`
 * it declares), from what `mcp-fleet dev` measured (src/contract/measurements.ts), from its build
 * (the discovery's cold start) and, when given, from `bench:server-concurrency`'s results. Each
 * measured fact says where it came from, so a reason can name it.
 */
import path from 'node:path';
import type { ServerConfig } from '../config/model.js';
import type { Host } from '../config/limits.js';
import type { ServerMeasurements } from '../contract/measurements.js';

export type PackageKind = 'npm' | 'pypi' | 'go' | 'image' | 'command';
/** What the user declares about state between calls (`state:`, or `--state id=…`). */
export type DeclaredState = 'none' | 'session';
export const DECLARED_STATES: readonly DeclaredState[] = ['none', 'session'];

export interface Measured<T> {
  value: T;
  /** Where it was measured, in words (e.g. "mcp-fleet dev, 12 cold starts"). */
  source: string;
}

export type ConcurrencyVerdict = 'concurrent' | 'serial' | 'unknown';

export interface ServerFacts {
  id: string;
  kind: PackageKind;
  /** The host the config sets now. */
  host: Host;
  memoryMb: number;
  architecture: 'arm64' | 'x86_64';
  /** Calls one environment takes at once on the multi-call hosts (the config's, or its default). */
  environmentConcurrency: number;
  minEnvironments?: number;
  /** agentcore-runtime: a session's idle timeout, seconds (the config's, or AWS's default 900). */
  idleTimeoutS: number;
  state: Measured<DeclaredState> | undefined;
  /** Whether one server process answers concurrent calls right. */
  concurrency: Measured<ConcurrencyVerdict>;
  initMs?: Measured<number>;
  /** Mean duration of a call, ms. */
  callMs?: Measured<number>;
  maxMemoryUsedMb?: Measured<number>;
  /** The requests it sent its client in the middle of a call (elicitation, sampling, roots). */
  asks?: Measured<string[]>;
}

/** One row of bench/results/server-concurrency.json, as far as the advisor reads it. */
export interface ConcurrencyResult {
  id: string;
  verdict?: { kind?: string; text?: string };
  rssPeak?: number;
  startMs?: number;
}

/** What was found for a server beside its config. */
export interface FactInputs {
  measurements?: ServerMeasurements;
  /** The build's discovery: ms from starting the environment to the tools/list answer. */
  buildColdStartMs?: number;
  concurrencyResult?: ConcurrencyResult;
  /** `--state id=…`: wins over the config's `state:`. */
  stateOverride?: DeclaredState;
}

/** The package kind; no package: a command run as it is. */
export const packageKind = (s: ServerConfig): PackageKind => s.package?.kind ?? 'command';

/**
 * The config's `state:` read defensively (the key is new: a model without it, or a value this
 * advisor does not know, reads as undeclared).
 */
export function declaredState(s: ServerConfig): DeclaredState | undefined {
  const value = (s as { state?: unknown }).state;
  return DECLARED_STATES.find((v) => v === value);
}

export function serverFacts(s: ServerConfig, inputs: FactInputs): ServerFacts {
  const m = inputs.measurements;
  const facts: ServerFacts = {
    id: s.id,
    kind: packageKind(s),
    host: s.hosting.host,
    memoryMb: s.memory,
    architecture: s.aws.architecture,
    environmentConcurrency: s.hosting.environmentConcurrency,
    idleTimeoutS: s.hosting.session?.idleTimeout ?? 900,
    state: stateOf(s, inputs.stateOverride, m),
    concurrency: concurrencyOf(s, m, inputs.concurrencyResult),
  };
  if (s.hosting.minEnvironments !== undefined) facts.minEnvironments = s.hosting.minEnvironments;
  const init = initOf(m, inputs.buildColdStartMs);
  if (init) facts.initMs = init;
  const call = callOf(m);
  if (call) facts.callMs = call;
  const memory = memoryOf(m, inputs.concurrencyResult);
  if (memory) facts.maxMemoryUsedMb = memory;
  if (m?.asks !== undefined && m.asks.count > 0)
    facts.asks = {
      value: [...m.asks.methods],
      source: `mcp-fleet dev saw it ask ${m.asks.count} time${m.asks.count === 1 ? '' : 's'}, last ${m.asks.lastAt}`,
    };
  return facts;
}

/**
 * Servers known to keep state between calls that a later call of the same conversation needs,
 * by package name (or command): what `plan` takes when the config declares nothing.
 */
export const KNOWN_STATEFUL: Readonly<Record<string, string>> = {
  '@modelcontextprotocol/server-memory': 'its knowledge graph lives in its memory file',
  'mcp-server-memory': 'its knowledge graph lives in its memory file',
  'awslabs.git-repo-research-mcp-server': 'it searches the repositories it indexed on earlier calls',
};

/** What is known of a server's state when its config declares nothing. */
function knownState(s: ServerConfig): Measured<DeclaredState> | undefined {
  const names = [s.package && 'name' in s.package ? s.package.name : undefined, path.basename(s.command)];
  for (const name of names) {
    const why = name === undefined ? undefined : KNOWN_STATEFUL[name];
    if (why !== undefined) return { value: 'session', source: `${name}: ${why}` };
  }
  return undefined;
}

/**
 * The server's state between calls: `--state`, then the config's `state:`, then what `mcp-fleet
 * dev` saw (a call read a file of its /tmp an earlier call wrote), then what is known of it.
 */
function stateOf(
  s: ServerConfig,
  override: DeclaredState | undefined,
  m: ServerMeasurements | undefined,
): Measured<DeclaredState> | undefined {
  if (override !== undefined) return { value: override, source: `--state ${s.id}=${override}` };
  const declared = declaredState(s);
  if (declared !== undefined) return { value: declared, source: `state: ${declared} in the config` };
  const seen = m?.state;
  if (seen !== undefined && seen.files > 0)
    return {
      value: 'session',
      source: `mcp-fleet dev saw calls read files of its /tmp that earlier calls wrote (${seen.examples.join(', ')}), in ${seen.environments} environment${seen.environments === 1 ? '' : 's'}`,
    };
  return knownState(s);
}

/**
 * Whether one process answers concurrent calls right. Evidence of failure wins over evidence of
 * success: the config's `concurrency: 1` (or `isolation: per-invocation`), overlapping calls that
 * failed in `mcp-fleet dev`, a serial verdict of the benchmark; then overlapping calls that all
 * succeeded, a concurrent verdict of the benchmark; else unknown.
 */
function concurrencyOf(
  s: ServerConfig,
  m: ServerMeasurements | undefined,
  bench: ConcurrencyResult | undefined,
): Measured<ConcurrencyVerdict> {
  if (s.hosting.host !== 'function' && s.hosting.concurrency === 1)
    return { value: 'serial', source: 'concurrency: 1 in the config' };
  if (s.isolation === 'per-invocation')
    return { value: 'serial', source: 'isolation: per-invocation in the config (a fresh process per call)' };
  const o = m?.overlap;
  if (o && o.errors > 0)
    return {
      value: 'serial',
      source: `mcp-fleet dev: ${o.errors} of ${o.calls} calls that shared a warm server failed`,
    };
  if (bench?.verdict?.kind === 'serial')
    return {
      value: 'serial',
      source: `bench:server-concurrency: ${bench.verdict.text ?? 'answers one call at a time'}`,
    };
  if (o && o.calls > 0)
    return {
      value: 'concurrent',
      source: `mcp-fleet dev: ${o.calls} calls shared a warm server (up to ${o.peak} at once), none failed`,
    };
  if (bench?.verdict?.kind === 'concurrent')
    return {
      value: 'concurrent',
      source: `bench:server-concurrency: ${bench.verdict.text ?? 'takes concurrent calls'}`,
    };
  return { value: 'unknown', source: 'not measured' };
}

function initOf(
  m: ServerMeasurements | undefined,
  buildColdStartMs: number | undefined,
): Measured<number> | undefined {
  if (m && m.init.count > 0)
    return {
      value: m.init.totalMs / m.init.count,
      source: `mcp-fleet dev, mean of ${m.init.count} cold start${m.init.count === 1 ? '' : 's'}`,
    };
  if (buildColdStartMs !== undefined)
    return { value: buildColdStartMs, source: "the build's tool discovery" };
  return undefined;
}

/** The mean tool call when tools were called, else the mean invocation (tools/list included). */
function callOf(m: ServerMeasurements | undefined): Measured<number> | undefined {
  if (!m || m.calls === 0) return undefined;
  const tools = Object.values(m.tools);
  const calls = tools.reduce((n, t) => n + t.calls, 0);
  if (calls > 0)
    return {
      value: tools.reduce((n, t) => n + t.totalMs, 0) / calls,
      source: `mcp-fleet dev, mean of ${calls} tool call${calls === 1 ? '' : 's'}`,
    };
  return { value: m.durationTotalMs / m.calls, source: `mcp-fleet dev, mean of ${m.calls} invocations` };
}

function memoryOf(
  m: ServerMeasurements | undefined,
  bench: ConcurrencyResult | undefined,
): Measured<number> | undefined {
  if (m && m.maxMemoryUsedMb > 0)
    return { value: m.maxMemoryUsedMb, source: 'mcp-fleet dev, Max Memory Used' };
  if (bench?.rssPeak !== undefined)
    return { value: Math.ceil(bench.rssPeak / (1024 * 1024)), source: 'bench:server-concurrency, peak RSS' };
  return undefined;
}
