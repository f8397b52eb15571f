/**
 * One server behind the local gateway on each host, side by side in one run: `function` (one call
 * per environment, frozen between calls), `web-function` (one warm server takes many calls at
 * once) and `managed-instances` (several invocations per environment), each in `mcp-fleet dev`
 * with its defaults; and the best stdio bridges (supergateway, mcp-proxy; stateful) in front of
 * the same server (server-everything). Three workloads, at each client count:
 *
 * - **warm, CPU only**: 1, 8, 32 and 64 MCP clients calling `echo` (about 0.1 ms of the server's
 *   time) after one warm-up call per client;
 * - **warm, a tool that waits**: 8, 32 and 64 clients calling `trigger-long-running-operation`
 *   for 50 ms (as a tool waits on an AWS API or the network), after one warm-up call per client;
 * - **a burst on a fleet just started**: the contestant started fresh, then 8, 32 and 64 clients
 *   at once, each making 10 `echo` calls in a row (agents arriving together): the cold starts are
 *   in the figures (the time to each client's first answer, and the calls/s over the burst).
 *
 * Per contestant and phase: calls/s, p50, p95, wrong answers, environments started, server
 * processes (peak), peak memory of everything the contestant runs (its whole process tree,
 * sampled every 100 ms). Every answer is checked against its own request.
 *
 * Run: npm run build && npm run bench:hosts (figures on stderr, in bench/results/hosts.json and in
 * its block of docs/hosts.md; BENCH_PHASE_SECONDS caps each phase, 20 s by default)
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { generatedDoc, runFacts, writeGeneratedBlock } from '../scripts/generated-docs.js';
import { DEFAULTS } from '../src/config/limits.js';
import { freePort } from '../scripts/support.js';
import { connect, waitForMcp } from './mcp-client.js';
import {
  groupMembers,
  processTree,
  readPseudoFile,
  residentBytes,
  signal,
} from '../src/platform/processes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);
const CLIENT_COUNTS = (process.env['BENCH_CLIENTS'] ?? '1,8,32,64').split(',').filter(Boolean).map(Number);
/** Only the contestants whose name contains this (all by default). */
const ONLY = process.env['BENCH_ONLY'] ?? '';
/** Calls per phase at most (each phase also stops after BENCH_PHASE_SECONDS). */
const CALLS = Number(process.env['BENCH_CALLS'] ?? 2000);
const PHASE_BUDGET_MS = Number(process.env['BENCH_PHASE_SECONDS'] ?? 20) * 1000;
/** Environments `dev` may start per function (the same for every host). */
const MAX_ENVIRONMENTS = 64;
/**
 * The `concurrency` of the variants measured beside the default (`DEFAULTS.concurrency`): the default before the seed
 * fleet's measurement was read per kind of host, which spread 32 clients over 4 server processes.
 */
const VARIANT_CONCURRENCY = 8;
/** The waiting tool's phases: client counts, the wait, calls at most per phase. */
const WAIT_CLIENTS = (process.env['BENCH_WAIT_CLIENTS'] ?? '8,32,64').split(',').filter(Boolean).map(Number);
const WAIT_SECONDS = 0.05;
const WAIT_CALLS = Number(process.env['BENCH_WAIT_CALLS'] ?? 1500);
/** The bursts: client counts, and the calls each client makes in a row. */
const BURST_CLIENTS = (process.env['BENCH_BURST_CLIENTS'] ?? '8,32,64')
  .split(',')
  .filter(Boolean)
  .map(Number);
const BURST_CALLS = 10;
/** Rounds over every contestant (the second in reverse order): each figure is their median. */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);

/** What a phase calls: the tool (without the gateway's prefix), call n's arguments and its answer. */
interface Workload {
  tool: string;
  args: (n: number) => Record<string, unknown>;
  expected: (n: number) => string;
}

const ECHO: Workload = {
  tool: 'echo',
  args: (n) => ({ message: `m${n}` }),
  expected: (n) => `Echo: m${n}`,
};

/**
 * The waiting tool: 50 ms and a few millionths more, distinct per call, so that every answer (which
 * prints the duration as JavaScript does) can be told from the others.
 */
