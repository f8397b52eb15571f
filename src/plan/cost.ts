/**
 * A month of one server on each host, at a given number of calls, from the prices of
 * `prices.ts` and the server's facts. Each estimate lists its lines (what is billed, how much)
 * and the assumptions it made where nothing was measured; every figure is USD a month.
 */
import type { Host } from '../config/limits.js';
import type { ServerFacts } from './facts.js';
import { PRICES, SECONDS_PER_MONTH, WEB_FUNCTION_PRICE_NOTE } from './prices.js';

/** What an estimate assumes where nothing was measured, and the load it is made for. */
export interface Assumptions {
  /** A call's duration when none was measured, ms. */
  callMs: number;
  /** A cold start's init when none was measured, ms. */
  initMs: number;
  /**
   * How long Lambda keeps an idle environment, s: a call finds none warm with probability
   * e^(−rate × this) (calls arriving at random). AWS does not publish it.
   */
  idleEnvironmentS: number;
  /** AgentCore Runtime: the tool calls of one client session. */
  callsPerSession: number;
  /** AgentCore Runtime: seconds between two calls of a session (the agent thinking). */
  secondsBetweenCalls: number;
  /** Managed instances: GB of memory per vCPU (AWS's default 2) and vCPUs per instance (m7g.large). */
  gbPerVcpu: number;
  instanceVcpus: number;
  /** Managed instances: instances kept at least (3 environments across availability zones). */
  minInstances: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  callMs: 100,
  initMs: 1000,
  idleEnvironmentS: 300,
  callsPerSession: 10,
  secondsBetweenCalls: 10,
  gbPerVcpu: 2,
  instanceVcpus: 2,
  minInstances: 3,
};

export interface CostLine {
  item: string;
  usd: number;
}

export interface HostCost {
  host: Host;
  /** null: no price known (web-function), or the host cannot run the server. */
  monthlyUsd: number | null;
  lines: CostLine[];
  /** Why there is no figure, or what the figure leaves out. */
  note?: string;
}

export interface Load {
  callsPerMonth: number;
  assumptions: Assumptions;
}

const perSecond = (load: Load): number => load.callsPerMonth / SECONDS_PER_MONTH;
const sum = (lines: CostLine[]): number => lines.reduce((n, l) => n + l.usd, 0);
const callMs = (f: ServerFacts, load: Load): number => f.callMs?.value ?? load.assumptions.callMs;
const initMs = (f: ServerFacts, load: Load): number => f.initMs?.value ?? load.assumptions.initMs;

/** Calls that find no warm environment: calls × e^(−rate × idle keep). */
export function coldStarts(load: Load): number {
  return load.callsPerMonth * Math.exp(-perSecond(load) * load.assumptions.idleEnvironmentS);
}

/** An event function: requests, and GB-seconds of the configured memory over calls and inits. */
export function functionCost(f: ServerFacts, load: Load): HostCost {
  const gb = f.memoryMb / 1024;
  const cold = coldStarts(load);
  const seconds = (load.callsPerMonth * callMs(f, load) + cold * initMs(f, load)) / 1000;
  const rate = f.architecture === 'arm64' ? PRICES.lambdaGbSecondArm64 : PRICES.lambdaGbSecondX86;
  const lines = [
    { item: 'requests', usd: load.callsPerMonth * PRICES.lambdaRequest.usd },
    {
      item: `duration (${f.architecture}, ${f.memoryMb} MB, ${Math.round(cold)} cold starts)`,
      usd: seconds * gb * rate.usd,
    },
  ];
  return { host: 'function', monthlyUsd: sum(lines), lines };
}

/**
 * Managed instances: the EC2 instances (at least `minInstances`, more when the calls in flight
 * need more environments), the 15% management fee, and requests.
 */
export function managedInstancesCost(f: ServerFacts, load: Load): HostCost {
  const a = load.assumptions;
  const inFlight = (perSecond(load) * callMs(f, load)) / 1000;
  const environments = Math.max(f.minEnvironments ?? 3, Math.ceil(inFlight / f.environmentConcurrency));
  const vcpusPerEnvironment = Math.max(1, Math.ceil(f.memoryMb / 1024 / a.gbPerVcpu));
  const instances = Math.max(
    a.minInstances,
    Math.ceil((environments * vcpusPerEnvironment) / a.instanceVcpus),
  );
  const ec2 = instances * PRICES.managedInstancesEc2Hour.usd * (SECONDS_PER_MONTH / 3600);
  const lines = [
    { item: `EC2 (${instances} × m7g.large, always on)`, usd: ec2 },
    { item: 'management fee (15%)', usd: ec2 * PRICES.managedInstancesFee.usd },
    { item: 'requests', usd: load.callsPerMonth * PRICES.lambdaRequest.usd },
  ];
  return { host: 'managed-instances', monthlyUsd: sum(lines), lines };
}

/**
 * AgentCore Runtime, billed on active consumption: CPU while a call (or the session's start)
 * runs, at most one vCPU (I/O waits are not billed: an upper bound), and memory — the measured
 * peak, else the configured memory — for the session's whole life: its start, its calls, the
 * time between them, and the idle timeout after the last one.
 */
export function agentCoreRuntimeCost(f: ServerFacts, load: Load): HostCost {
  const a = load.assumptions;
  const sessions = load.callsPerMonth / a.callsPerSession;
  const activeS = (a.callsPerSession * callMs(f, load) + initMs(f, load)) / 1000;
  const lifeS = activeS + (a.callsPerSession - 1) * a.secondsBetweenCalls + f.idleTimeoutS;
  const gb = (f.maxMemoryUsedMb?.value ?? f.memoryMb) / 1024;
  const lines = [
    {
      item: `CPU (${Math.round(sessions)} sessions, ≤ 1 vCPU while active)`,
      usd: (sessions * activeS * PRICES.runtimeVcpuHour.usd) / 3600,
    },
    {
      item: `memory (${Math.round(gb * 1024)} MB for each session's life)`,
      usd: (sessions * lifeS * gb * PRICES.runtimeGbHour.usd) / 3600,
    },
  ];
  return { host: 'agentcore-runtime', monthlyUsd: sum(lines), lines };
}

export function webFunctionCost(): HostCost {
  return { host: 'web-function', monthlyUsd: null, lines: [], note: WEB_FUNCTION_PRICE_NOTE };
}

/** The AgentCore Gateway's part, the same on every host: one gateway call per tool call. */
export function gatewayCost(load: Load): number {
  return load.callsPerMonth * PRICES.gatewayInvocation.usd;
}

const ESTIMATES: Record<Host, (f: ServerFacts, load: Load) => HostCost> = {
  function: functionCost,
  'web-function': webFunctionCost,
  'managed-instances': managedInstancesCost,
  'agentcore-runtime': agentCoreRuntimeCost,
};

export function hostCost(host: Host, f: ServerFacts, load: Load): HostCost {
  return ESTIMATES[host](f, load);
}
