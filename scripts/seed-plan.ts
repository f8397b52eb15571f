/**
 * `mcp-fleet plan` on the seed fleet, written into its block of docs/hosts.md: for each server,
 * the host the seed runs it on, the host the advice gives and why, and a month on each host, at a
 * rate that many agents calling one fleet give (5 calls a second per server). The advice reads
 * the seed's config, `bench:server-concurrency`'s verdicts committed beside it, and what this
 * machine's builds and `dev` runs of the seed measured.
 *
 * Run: npm run seed-plan
 */
import { loadConfigOrThrow } from '../src/config/index.js';
import { DEFAULT_ASSUMPTIONS } from '../src/plan/cost.js';
import { planFleet, type HostEstimate } from '../src/plan/plan.js';
import { usd } from '../src/plan/render.js';
import { HOSTS } from '../src/config/limits.js';
import { SECONDS_PER_MONTH } from '../src/plan/prices.js';
import { generatedDoc, runFacts, writeGeneratedBlock } from './generated-docs.js';
import { SEED_CONFIG } from './seed-fleet.js';

/** Calls a second per server the table is made for. */
const RATE = 5;

const cell = (c: HostEstimate): string =>
  !c.eligible ? 'n/a' : c.monthlyUsd === null ? 'not priced' : usd(c.monthlyUsd);

const escape = (s: string): string => s.replaceAll('|', '\\|');

async function main(): Promise<void> {
  const facts = runFacts();
  const config = await loadConfigOrThrow(SEED_CONFIG);
  const plan = await planFleet(config, {
    callsPerMonth: RATE * SECONDS_PER_MONTH,
    assumptions: DEFAULT_ASSUMPTIONS,
  });
  const lines = [
    `\`mcp-fleet plan --config examples/seed/servers.yaml --rate ${RATE}/s\`: ${RATE} calls a second per server (${Math.round(plan.callsPerMonth).toLocaleString('en-US')} a month), prices of ${plan.prices.date} (${plan.prices.region}, on demand); each server's calls also cost the AgentCore Gateway ${usd(plan.servers[0]?.gatewayMonthlyUsd ?? 0)} a month, whatever its host. *Seed*: the host \`examples/seed/servers.yaml\` gives it; *advised*: the first rule that applies, and its first reason.`,
    '',
    `| server | seed | advised | rule | why | ${HOSTS.join(' | ')} |`,
    `|---|---|---|---|---|${HOSTS.map(() => '---').join('|')}|`,
  ];
  for (const s of plan.servers) {
    const advised = s.advisedHost === s.currentHost ? s.advisedHost : `**${s.advisedHost}**`;
    lines.push(
      `| ${s.server} | ${s.currentHost} | ${advised} | ${s.rule} | ${escape(s.reasons[0] ?? '')} | ${s.costs.map(cell).join(' | ')} |`,
    );
  }
  const differ = plan.servers.filter((s) => s.advisedHost !== s.currentHost).map((s) => s.server);
  lines.push(
    '',
    differ.length === 0
      ? 'Every server of the seed runs on the host the advice gives.'
      : `The seed differs from the advice for: ${differ.join(', ')}.`,
  );
  await writeGeneratedBlock(generatedDoc('seed-plan'), facts, lines.join('\n'));
  process.stderr.write(`${lines.join('\n')}\nwrote docs/hosts.md\n`);
}

await main();
