/**
 * `mcp-fleet plan` as text: what the estimate is made for, then a table of the servers (now,
 * advised, a month on each host), and under it each server's reasons.
 */
import { HOSTS } from '../config/limits.js';
import type { FleetPlan, HostEstimate, ServerPlan } from './plan.js';
import { PRICES } from './prices.js';

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

export function usd(n: number | null): string {
  if (n === null) return '–';
  return n >= 100 ? `$${count(n)}` : `$${n.toFixed(2)}`;
}

function cell(c: HostEstimate): string {
  if (!c.eligible) return 'n/a';
  return c.monthlyUsd === null ? 'not priced' : usd(c.monthlyUsd);
}

function table(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

function row(s: ServerPlan): string[] {
  const advised = s.advisedHost === s.currentHost ? s.advisedHost : `${s.advisedHost} *`;
  return [s.server, s.currentHost, advised, ...s.costs.map(cell)];
}

function header(plan: FleetPlan): string[] {
  return [
    `mcp-fleet plan: ${plan.config}, ${count(plan.callsPerMonth)} calls a month per server (${plan.callsPerSecond.toPrecision(3)}/s on average)`,
    `prices of ${plan.prices.date}, ${plan.prices.region}, on demand, no free tier; each server also pays the AgentCore Gateway ${usd(plan.servers[0]?.gatewayMonthlyUsd ?? 0)} a month for its calls ($${(PRICES.gatewayInvocation.usd * 1000).toFixed(3)} per 1,000), whatever its host`,
    '',
  ];
}

const NOTES = [
  '',
  '* advised host differs from the config. n/a: the host cannot run this server. not priced: no published rate found (web-function).',
  'Estimates, not quotes: see docs/hosts.md ("Which host: mcp-fleet plan") for the rules, the assumptions and which prices no AWS page confirmed.',
];

export function renderPlan(plan: FleetPlan): string {
  const rows = [['server', 'host now', 'advised', ...HOSTS], ...plan.servers.map(row)];
  const reasons = plan.servers.flatMap((s) => [
    '',
    `${s.server} → ${s.advisedHost} (rule ${s.rule}):`,
    ...s.reasons.map((r) => `  - ${r}`),
  ]);
  return [...header(plan), ...table(rows), ...reasons, ...NOTES].join('\n') + '\n';
}
