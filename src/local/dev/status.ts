/**
 * The fleet's status model: one value that `/status` answers, the status page shows, and the
 * terminal renders (the ready banner, `--json`).
 */
import type { CatalogEntry } from '../gateway/catalog.js';
import type { LocalGateway } from '../gateway/gateway.js';
import type { RateLimitStatus } from '../gateway/rate-limits.js';
import type { TraceRecord } from '../lambda/tracing.js';

/** Traces `/status` shows, the newest. */
const STATUS_TRACES = 20;
import type { SessionView } from '../lambda/sessions.js';
import type { LocalFunction } from '../lambda/function.js';
import { quantile } from '../lambda/stats.js';
import type { LocalLambda } from '../lambda/service.js';

export interface FunctionStatus {
  id: string;
  functionName: string;
  target: string;
  state: 'cold' | 'warm' | 'failed';
  /** Where it runs (servers.yaml `host`), and how many calls one environment takes. */
  host: string;
  environmentConcurrency: number;
  /** `calls`: the calls running in them now. */
  environments: { total: number; busy: number; frozen: number; queued: number; calls: number };
  /** Environments at most. */
  concurrencyLimit: number;
  calls: number;
  errors: number;
  throttles: number;
  timeouts: number;
  coldStarts: number;
  initTimeouts: number;
  outOfMemory: number;
  memorySizeMb: number;
  maxMemoryUsedMb: number;
  p50Ms: number | null;
  p95Ms: number | null;
  lastError: { at: string | null; message: string } | null;
  tools: string[];
  warnings: string[];
  /** Why the gateway could not list its tools (the last listing). */
  catalogError?: string;
  /** agentcore-runtime: the sessions now (one environment each), and how many ended, by why. */
  sessions?: SessionView[];
  sessionsEnded?: Record<string, number>;
}

export interface FleetStatus {
  functions: FunctionStatus[];
  /** AgentCore Policy: mode, policies, callers, decisions. */
  policy?: Record<string, unknown>;
  /** The gateway's interceptors and what they did. */
  interceptors?: Record<string, unknown>[];
  /** The gateway's rate limits, each with the counts in use now. */
  rateLimits?: RateLimitStatus[];
  /** The last calls' traces (newest first), each with its spans: what the waterfall shows. */
  traces?: TraceRecord[];
  /** Servers of the config that do not run, and why (their build failed). */
  notRunning?: { id: string; reason: string }[];
}

function functionStatus(fn: LocalFunction, entry: CatalogEntry | undefined): FunctionStatus {
  const status: FunctionStatus = {
    id: fn.server.id,
    functionName: fn.name,
    target: fn.server.gateway.target,
    state: fn.state === 'failed' || entry?.error !== undefined ? 'failed' : fn.state,
    host: fn.server.hosting.host,
    environmentConcurrency: fn.server.hosting.environmentConcurrency,
    environments: fn.environments,
    concurrencyLimit: fn.concurrencyLimit,
    calls: fn.stats.calls,
    errors: fn.stats.errors,
    throttles: fn.stats.throttles,
    timeouts: fn.stats.timeouts,
    coldStarts: fn.stats.coldStarts,
    initTimeouts: fn.stats.initTimeouts,
    outOfMemory: fn.stats.outOfMemory,
    memorySizeMb: fn.memoryMb,
    maxMemoryUsedMb: fn.stats.maxMemoryUsedMb,
    p50Ms: quantile(fn.stats, 0.5),
    p95Ms: quantile(fn.stats, 0.95),
    lastError:
      fn.startError !== undefined
        ? { at: null, message: fn.startError }
        : (fn.stats.lastError ?? (entry?.error !== undefined ? { at: null, message: entry.error } : null)),
    tools: entry?.tools.map((t) => t.name) ?? [],
    warnings: entry?.warnings ?? [],
  };
  if (entry?.error !== undefined) status.catalogError = entry.error;
  if (fn.sessionsEnded !== undefined) {
    status.sessions = fn.sessionList;
    status.sessionsEnded = { ...fn.sessionsEnded };
  }
  return status;
}

/** The status of every function, the gateway's policy and interceptors. */
export function fleetStatus(lambda: LocalLambda, gateway: LocalGateway): FleetStatus {
  const catalog = new Map(gateway.entries().map((e) => [e.serverId, e]));
  return {
    functions: [...lambda.functions.values()].map((fn) => functionStatus(fn, catalog.get(fn.server.id))),
    ...(gateway.access ? { policy: gateway.access.status() } : {}),
    ...(gateway.interceptors ? { interceptors: gateway.interceptors.status() } : {}),
    ...(gateway.rateLimits ? { rateLimits: gateway.rateLimits.status() } : {}),
    ...(gateway.tracing ? { traces: gateway.tracing.traces(STATUS_TRACES) } : {}),
  };
}

/** One line per server: its tools, or why it has none (listing or build failures). */
export function serverLines(
  entries: readonly {
    serverId: string;
    tools: readonly unknown[];
    warnings: readonly unknown[];
    error?: string;
  }[],
  notRunning: readonly { id: string; reason: string }[] = [],
): string[] {
  const width = Math.max(6, ...entries.map((e) => e.serverId.length), ...notRunning.map((n) => n.id.length));
  return [
    ...entries.map((e) => {
      const status =
        e.error !== undefined
          ? `FAILED  ${e.error}`
          : `${String(e.tools.length).padStart(3)} tools${e.warnings.length > 0 ? ` (${e.warnings.length} schema warnings)` : ''}`;
      return `  ${e.serverId.padEnd(width)}  ${status}`;
    }),
    ...notRunning.map((n) => `  ${n.id.padEnd(width)}  FAILED  ${n.reason}`),
  ];
}