const duration = (n: number): number => Number(`${WAIT_SECONDS}${String(n % 10_000).padStart(4, '0')}1`);
const WAIT: Workload = {
  tool: 'trigger-long-running-operation',
  args: (n) => ({ duration: duration(n), steps: 1 }),
  expected: (n) => `Long running operation completed. Duration: ${duration(n)} seconds, Steps: 1.`,
};

interface Phase {
  clients: number;
  callsPerSecond: number;
  calls: number;
  p50: number;
  p95: number;
  wrong: number;
  environmentsStarted: number | null;
  serverProcessesPeak: number;
  peakMemoryMb: number;
}

interface Running {
  url: URL;
  /** What the contestant puts before the server's tool names (the gateway's `everything___`). */
  prefix: string;
  /** The process group of everything it runs. */
  pid: number;
  /** Cold starts so far (the fleet's /status), when it has one. */
  environments: () => Promise<number | null>;
  stop: () => Promise<void>;
}

/**
 * Waits until `dev` is up as its user sees it ("servers up"): every function has an environment
 * and none is busy (its discovery of the tools done). Its gateway answers before that, and a burst
 * that came then would land on the discovery's start.
 */
async function fleetUp(statusUrl: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const body = (await (await fetch(statusUrl)).json()) as {
      functions: { environments: { total: number; busy: number } }[];
    };
    if (body.functions.every((f) => f.environments.total >= 1 && f.environments.busy === 0)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${statusUrl}: the fleet was not up after 30 s`);
}

/** Everything a contestant runs: its process tree and every process of its process group. */
function members(pid: number): number[] {
  return [...new Set([...processTree(pid), ...groupMembers(pid)])];
}

/** Server processes among them (server-everything's node processes). */
function servers(pids: readonly number[]): number {
  return pids.filter((p) => (readPseudoFile(`/proc/${p}/cmdline`) ?? '').includes('server-everything'))
    .length;
}

/** Samples the contestant's memory and server processes every 100 ms until stopped. */
function sampler(pid: number): { stop: () => { peakMb: number; serversPeak: number } } {
  let peak = 0;
  let serversPeak = 0;
  const timer = setInterval(() => {
    const pids = members(pid);
    peak = Math.max(peak, residentBytes(pids));
    serversPeak = Math.max(serversPeak, servers(pids));
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return { peakMb: Math.round(peak / (1024 * 1024)), serversPeak };
    },
  };
}

async function callOnce(c: Client, running: Running, w: Workload, n: number): Promise<boolean> {
  try {
    const r = (await c.callTool({ name: `${running.prefix}${w.tool}`, arguments: w.args(n) })) as {
      content: { text: string }[];
    };
    return r.content[0]?.text === w.expected(n);
  } catch {
    return false;
  }
}

const percentile = (samples: readonly number[], q: number): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};

/** A phase's figures, once its calls are done: the sampler stopped, the clients closed. */
async function finish(
  running: Running,
  pool: readonly Client[],
  memory: ReturnType<typeof sampler>,
  samples: readonly number[],
  wrong: number,
  elapsedMs: number,
): Promise<Phase> {
  const { peakMb, serversPeak } = memory.stop();
  const after = await running.environments();
  await Promise.all(pool.map((c) => c.close()));
  return {
    clients: pool.length,
    callsPerSecond: Math.round(samples.length / (elapsedMs / 1000)),
    calls: samples.length,
    p50: percentile(samples, 0.5),
    p95: percentile(samples, 0.95),
    wrong,
    environmentsStarted: after,
    serverProcessesPeak: serversPeak,
    peakMemoryMb: peakMb,
  };
}

/** Warm calls: every client once first (cold starts are counted, not timed), then the phase. */
async function phase(running: Running, clients: number, w: Workload, calls: number): Promise<Phase> {
  const pool = await Promise.all(Array.from({ length: clients }, () => connect(running.url, 'bench-hosts')));
  await Promise.all(pool.map((c, i) => callOnce(c, running, w, 1_000_000 + i)));
  const memory = sampler(running.pid);
  const samples: number[] = [];
  let wrong = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    pool.map(async (c) => {
      for (;;) {
        const n = next++;
        if (n >= calls || performance.now() - t0 >= PHASE_BUDGET_MS) return;
        const t = performance.now();
        if (!(await callOnce(c, running, w, n))) wrong += 1;
        samples.push(performance.now() - t);
      }
    }),
  );
  return finish(running, pool, memory, samples, wrong, performance.now() - t0);
}

interface Burst extends Phase {
  /** Time from the burst's start to each client's first answer: median and slowest, ms. */
  firstAnswerP50: number;
  firstAnswerMax: number;
}

/**
 * A burst on a contestant just started: every client at once connects (a session: supergateway
 * starts its server for it) and makes {@link BURST_CALLS} `echo` calls in a row; cold starts are
 * part of it, and the first answer's time counts from the burst's start.
 */
async function burst(running: Running, clients: number): Promise<Burst> {
  const pool: Client[] = [];
  const memory = sampler(running.pid);
  const samples: number[] = [];
  const first: number[] = [];
  let wrong = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const c = await connect(running.url, 'bench-hosts');
      pool.push(c);
      for (let k = 0; k < BURST_CALLS; k++) {
        const n = i * BURST_CALLS + k;
        const t = performance.now();
        if (!(await callOnce(c, running, ECHO, n))) wrong += 1;
        const now = performance.now();
        samples.push(now - t);
        if (k === 0) first.push(now - t0);
      }
    }),
  );
  return {
    ...(await finish(running, pool, memory, samples, wrong, performance.now() - t0)),
    firstAnswerP50: percentile(first, 0.5),
    firstAnswerMax: Math.max(...first),
  };
}

/** Starts a contestant in a process group of its own; stopped with SIGTERM, then SIGKILL. */
async function start(
  command: string,
  args: string[],
  endpoint: (port: number) => string,
  prefix: string,
  status?: (port: number) => string,
): Promise<Running> {
  const port = await freePort();
  const child = spawn(
    command,
    args.map((a) => a.replace('{port}', String(port))),
    { stdio: 'ignore', detached: true, env: { ...process.env, POWERTOOLS_METRICS_DISABLED: 'true' } },
  );
  const url = new URL(endpoint(port));
  await waitForMcp(url, child);
  if (status !== undefined) await fleetUp(status(port));
  const pid = child.pid ?? 0;
  return {
    url,
    prefix,
    pid,
    environments: async () => {
      if (status === undefined) return null;
      const body = (await (await fetch(status(port))).json()) as { functions: { coldStarts: number }[] };
      return body.functions.reduce((n, f) => n + f.coldStarts, 0);
    },
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        // gone
      }
      const killAll = (): void => {
        for (const p of members(pid)) signal(p, 'SIGKILL');
      };
      const timer = setTimeout(killAll, 5000);
      await exited;
      clearTimeout(timer);
      // Anything left of it (a process of its group that outlived it) is killed.
      await new Promise((r) => setTimeout(r, 500));
      killAll();
    },
  };
}

interface Contestant {
  name: string;
  start: () => Promise<Running>;
  /** Only the warm `echo` phases (a variant of a contestant measured in full). */
  echoOnly?: boolean;
}

/**
 * `mcp-fleet dev` with server-everything on `host`; `concurrency`: the calls one server process
 * takes at once, where the default (32 on these hosts, from the seed fleet's measurement) is not
 * kept.
 */
function fleetContestant(dir: string, host: string, concurrency?: number): Contestant {
  const everything = bin('mcp-server-everything');
  const file = path.join(dir, `${host}${concurrency === undefined ? '' : `-${concurrency}`}.yaml`);
  const setting = concurrency === undefined ? '' : `    concurrency: ${concurrency}\n`;
  return {
    name: `mcp-fleet dev, host ${host}${concurrency === undefined ? '' : `, concurrency: ${concurrency}`}`,
    echoOnly: concurrency !== undefined,
    start: async () => {
      await writeFile(
        file,
        `servers:\n  everything:\n    command: ${everything}\n    args: [stdio]\n    host: ${host}\n${setting}`,
      );
      return start(
        process.execPath,
        [
          path.join(ROOT, 'dist', 'cli', 'main.js'),
          'dev',
          '--config',
          file,
          '--port',
          '{port}',
          '--concurrency',
          String(MAX_ENVIRONMENTS),
          '--no-watch',
        ],
        (p) => `http://127.0.0.1:${p}/mcp`,
        'everything___',
        (p) => `http://127.0.0.1:${p}/status`,
      );
    },
  };
}

