/**
 * The runtime side by side with the reference library and the floor, in one run, on the same
 * servers and calls:
 *   direct    a warm MCP SDK stdio client calling the server (the server's own round trip)
 *   warm      our handler (AgentCore front) with its warm server process
 *   quiet     the same handler with its per-call telemetry off (log level WARN, metrics
 *             disabled): what the handler costs without the two lines it prints per call
 *   cold      our handler's first call in a new environment (start + initialize + call),
 *             alternated with reference calls
 *   reference @aws/run-mcp-servers-with-aws-lambda: BedrockAgentCoreGatewayTargetHandler +
 *             StdioServerAdapterRequestHandler (a process per call)
 *
 * Run: npm run bench:runtime  (telemetry goes to stdout, which the script discards; figures go to
 * stderr, to bench/results/runtime.json and to its block of docs/benchmarks.md)
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BedrockAgentCoreGatewayTargetHandler,
  StdioServerAdapterRequestHandler,
} from '@aws/run-mcp-servers-with-aws-lambda';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { generatedDoc, runFacts, writeGeneratedBlock } from '../scripts/generated-docs.js';
import { serverEnvironment } from '../src/runtime/env.js';
import { createHandler } from '../src/runtime/index.js';
import type { HandlerOptions } from '../src/runtime/handler.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);
/**
 * Warm calls of each kind per round, and rounds: 12 of 500 (with 6 of 300, two runs in the same
 * hour differed by 0.1-0.2 in their ratios).
 */
const WARM_CALLS = Number(process.env['BENCH_WARM_CALLS'] ?? 500);
const WARM_ROUNDS = Number(process.env['BENCH_WARM_ROUNDS'] ?? 12);
const COLD_CALLS = Number(process.env['BENCH_COLD_CALLS'] ?? 20);
// The reference library lets its servers write to our stderr: the report is printed at the end.
const report: string[] = [];
const out = (line = ''): void => {
  report.push(line);
};

interface Case {
  id: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  tool: string;
  arguments: Record<string, unknown>;
}

