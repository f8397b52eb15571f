/**
 * `mcp-fleet plan`: for each server of a fleet, the host it fits with the reasons, and a month's
 * cost on each host at a given number of calls. `planServer` is pure (facts in, advice out);
 * `planFleet` first gathers the facts: the config, what `mcp-fleet dev` measured
 * (`.mcp-fleet/measurements/<id>.json`), the build's manifests, and optionally
 * `bench:server-concurrency`'s results.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ServerManifest } from '../build/build.js';
import { fleetPaths } from '../config/fleet-paths.js';
import { HOSTS, type Host } from '../config/limits.js';
import type { FleetConfig } from '../config/model.js';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';
import { MEASUREMENTS_FOLDER, type ServerMeasurements } from '../contract/measurements.js';
import { gatewayCost, hostCost, type Assumptions, type HostCost, type Load } from './cost.js';
import { serverFacts, type ConcurrencyResult, type DeclaredState, type ServerFacts } from './facts.js';
import { PRICES, PRICES_DATE, PRICES_REGION, SECONDS_PER_MONTH } from './prices.js';
import { advise, whyNot, type RuleId } from './rules.js';

export interface HostEstimate extends HostCost {
  /** The host can run this server (its package kind). */
  eligible: boolean;
  whyNot?: string;
}

export interface ServerPlan {
  server: string;
  currentHost: Host;
  advisedHost: Host;
  rule: RuleId;
  reasons: string[];
  /** Every host, in the order of `HOSTS`. */
  costs: HostEstimate[];
  /** The AgentCore Gateway's calls, the same on every host (not in `costs`). */
  gatewayMonthlyUsd: number;
  facts: ServerFacts;
}

export interface FleetPlan {
  config: string;
  callsPerMonth: number;
  callsPerSecond: number;
  prices: { date: string; region: string; figures: typeof PRICES };
  assumptions: Assumptions;
  servers: ServerPlan[];
}

export function planServer(facts: ServerFacts, load: Load): ServerPlan {
  const costs = Object.fromEntries(HOSTS.map((h) => [h, hostCost(h, facts, load)])) as Record<Host, HostCost>;
  const callsPerSecond = load.callsPerMonth / SECONDS_PER_MONTH;
  const advice = advise({ facts, callsPerSecond, costs });
  return {
    server: facts.id,
    currentHost: facts.host,
    advisedHost: advice.host,
    rule: advice.rule,
    reasons: advice.reasons,
    costs: HOSTS.map((h) => estimate(costs[h], whyNot(h, facts))),
    gatewayMonthlyUsd: gatewayCost(load),
    facts,
  };
}

function estimate(cost: HostCost, why: string | undefined): HostEstimate {
  if (why === undefined) return { ...cost, eligible: true };
  return { host: cost.host, monthlyUsd: null, lines: [], eligible: false, whyNot: why };
}

/**
 * `bench:server-concurrency`'s verdicts, when a file of this name lies beside the config (the
 * seed's does): read unless `--concurrency-results` names another.
 */
export const CONCURRENCY_RESULTS_FILE = 'server-concurrency.json';

export interface PlanOptions {
  callsPerMonth: number;
  assumptions: Assumptions;
  /**
   * bench/results/server-concurrency.json (or a file of the same shape); default the config's
   * folder's {@link CONCURRENCY_RESULTS_FILE}, when there is one.
   */
  concurrencyResults?: string;
  /** `--state id=…`. */
  states?: Record<string, DeclaredState>;
}

/** Every enabled server of the fleet, planned. */
export async function planFleet(config: FleetConfig, options: PlanOptions): Promise<FleetPlan> {
  const paths = fleetPaths(config.file);
  const measurements = path.join(path.dirname(paths.devDir), MEASUREMENTS_FOLDER);
  const beside = path.join(path.dirname(path.resolve(config.file)), CONCURRENCY_RESULTS_FILE);
  const results = options.concurrencyResults ?? (existsSync(beside) ? beside : undefined);
  const bench = results !== undefined ? await readConcurrencyResults(results) : [];
  const load: Load = { callsPerMonth: options.callsPerMonth, assumptions: options.assumptions };
  const servers: ServerPlan[] = [];
  for (const s of config.servers.filter((server) => server.enabled)) {
    const m = await readJson<ServerMeasurements>(path.join(measurements, `${s.id}.json`));
    const manifest = await readJson<ServerManifest>(path.join(paths.buildDir, s.id, 'manifest.json'));
    const concurrencyResult = bench.find((r) => r.id === s.id);
    const stateOverride = options.states?.[s.id];
    const facts = serverFacts(s, {
      ...(m?.server === s.id ? { measurements: m } : {}),
      ...(manifest?.tools.coldStartMs !== undefined ? { buildColdStartMs: manifest.tools.coldStartMs } : {}),
      ...(concurrencyResult ? { concurrencyResult } : {}),
      ...(stateOverride ? { stateOverride } : {}),
    });
    servers.push(planServer(facts, load));
  }
  return {
    config: config.file,
    callsPerMonth: options.callsPerMonth,
    callsPerSecond: options.callsPerMonth / SECONDS_PER_MONTH,
    prices: { date: PRICES_DATE, region: PRICES_REGION, figures: PRICES },
    assumptions: options.assumptions,
    servers,
  };
}

/** The rows of a server-concurrency results file (`{ rows: [...] }`). */
export async function readConcurrencyResults(file: string): Promise<ConcurrencyResult[]> {
  const data = await readJson<{ rows?: unknown }>(file);
  const rows = data?.rows;
  if (!Array.isArray(rows))
    throw new FleetError(
      FLEET_ERROR.usage,
      `${file}: not a server-concurrency results file (JSON with "rows", as bench/results/server-concurrency.json)`,
    );
  return (rows as ConcurrencyResult[]).filter((r) => typeof r.id === 'string');
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
