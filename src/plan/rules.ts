/**
 * The advice: which host fits a server, by the first of `RULES` that applies, with its reasons in
 * words. The rules, in order:
 *
 * 1. `state` — state between calls (declared `state: session`, or known of its package) →
 *    agentcore-runtime: one server per client session, so a later call finds what an earlier one left.
 * 2. `asks` — a server seen asking its client in the middle of a call (elicitation, sampling,
 *    roots) → agentcore-runtime: only a host that keeps the session carries the answer back.
 * 3. `serial` — a server that answers one call at a time (measured, or `concurrency: 1`) →
 *    function: one call per environment, none waits behind another.
 * 4. `container` — a PyPI, image or command server (stateless) → function: the multi-call hosts
 *    run Node.js zips only, and a per-session server buys a stateless server nothing.
 * 5. `unmeasured` — an npm or Go server that would gain from sharing a warm server (busy or slow
 *    to start), whose answers to concurrent calls nobody checked → function, until measured.
 * 6. `steady` — a concurrent-safe npm or Go server at a high rate, where managed instances cost
 *    less than function → managed-instances.
 * 7. `busy` — a concurrent-safe npm or Go server at a high rate or slow to start → web-function:
 *    one warm server answers the concurrent calls, without a cold start per caller.
 * 8. `quiet` — otherwise → function: called now and then, it scales to zero and costs per call.
 */
import type { Host } from '../config/limits.js';
import type { HostCost } from './cost.js';
import type { ServerFacts } from './facts.js';

/** Above these a warm shared server pays: calls a second (on average), and a cold start's init. */
export const THRESHOLDS = { highRatePerS: 1, slowInitMs: 1000 };

export type RuleId = 'state' | 'asks' | 'serial' | 'container' | 'unmeasured' | 'steady' | 'busy' | 'quiet';

export interface Context {
  facts: ServerFacts;
  callsPerSecond: number;
  costs: Record<Host, HostCost>;
}

export interface Rule {
  id: RuleId;
  host: Host;
  applies: (c: Context) => boolean;
  reasons: (c: Context) => string[];
}

/** The hosts whose zip is Node.js: they take npm and Go servers only. */
const NODE_ZIP_HOSTS: readonly Host[] = ['web-function', 'managed-instances'];
const ZIP_KINDS = ['npm', 'go'];

/** Why a host cannot run this server, or undefined when it can. */
export function whyNot(host: Host, f: ServerFacts): string | undefined {
  if (!NODE_ZIP_HOSTS.includes(host) || ZIP_KINDS.includes(f.kind)) return undefined;
  return f.kind === 'command'
    ? `${host} runs a Node.js zip built from an npm or Go package; this server has none`
    : `${host} runs a Node.js zip; a ${f.kind} server needs its container image`;
}

const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toPrecision(2));
const slowInit = (c: Context): boolean => (c.facts.initMs?.value ?? 0) >= THRESHOLDS.slowInitMs;
const highRate = (c: Context): boolean => c.callsPerSecond >= THRESHOLDS.highRatePerS;
const zip = (c: Context): boolean => ZIP_KINDS.includes(c.facts.kind);
const concurrent = (c: Context): boolean => c.facts.concurrency.value === 'concurrent';

/** Why sharing a warm server would pay: the rate, the init, or both. */
function gains(c: Context): string[] {
  const out: string[] = [];
  if (highRate(c))
    out.push(
      `${fmt(c.callsPerSecond)} calls/s on average (≥ ${THRESHOLDS.highRatePerS}): on function each concurrent caller needs an environment of its own`,
    );
  const init = c.facts.initMs;
  if (init && init.value >= THRESHOLDS.slowInitMs)
    out.push(
      `a cold start takes ${fmt(init.value)} ms (${init.source}; ≥ ${THRESHOLDS.slowInitMs} ms), paid again by every new environment`,
    );
  return out;
}

const money = (cost: HostCost): string =>
  cost.monthlyUsd === null ? 'not priced' : `$${cost.monthlyUsd.toFixed(2)}/month`;