function context(toolName: string): Context {
  const deadline = Date.now() + 60_000;
  return {
    awsRequestId: 'bench',
    functionName: 'bench',
    clientContext: { custom: { bedrockAgentCoreToolName: toolName } },
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as unknown as Context;
}

function stats(samples: number[]): { p50: number; p95: number; mean: number; n: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p95: at(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function check(result: unknown, label: string): void {
  const r = result as { isError?: boolean; content?: unknown[] };
  if (r.isError === true || !Array.isArray(r.content))
    throw new Error(`${label}: unexpected result ${JSON.stringify(result).slice(0, 300)}`);
}

/** A warm way to call the case's tool, and how to end it. */
interface Caller {
  call: () => Promise<void>;
  close: () => Promise<void>;
}

/** A warm MCP SDK stdio client calling the server: the server's own round trip. */
async function direct(c: Case): Promise<Caller> {
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(
    new StdioClientTransport({
      command: c.command,
      args: c.args,
      env: serverEnvironment(c.id, c.env),
      stderr: 'ignore',
    }),
  );
  return {
    call: async () => {
      check(await client.callTool({ name: c.tool, arguments: c.arguments }), 'direct');
    },
    close: () => client.close(),
  };
}

/**
 * Our handler (AgentCore front) with its warm server process; `quiet`: with its per-call
 * telemetry off (Powertools' Logger at WARN, its Metrics disabled as POWERTOOLS_METRICS_DISABLED
 * disables them, read when they are made).
 */
async function warm(c: Case, quiet = false): Promise<Caller> {
  const options: HandlerOptions = {};
  if (quiet) {
    const before = process.env['POWERTOOLS_METRICS_DISABLED'];
    process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
    options.metrics = new Metrics({ namespace: 'McpFleet', serviceName: `mcp-server-${c.id}` });
    if (before === undefined) delete process.env['POWERTOOLS_METRICS_DISABLED'];
    else process.env['POWERTOOLS_METRICS_DISABLED'] = before;
    options.logger = new Logger({ serviceName: `mcp-server-${c.id}`, logLevel: 'WARN' });
  }
  const handler = createHandler({ id: c.id, command: c.command, args: c.args, env: c.env }, options);
  await handler.ready;
  const ctx = context(`${c.id}___${c.tool}`);
  return {
    call: async () => {
      check(await handler(c.arguments, ctx), 'warm');
    },
    close: () => handler.close(),
  };
}

const KINDS = ['direct', 'warm', 'quiet'] as const;
type Kind = (typeof KINDS)[number];

/**
 * Direct, warm and quiet calls in rounds (all warm all along, the order turned each round), so
 * that all see the same machine: every sample of each, and each round's ratios of medians
 * (warm ÷ direct, quiet ÷ direct).
 */
async function warmAndDirect(
  c: Case,
): Promise<{ samples: Record<Kind, number[]>; ratios: number[]; quietRatios: number[] }> {
  const callers: Record<Kind, Caller> = {
    direct: await direct(c),
    warm: await warm(c),
    quiet: await warm(c, true),
  };
  const samples: Record<Kind, number[]> = { direct: [], warm: [], quiet: [] };
  const ratios: number[] = [];
  const quietRatios: number[] = [];
  try {
    for (const caller of Object.values(callers)) for (let i = 0; i < 50; i++) await caller.call();
    for (let round = 0; round < WARM_ROUNDS; round++) {
      const medians: Record<string, number> = {};
      const order = KINDS.map((_, i) => KINDS[(i + round) % KINDS.length] as Kind);
      for (const kind of order) {
        const these: number[] = [];
        for (let i = 0; i < WARM_CALLS; i++) these.push(await time(callers[kind].call));
        samples[kind].push(...these);
        medians[kind] = stats(these).p50;
      }
      ratios.push((medians['warm'] ?? NaN) / (medians['direct'] ?? NaN));
      quietRatios.push((medians['quiet'] ?? NaN) / (medians['direct'] ?? NaN));
    }
  } finally {
    for (const caller of Object.values(callers)) await caller.close();
  }
  return { samples, ratios, quietRatios };
}

/** Cold first calls and reference calls, alternated so both see the same machine conditions. */
async function coldAndReference(c: Case): Promise<{ cold: number[]; reference: number[] }> {
  const coldSamples: number[] = [];
  const referenceSamples: number[] = [];
  for (let i = 0; i < COLD_CALLS; i++) {
    const handler = createHandler(
      { id: c.id, command: c.command, args: c.args, env: c.env },
      { warmup: false },
    );
    coldSamples.push(
      await time(async () => {
        check(await handler(c.arguments, context(`${c.id}___${c.tool}`)), 'cold');
      }),
    );
    await handler.close();
    const ref = new BedrockAgentCoreGatewayTargetHandler(
      // The same environment our handler gives its server (inherited CA bundles cost Node ~40 ms a start).
      new StdioServerAdapterRequestHandler({
        command: c.command,
        args: c.args,
        env: serverEnvironment(c.id, c.env),
      }),
    );
    referenceSamples.push(
      await time(async () => {
        check(await ref.handle(c.arguments, context(`${c.id}___${c.tool}`)), 'reference');
      }),
    );
  }
  return { cold: coldSamples, reference: referenceSamples };
}

const ms = (n: number): string => (n < 10 ? n.toFixed(2) : n.toFixed(0));

async function main(): Promise<void> {
  const facts = runFacts();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-bench-'));
  await writeFile(path.join(dir, 'hello.txt'), 'hello\n'.repeat(20));
  const cases: Case[] = [
    {
      id: 'filesystem',
      command: bin('mcp-server-filesystem'),
      args: [dir],
      env: {},
      tool: 'read_text_file',
      arguments: { path: path.join(dir, 'hello.txt') },
    },
    {
      id: 'memory',
      command: bin('mcp-server-memory'),
      args: [],
      env: { MEMORY_FILE_PATH: path.join(dir, 'memory.jsonl') },
      tool: 'read_graph',
      arguments: {},
    },
    {
      id: 'everything',
      command: bin('mcp-server-everything'),
      args: ['stdio'],
      env: {},
      tool: 'echo',
      arguments: { message: 'bench' },
    },
  ];
  out(
    `# runtime benchmark — ${new Date().toISOString()}, Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`,
  );
  out(
    `# direct, warm and quiet: ${WARM_ROUNDS} rounds of ${WARM_CALLS} calls each, after 50 warm-up calls; cold and reference: ${COLD_CALLS} calls each`,
  );
  out();
  /** The table, as docs/benchmarks.md shows it. */
  const table = [
    '| server, tool | direct p50 / p95 (ms) | warm p50 / p95 (ms) | cold p50 (ms) | reference p50 (ms) | warm ÷ direct (goal ≤ 1.1) | its spread over the rounds | quiet ÷ direct (its spread) | cold ÷ reference (goal ≤ 1) | reference ÷ warm (goal ≥ 100) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const results: Record<string, unknown> = {};
  let ok = true;
  for (const c of cases) {
    const rounds = await warmAndDirect(c);
    const d = stats(rounds.samples.direct);
    const w = stats(rounds.samples.warm);
    const q = stats(rounds.samples.quiet);
    const spread = [Math.min(...rounds.ratios), Math.max(...rounds.ratios)];
    const quietSpread = [Math.min(...rounds.quietRatios), Math.max(...rounds.quietRatios)];
    const both = await coldAndReference(c);
    const k = stats(both.cold);
    const r = stats(both.reference);
    const ratios = {
      warmOverDirect: w.p50 / d.p50,
      quietOverDirect: q.p50 / d.p50,
      coldOverReference: k.p50 / r.p50,
      referenceOverWarm: r.p50 / w.p50,
    };
    const pass =
      ratios.warmOverDirect <= 1.1 && ratios.coldOverReference <= 1 && ratios.referenceOverWarm >= 100;
    ok &&= pass;
    results[c.id] = {
      tool: c.tool,
      direct: d,
      warm: w,
      quiet: q,
      cold: k,
      reference: r,
      ratios,
      roundRatios: rounds.ratios,
      quietRoundRatios: rounds.quietRatios,
      pass,
    };
    table.push(
      `| ${c.id} \`${c.tool}\` | ${ms(d.p50)} / ${ms(d.p95)} | ${ms(w.p50)} / ${ms(w.p95)} | ${ms(k.p50)} | ${ms(r.p50)} | ${ratios.warmOverDirect.toFixed(2)} | ${spread.map((x) => x.toFixed(2)).join('–')} | ${ratios.quietOverDirect.toFixed(2)} (${quietSpread.map((x) => x.toFixed(2)).join('–')}) | ${ratios.coldOverReference.toFixed(2)} | ${ratios.referenceOverWarm.toFixed(0)} |`,
    );
  }
  const verdict = ok ? 'All goals met.' : 'Some goals were NOT met (see the ratios).';
  for (const l of table) out(l);
  out();
  out(verdict);
  process.stderr.write(`\n${report.join('\n')}\n`);
  await mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(path.join(ROOT, 'bench', 'results', 'runtime.md'), `${report.join('\n')}\n`);
  await writeGeneratedBlock(
    generatedDoc('runtime'),
    facts,
    [
      `Direct, warm and quiet (warm with its per-call telemetry off: log level WARN, metrics disabled): ${WARM_ROUNDS} rounds of ${WARM_CALLS} calls each, the order turned each round (after 50 warm-up calls), all warm all along; the spread is the lowest and highest ratio of the rounds' medians. Cold and reference: ${COLD_CALLS} calls each. Times in ms.`,
      '',
      ...table,
      '',
      verdict,
    ].join('\n'),
  );
  await writeFile(
    path.join(ROOT, 'bench', 'results', 'runtime.json'),
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
  );
  await rm(dir, { recursive: true, force: true });
}

await main();