function peers(): Contestant[] {
  const everything = bin('mcp-server-everything');
  return [
    {
      name: 'supergateway 4.0.0 (stateful)',
      start: () =>
        start(
          bin('supergateway'),
          ['--stdio', `${everything} stdio`, '--outputTransport', 'streamableHttp', '--stateful'].concat([
            '--port',
            '{port}',
            '--logLevel',
            'none',
          ]),
          (p) => `http://127.0.0.1:${p}/mcp`,
          '',
        ),
    },
    {
      name: 'mcp-proxy 6.7.19 (stateful)',
      start: () =>
        start(
          bin('mcp-proxy'),
          ['--port', '{port}', '--server', 'stream', '--', everything, 'stdio'],
          (p) => `http://127.0.0.1:${p}/mcp`,
          '',
        ),
    },
  ];
}

/** Calls/s, with each round's in brackets when there were several. */
const rate = (p: Phase & { rounds?: number[] }): string =>
  p.rounds !== undefined && p.rounds.length > 1
    ? `${p.callsPerSecond} (${p.rounds.join(', ')})`
    : String(p.callsPerSecond);

function row(name: string, p: Phase): string {
  return `| ${name} | ${p.clients} | ${rate(p)} | ${p.p50.toFixed(1)} / ${p.p95.toFixed(1)} | ${p.wrong} | ${p.environmentsStarted ?? '–'} | ${p.serverProcessesPeak} | ${p.peakMemoryMb} |`;
}