/** The rule that applies when no other does. */
const QUIET: Rule = {
  id: 'quiet',
  host: 'function',
  applies: () => true,
  reasons: (c) => [
    `${fmt(c.callsPerSecond)} calls/s on average (< ${THRESHOLDS.highRatePerS})${c.facts.initMs ? ` and a ${fmt(c.facts.initMs.value)} ms cold start (${c.facts.initMs.source})` : ''}: a warm shared server gains little`,
    'function scales to zero and costs per call',
  ],
};

export const RULES: readonly Rule[] = [
  {
    id: 'state',
    host: 'agentcore-runtime',
    applies: (c) => c.facts.state?.value === 'session',
    reasons: (c) => [
      `keeps state between calls (${c.facts.state?.source ?? ''}): a later call needs what an earlier one left`,
      'on function, web-function and managed-instances any environment may answer the next call, and it does not have that state',
      'AgentCore Runtime gives each client session its own server (a microVM), which lives until the session has been idle for its idle timeout',
    ],
  },
  {
    id: 'asks',
    host: 'agentcore-runtime',
    applies: (c) => c.facts.asks !== undefined,
    reasons: (c) => [
      `asks its client in the middle of a call (${(c.facts.asks?.value ?? []).join(', ')}; ${c.facts.asks?.source ?? ''})`,
      "the client's answer is a new request: on function, web-function and managed-instances it may reach another environment than the one whose server asked, so the server is told its client cannot answer",
      "AgentCore Runtime keeps each client session on one server: the question reaches the client on the call's stream and the answer comes back (through the gateway with responseStreaming and sessions)",
    ],
  },
  {
    id: 'serial',
    host: 'function',
    applies: (c) => c.facts.concurrency.value === 'serial',
    reasons: (c) => [
      `answers one call at a time (${c.facts.concurrency.source})`,
      'on a multi-call host calls would wait behind a slow one; function gives every call its own environment',
    ],
  },
  {
    id: 'container',
    host: 'function',
    applies: (c) => !zip(c),
    reasons: (c) => [
      `a ${c.facts.kind} server: web-function and managed-instances run Node.js zips, built from npm or Go servers; ${c.facts.kind === 'command' ? 'this one has no package to build one from' : `a ${c.facts.kind} server needs its container image`}`,
      'stateless between calls: AgentCore Runtime would start a server per client session for nothing',
    ],
  },
  {
    id: 'unmeasured',
    host: 'function',
    applies: (c) => zip(c) && !concurrent(c) && (highRate(c) || slowInit(c)),
    reasons: (c) => [
      ...gains(c),
      'web-function would share one warm server among concurrent calls, but whether this server answers concurrent calls right was not measured',
      'measure it: run it on host web-function under mcp-fleet dev with concurrent calls (mcp-fleet plan reads what dev recorded), or npm run bench:server-concurrency',
    ],
  },
  {
    id: 'steady',
    host: 'managed-instances',
    applies: (c) =>
      zip(c) &&
      concurrent(c) &&
      highRate(c) &&
      (c.costs['managed-instances'].monthlyUsd ?? Infinity) < (c.costs.function.monthlyUsd ?? Infinity),
    reasons: (c) => [
      ...gains(c),
      `answers concurrent calls right (${c.facts.concurrency.source})`,
      `at this rate managed instances cost ${money(c.costs['managed-instances'])}, less than function's ${money(c.costs.function)}; they never scale to zero, so keep them for steady traffic`,
    ],
  },
  {
    id: 'busy',
    host: 'web-function',
    applies: (c) => zip(c) && concurrent(c) && (highRate(c) || slowInit(c)),
    reasons: (c) => [
      ...gains(c),
      `answers concurrent calls right (${c.facts.concurrency.source})`,
      'a web function shares one warm server among concurrent calls and scales to zero when idle',
    ],
  },
  QUIET,
];

export interface Advice {
  host: Host;
  rule: RuleId;
  reasons: string[];
}

/** The first rule that applies, with its reasons and what else is worth saying. */
export function advise(c: Context): Advice {
  const rule = RULES.find((r) => r.applies(c)) ?? QUIET;
  const reasons = rule.reasons(c);
  if (c.facts.state === undefined)
    reasons.push(
      'state between calls not declared: taken as none (declare state: session when a later call needs what an earlier one left)',
    );
  if (c.facts.host !== rule.host)
    reasons.push(`the config sets host ${c.facts.host}; set host: ${rule.host}`);
  return { host: rule.host, rule: rule.id, reasons };
}
