/**
 * One server behind the local gateway on each host, side by side in one run: `function` (one call
 * per environment, frozen between calls), `web-function` (one warm server takes many calls at
 * once) and `managed-instances` (several invocations per environment), each in `mcp-fleet dev`
 * with its defaults, with 1, 8, 32 and 64 MCP clients calling `echo` of server-everything through
 * the gateway's `/mcp`; and the best stdio bridges (supergateway, mcp-proxy; stateful) in front of
 * the same server at the same client counts. Per contestant and client count: calls/s, p50, p95,
 * wrong answers, environments started, server processes (peak), peak memory of everything the
 * contestant runs (its whole process tree, sampled every 100 ms).
 *
 * Run: npm run build && npm run bench:hosts (figures on stderr, in bench/results/hosts.json and in
 * its block of docs/hosts.md; BENCH_PHASE_SECONDS caps each phase, 20 s by default)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { generatedDoc, runFacts, writeGeneratedBlock } from '../scripts/generated-docs.js';
import { freePort } from '../scripts/support.js';
import {
  groupMembers,
  processTree,
  readPseudoFile,
  residentBytes,
  signal,
} from '../src/platform/processes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);
const CLIENT_COUNTS = (process.env['BENCH_CLIENTS'] ?? '1,8,32,64').split(',').map(Number);
/** Calls per phase at most (each phase also stops after BENCH_PHASE_SECONDS). */
const CALLS = Number(process.env['BENCH_CALLS'] ?? 2000);
const PHASE_BUDGET_MS = Number(process.env['BENCH_PHASE_SECONDS'] ?? 20) * 1000;
/** Environments `dev` may start per function (the same for every host). */
const MAX_ENVIRONMENTS = 64;

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
  tool: string;
  /** The process group of everything it runs. */
  pid: number;
  /** Cold starts so far (the fleet's /status), when it has one. */
  environments: () => Promise<number | null>;
  stop: () => Promise<void>;
}

async function connect(url: URL): Promise<Client> {
  const client = new Client({ name: 'bench-hosts', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(url));
  return client;
}

async function waitFor(url: URL, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`exited with ${String(child.exitCode)} before it served`);
    try {
      const c = await connect(url);
      await c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url.href} did not come up`);
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

async function phase(running: Running, clients: number): Promise<Phase> {
  const pool = await Promise.all(Array.from({ length: clients }, () => connect(running.url)));
  // Warm: every client once, so cold starts are not in the figures (they are counted apart).
  await Promise.all(pool.map((c, i) => c.callTool({ name: running.tool, arguments: { message: `w${i}` } })));
  const before = await running.environments();
  const memory = sampler(running.pid);
  const samples: number[] = [];
  let wrong = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    pool.map(async (c) => {
      for (;;) {
        const n = next++;
        if (n >= CALLS || performance.now() - t0 >= PHASE_BUDGET_MS) return;
        const t = performance.now();
        try {
          const r = (await c.callTool({ name: running.tool, arguments: { message: `m${n}` } })) as {
            content: { text: string }[];
          };
          if (r.content[0]?.text !== `Echo: m${n}`) wrong += 1;
        } catch {
          wrong += 1;
        }
        samples.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const { peakMb, serversPeak } = memory.stop();
  const after = await running.environments();
  await Promise.all(pool.map((c) => c.close()));
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return {
    clients,
    callsPerSecond: Math.round(samples.length / seconds),
    calls: samples.length,
    p50: at(0.5),
    p95: at(0.95),
    wrong,
    environmentsStarted: after === null || before === null ? null : after,
    serverProcessesPeak: serversPeak,
    peakMemoryMb: peakMb,
  };
}

/** Starts a contestant in a process group of its own; stopped with SIGTERM, then SIGKILL. */
async function start(
  command: string,
  args: string[],
  endpoint: (port: number) => string,
  tool: string,
  status?: (port: number) => string,
): Promise<Running> {
  const port = await freePort();
  const child = spawn(
    command,
    args.map((a) => a.replace('{port}', String(port))),
    { stdio: 'ignore', detached: true, env: { ...process.env, POWERTOOLS_METRICS_DISABLED: 'true' } },
  );
  const url = new URL(endpoint(port));
  await waitFor(url, child);
  const pid = child.pid ?? 0;
  return {
    url,
    tool,
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

function fleetContestant(dir: string, host: string): { name: string; start: () => Promise<Running> } {
  const everything = bin('mcp-server-everything');
  const file = path.join(dir, `${host}.yaml`);
  return {
    name: `mcp-fleet dev, host ${host}`,
    start: async () => {
      await writeFile(
        file,
        `servers:\n  everything:\n    command: ${everything}\n    args: [stdio]\n    host: ${host}\n`,
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
        'everything___echo',
        (p) => `http://127.0.0.1:${p}/status`,
      );
    },
  };
}