function burstRow(name: string, p: Burst): string {
  return `| ${name} | ${p.clients} | ${p.firstAnswerP50.toFixed(0)} / ${p.firstAnswerMax.toFixed(0)} | ${rate(p)} | ${p.p50.toFixed(1)} / ${p.p95.toFixed(1)} | ${p.wrong} | ${p.environmentsStarted ?? '–'} | ${p.serverProcessesPeak} | ${p.peakMemoryMb} |`;
}

const FUNCTION = 'mcp-fleet dev, host function';
const WEB = 'mcp-fleet dev, host web-function';

/**
 * A workload's ratios at 32 clients: web-function (with the default `concurrency`, and the variant
 * where it ran) against function and against the best peer.
 */
function verdict(what: string, results: Record<string, Phase[]>): string[] {
  const at32 = (name: string): Phase | undefined => results[name]?.find((p) => p.clients === 32);
  const fn = at32(FUNCTION);
  const peer = Object.entries(results)
    .filter(([n]) => !n.startsWith('mcp-fleet'))
    .map(([n, ps]) => ({ n, p: ps.find((p) => p.clients === 32) }))
    .filter((x): x is { n: string; p: Phase } => x.p !== undefined)
    .sort((a, b) => b.p.callsPerSecond - a.p.callsPerSecond)[0];
  const webs = [
    { label: 'web-function', p: at32(WEB) },
    {
      label: `web-function with concurrency: ${VARIANT_CONCURRENCY}`,
      p: at32(`${WEB}, concurrency: ${VARIANT_CONCURRENCY}`),
    },
  ].filter((w): w is { label: string; p: Phase } => w.p !== undefined);
  if (fn === undefined || webs.length === 0)
    return [`${what}: the 32-client phase did not run for both hosts.`];
  const lines: string[] = [];
  for (const { label, p: web } of webs) {
    lines.push(
      `${what}, 32 clients, ${label} ÷ function: **${(web.callsPerSecond / fn.callsPerSecond).toFixed(2)}×** the calls/s (goal ≥ 3), **${(web.peakMemoryMb / fn.peakMemoryMb).toFixed(2)}×** the peak memory (goal ≤ 0.25).`,
    );
    if (peer !== undefined)
      lines.push(
        `${what}, 32 clients, ${label} ÷ the best peer (${peer.n}, ${peer.p.callsPerSecond} calls/s): **${(web.callsPerSecond / peer.p.callsPerSecond).toFixed(2)}×** the calls/s (goal ≥ 1.2).`,
      );
  }
  return lines;
}

