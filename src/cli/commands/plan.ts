import { DECLARED_STATES, type DeclaredState } from '../../plan/facts.js';
import { DEFAULT_ASSUMPTIONS } from '../../plan/cost.js';
import { planFleet } from '../../plan/plan.js';
import { SECONDS_PER_MONTH } from '../../plan/prices.js';
import { renderPlan } from '../../plan/render.js';
import { CliError, EXIT } from '../exit.js';
import { loadValidConfig } from '../load-config.js';

export interface PlanOptions {
  config: string;
  callsPerMonth?: string;
  rate?: string;
  state?: string[];
  concurrencyResults?: string;
  json?: boolean;
}

/** Calls a month when neither --calls-per-month nor --rate is given. */
export const DEFAULT_CALLS_PER_MONTH = 100_000;

const usage = (message: string): CliError => new CliError(message, EXIT.USAGE);

/** `--calls-per-month N` or `--rate R` (calls a second, `R` or `R/s`), at most one of them. */
export function callsPerMonth(o: Pick<PlanOptions, 'callsPerMonth' | 'rate'>): number {
  if (o.callsPerMonth !== undefined && o.rate !== undefined)
    throw usage('give --calls-per-month or --rate, not both');
  if (o.rate !== undefined) {
    const r = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(?:\/\s*s)?\s*$/.exec(o.rate)?.[1];
    if (r === undefined || Number(r) <= 0)
      throw usage(`--rate ${o.rate}: expected calls a second, e.g. 2 or 0.5/s`);
    return Number(r) * SECONDS_PER_MONTH;
  }
  if (o.callsPerMonth === undefined) return DEFAULT_CALLS_PER_MONTH;
  const n = Number(o.callsPerMonth.replaceAll('_', '').replaceAll(',', ''));
  if (!Number.isFinite(n) || n <= 0)
    throw usage(`--calls-per-month ${o.callsPerMonth}: expected a positive number`);
  return n;
}

/** `--state id=session` (repeatable). */
export function states(values: readonly string[] = []): Record<string, DeclaredState> {
  const out: Record<string, DeclaredState> = {};
  for (const v of values) {
    const [id, state] = v.split('=');
    const known = DECLARED_STATES.find((s) => s === state);
    if (id === undefined || id === '' || known === undefined)
      throw usage(`--state ${v}: expected <server>=${DECLARED_STATES.join('|')}`);
    out[id] = known;
  }
  return out;
}

export async function planCommand(options: PlanOptions): Promise<number> {
  const calls = callsPerMonth(options);
  const declared = states(options.state);
  const config = await loadValidConfig(options.config);
  const unknown = Object.keys(declared).filter((id) => !config.servers.some((s) => s.id === id));
  if (unknown.length > 0) throw usage(`--state names no server of ${options.config}: ${unknown.join(', ')}`);
  const plan = await planFleet(config, {
    callsPerMonth: calls,
    assumptions: DEFAULT_ASSUMPTIONS,
    states: declared,
    ...(options.concurrencyResults !== undefined ? { concurrencyResults: options.concurrencyResults } : {}),
  });
  process.stdout.write(options.json === true ? `${JSON.stringify(plan, null, 2)}\n` : renderPlan(plan));
  return EXIT.OK;
}