function peers(): { name: string; start: () => Promise<Running> }[] {
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
          'echo',
        ),
    },
    {
      name: 'mcp-proxy 6.7.19 (stateful)',
      start: () =>
        start(
          bin('mcp-proxy'),
          ['--port', '{port}', '--server', 'stream', '--', everything, 'stdio'],
          (p) => `http://127.0.0.1:${p}/mcp`,
          'echo',
        ),
    },
  ];
}

function row(name: string, p: Phase): string {
  return `| ${name} | ${p.clients} | ${p.callsPerSecond} | ${p.p50.toFixed(1)} / ${p.p95.toFixed(1)} | ${p.wrong} | ${p.environmentsStarted ?? '–'} | ${p.serverProcessesPeak} | ${p.peakMemoryMb} |`;
}

/** The goal's ratios at 32 clients: web-function against function and against the best peer. */
function verdict(results: Record<string, Phase[]>): string[] {
  const at32 = (name: string): Phase | undefined => results[name]?.find((p) => p.clients === 32);
  const fn = at32('mcp-fleet dev, host function');
  const web = at32('mcp-fleet dev, host web-function');
  const peer = Object.entries(results)
    .filter(([n]) => !n.startsWith('mcp-fleet'))
    .map(([n, ps]) => ({ n, p: ps.find((p) => p.clients === 32) }))
    .filter((x): x is { n: string; p: Phase } => x.p !== undefined)
    .sort((a, b) => b.p.callsPerSecond - a.p.callsPerSecond)[0];
  if (fn === undefined || web === undefined) return ['(the 32-client phase did not run for both hosts)'];
  const lines = [
    `At 32 clients, web-function ÷ function: **${(web.callsPerSecond / fn.callsPerSecond).toFixed(2)}×** the calls/s (goal ≥ 3), **${(web.peakMemoryMb / fn.peakMemoryMb).toFixed(2)}×** the peak memory (goal ≤ 0.25).`,
  ];
  if (peer !== undefined)
    lines.push(
      `At 32 clients, web-function ÷ the best peer (${peer.n}, ${peer.p.callsPerSecond} calls/s): **${(web.callsPerSecond / peer.p.callsPerSecond).toFixed(2)}×** the calls/s (goal ≥ 1.2).`,
    );
  return lines;
}

async function main(): Promise<void> {
  const facts = runFacts();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-bench-hosts-'));
  const contestants = [
    ...['function', 'web-function', 'managed-instances'].map((h) => fleetContestant(dir, h)),
    ...peers(),
  ];
  const table = [
    '| contestant | clients | calls/s | p50 / p95 ms | wrong or failed | environments started | server processes (peak) | peak memory, MB |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const results: Record<string, Phase[]> = {};
  for (const c of contestants) {
    let running: Running;
    try {
      running = await c.start();
    } catch (err) {
      table.push(`| ${c.name} | did not start: ${(err as Error).message} | | | | | | |`);
      continue;
    }
    try {
      for (const clients of CLIENT_COUNTS) {
        const p = await phase(running, clients);
        (results[c.name] ??= []).push(p);
        table.push(row(c.name, p));
        process.stderr.write(`${row(c.name, p)}\n`);
      }
    } catch (err) {
      table.push(`| ${c.name} | failed: ${(err as Error).message} | | | | | | |`);
    } finally {
      await running.stop();
    }
  }
  const body = [
    `\`tools/call\` of \`echo\` on server-everything through each contestant, ${CLIENT_COUNTS.join(', ')} MCP clients (SDK Streamable HTTP), at most ${CALLS} calls or ${PHASE_BUDGET_MS / 1000} s per phase, after one warm-up call per client. \`mcp-fleet dev\` with its defaults (freeze, memory limits) and \`--concurrency ${MAX_ENVIRONMENTS}\` (environments per function), through the gateway's \`/mcp\`; the peers in front of the server directly. *Environments started*: cold starts since the fleet started (warm-ups included); *peak memory*: the RSS of the contestant's whole process tree, sampled every 100 ms during the phase.`,
    '',
    ...table,
    '',
    ...verdict(results),
  ].join('\n');
  process.stderr.write(`\n${body}\n`);
  await writeGeneratedBlock(generatedDoc('hosts'), facts, body);
  await mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(
    path.join(ROOT, 'bench', 'results', 'hosts.json'),
    `${JSON.stringify({ at: new Date().toISOString(), results }, null, 2)}\n`,
  );
  await rm(dir, { recursive: true, force: true });
}

await main();