const HEADER = [
  '| contestant | clients | calls/s | p50 / p95 ms | wrong or failed | environments started | server processes (peak) | peak memory, MB |',
  '|---|---|---|---|---|---|---|---|',
];
const BURST_HEADER = [
  '| contestant | clients | first answer, median / slowest ms | calls/s | p50 / p95 ms | wrong or failed | environments started | server processes (peak) | peak memory, MB |',
  '|---|---|---|---|---|---|---|---|---|',
];

/** Runs `body` on a contestant started fresh; a failure is a line of `problems` that says so. */
async function withContestant(
  c: Contestant,
  problems: string[],
  body: (running: Running) => Promise<void>,
): Promise<void> {
  let running: Running;
  try {
    running = await c.start();
  } catch (err) {
    problems.push(`${c.name} did not start: ${(err as Error).message}`);
    return;
  }
  try {
    await body(running);
  } catch (err) {
    problems.push(`${c.name} failed: ${(err as Error).message}`);
  } finally {
    await running.stop();
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};

/**
 * One figure from the rounds of a contestant at one client count: the median of the rates and
 * times (of two rounds, their mean), the most environments, processes and memory, every wrong
 * answer; each round's calls/s kept.
 */
function combine<P extends Phase>(rounds: readonly P[]): P & { rounds: number[] } {
  const first = rounds[0];
  if (first === undefined) throw new Error('no round');
  const out: Record<string, unknown> = { ...(first as Phase) };
  for (const [key, value] of Object.entries(first)) {
    if (typeof value !== 'number' || key === 'clients') continue;
    const values = rounds.map((r) => (r as unknown as Record<string, number>)[key] ?? NaN);
    out[key] =
      key === 'wrong'
        ? values.reduce((a, b) => a + b, 0)
        : ['environmentsStarted', 'serverProcessesPeak', 'peakMemoryMb'].includes(key)
          ? Math.max(...values)
          : key === 'callsPerSecond'
            ? Math.round(median(values))
            : median(values);
  }
  if (rounds.some((r) => r.environmentsStarted === null)) out['environmentsStarted'] = null;
  return { ...(out as P), rounds: rounds.map((r) => r.callsPerSecond) };
}

/** Each contestant's phases, each client count's rounds in order. */
type Results<P extends Phase> = Record<string, Map<number, P[]>>;

function record<P extends Phase>(into: Results<P>, name: string, p: P): void {
  const byClients = (into[name] ??= new Map());
  byClients.set(p.clients, [...(byClients.get(p.clients) ?? []), p]);
}

/** The combined figures per contestant, and their table rows in contestant order. */
function summarize<P extends Phase>(
  results: Results<P>,
  names: readonly string[],
  line: (name: string, p: P) => string,
): { combined: Record<string, P[]>; rows: string[] } {
  const combined: Record<string, P[]> = {};
  const rows: string[] = [];
  for (const name of names)
    for (const rounds of results[name]?.values() ?? []) {
      const p = combine(rounds);
      (combined[name] ??= []).push(p);
      rows.push(line(name, p));
    }
  return { combined, rows };
}

async function main(): Promise<void> {
  const facts = runFacts();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-bench-hosts-'));
  const contestants = [
    ...['function', 'web-function', 'managed-instances'].map((h) => fleetContestant(dir, h)),
    // The same hosts with 8 calls per server process, up to 4 processes: what the default buys.
    ...['web-function', 'managed-instances'].map((h) => fleetContestant(dir, h, VARIANT_CONCURRENCY)),
    ...peers(),
  ].filter((c) => c.name.includes(ONLY));
  const echoRounds: Results<Phase> = {};
  const waitRounds: Results<Phase> = {};
  const burstRounds: Results<Burst> = {};
  const problems: string[] = [];
  const progress = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of round % 2 === 0 ? contestants : [...contestants].reverse()) {
      await withContestant(c, problems, async (running) => {
        for (const clients of CLIENT_COUNTS) {
          const p = await phase(running, clients, ECHO, CALLS);
          record(echoRounds, c.name, p);
          progress(`round ${round + 1}, echo: ${row(c.name, p)}`);
        }
        if (c.echoOnly === true) return;
        for (const clients of WAIT_CLIENTS) {
          const p = await phase(running, clients, WAIT, WAIT_CALLS);
          record(waitRounds, c.name, p);
          progress(`round ${round + 1}, wait: ${row(c.name, p)}`);
        }
      });
      for (const clients of c.echoOnly === true ? [] : BURST_CLIENTS)
        await withContestant(c, problems, async (running) => {
          const p = await burst(running, clients);
          record(burstRounds, c.name, p);
          progress(`round ${round + 1}, burst: ${burstRow(c.name, p)}`);
        });
    }
  }
  const names = contestants.map((c) => c.name);
  const echo = summarize(echoRounds, names, row);
  const wait = summarize(waitRounds, names, row);
  const bursts = summarize(burstRounds, names, burstRow);
  const rounds =
    ROUNDS > 1
      ? ` Each contestant ran ${ROUNDS} rounds, the second in the reverse order of the first: each figure is the rounds' median (of two, their mean), with each round's calls/s in brackets; environments, processes and memory are the rounds' highest.`
      : '';
  const body = [
    `server-everything through each contestant, MCP clients of the SDK (Streamable HTTP), one session each. \`mcp-fleet dev\` with its defaults (freeze, memory limits) and \`--concurrency ${MAX_ENVIRONMENTS}\` (environments per function), through the gateway's \`/mcp\`; the peers in front of the server directly. *Environments started*: cold starts since the contestant started (warm-ups and \`dev\`'s discovery of the tools included); *peak memory*: the RSS of the contestant's whole process tree, sampled every 100 ms during the phase. Every answer is checked against its own request. On web-function and managed-instances one server process takes up to ${DEFAULTS.concurrency} calls at once (\`concurrency\`'s default there, from the seed fleet's npm and Go servers in \`bench:server-concurrency\`), as the peers' one server does; the rows \`…, concurrency: ${VARIANT_CONCURRENCY}\` are the same hosts with ${VARIANT_CONCURRENCY} calls per process and up to 4 processes (the default before it was measured per kind of host): their warm \`echo\` phases only.${rounds}`,
    '',
    `**Warm, a tool that costs only CPU**: \`echo\` (about 0.1 ms of the server's time), ${CLIENT_COUNTS.join(', ')} clients, at most ${CALLS} calls or ${PHASE_BUDGET_MS / 1000} s per phase, after one warm-up call per client.`,
    '',
    ...HEADER,
    ...echo.rows,
    '',
    `**Warm, a tool that waits**: \`trigger-long-running-operation\` for ${WAIT_SECONDS * 1000} ms (as a tool waits on an AWS API or the network), ${WAIT_CLIENTS.join(', ')} clients, at most ${WAIT_CALLS} calls or ${PHASE_BUDGET_MS / 1000} s per phase, after one warm-up call per client; the same contestant process as above, after its \`echo\` phases.`,
    '',
    ...HEADER,
    ...wait.rows,
    '',
    `**A burst on a fleet just started**: each contestant started fresh for each burst and up (for \`dev\`, its servers up: one environment warm from its discovery of the tools; mcp-proxy has started its server), then ${BURST_CLIENTS.join(', ')} clients at once, each making ${BURST_CALLS} \`echo\` calls in a row; the cold starts are in the figures.`,
    '',
    ...BURST_HEADER,
    ...bursts.rows,
    '',
    ...(problems.length > 0 ? ['Contestants that failed:', '', ...problems.map((p) => `- ${p}`), ''] : []),
    ...verdict('Warm `echo`', echo.combined),
    '',
    ...verdict('Warm, the tool that waits', wait.combined),
    '',
    ...verdict('The burst on a fleet just started', bursts.combined),
  ].join('\n');
  process.stderr.write(`\n${body}\n`);
  await writeGeneratedBlock(generatedDoc('hosts'), facts, body);
  await mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(
    path.join(ROOT, 'bench', 'results', 'hosts.json'),
    `${JSON.stringify(
      {
        at: new Date().toISOString(),
        rounds: { echo: echoRounds, wait: waitRounds, bursts: burstRounds },
        echo: echo.combined,
        wait: wait.combined,
        bursts: bursts.combined,
      },
      (_, v: unknown): unknown => (v instanceof Map ? (Object.fromEntries(v) as unknown) : v),
      2,
    )}\n`,
  );
  await rm(dir, { recursive: true, force: true });
}

await main();
