/**
 * The runtime side by side with the reference library and the floor, in one run, on the same
 * servers and calls:
 *   direct    a warm MCP SDK stdio client calling the server (the server's own round trip)
 *   warm      our handler (AgentCore front) with its warm server process
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
import type { Context } from 'aws-lambda';
import { generatedDoc, runFacts, writeGeneratedBlock } from '../scripts/generated-docs.js';
import { serverEnvironment } from '../src/runtime/env.js';
import { createHandler } from '../src/runtime/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);
/** Warm calls of each kind per round; direct and warm calls alternate by round. */
const WARM_CALLS = Number(process.env['BENCH_WARM_CALLS'] ?? 300);
const WARM_ROUNDS = Number(process.env['BENCH_WARM_ROUNDS'] ?? 6);
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

/** Our handler (AgentCore front) with its warm server process. */
async function warm(c: Case): Promise<Caller> {
  const handler = createHandler({ id: c.id, command: c.command, args: c.args, env: c.env });
  await handler.ready;
  const ctx = context(`${c.id}___${c.tool}`);
  return {
    call: async () => {
      check(await handler(c.arguments, ctx), 'warm');
    },
    close: () => handler.close(),
  };
}

/**
 * Direct and warm calls in alternating rounds (both warm all along), so that both see the same
 * machine: every sample of each, and the warm ÷ direct ratio of each round's medians.
 */
async function warmAndDirect(c: Case): Promise<{ direct: number[]; warm: number[]; ratios: number[] }> {
  const callers = { direct: await direct(c), warm: await warm(c) };
  const samples = { direct: [] as number[], warm: [] as number[] };
  const ratios: number[] = [];
  try {
    for (const caller of Object.values(callers)) for (let i = 0; i < 50; i++) await caller.call();
    for (let round = 0; round < WARM_ROUNDS; round++) {
      const medians: Record<string, number> = {};
      const order = round % 2 === 0 ? (['direct', 'warm'] as const) : (['warm', 'direct'] as const);
      for (const kind of order) {
        const these: number[] = [];
        for (let i = 0; i < WARM_CALLS; i++) these.push(await time(callers[kind].call));
        samples[kind].push(...these);
        medians[kind] = stats(these).p50;
      }
      ratios.push((medians['warm'] ?? NaN) / (medians['direct'] ?? NaN));
    }
  } finally {
    await callers.direct.close();
    await callers.warm.close();
  }
  return { ...samples, ratios };
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
    `# direct and warm: ${WARM_ROUNDS} alternating rounds of ${WARM_CALLS} calls each, after 50 warm-up calls; cold and reference: ${COLD_CALLS} calls each`,
  );
  out();
  /** The table, as docs/benchmarks.md shows it. */
  const table = [
    '| server, tool | direct p50 / p95 (ms) | warm p50 / p95 (ms) | cold p50 (ms) | reference p50 (ms) | warm ÷ direct (goal ≤ 1.1) | its spread over the rounds | cold ÷ reference (goal ≤ 1) | reference ÷ warm (goal ≥ 100) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const results: Record<string, unknown> = {};
  let ok = true;
  for (const c of cases) {
    const rounds = await warmAndDirect(c);
    const d = stats(rounds.direct);
    const w = stats(rounds.warm);
    const spread = [Math.min(...rounds.ratios), Math.max(...rounds.ratios)];
    const both = await coldAndReference(c);
    const k = stats(both.cold);
    const r = stats(both.reference);
    const ratios = {
      warmOverDirect: w.p50 / d.p50,
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
      cold: k,
      reference: r,
      ratios,
      roundRatios: rounds.ratios,
      pass,
    };
    table.push(
      `| ${c.id} \`${c.tool}\` | ${ms(d.p50)} / ${ms(d.p95)} | ${ms(w.p50)} / ${ms(w.p95)} | ${ms(k.p50)} | ${ms(r.p50)} | ${ratios.warmOverDirect.toFixed(2)} | ${spread.map((x) => x.toFixed(2)).join('–')} | ${ratios.coldOverReference.toFixed(2)} | ${ratios.referenceOverWarm.toFixed(0)} |`,
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
      `Direct and warm: ${WARM_ROUNDS} alternating rounds of ${WARM_CALLS} calls each (after 50 warm-up calls), both warm all along; the spread is the lowest and highest warm ÷ direct of the rounds' medians. Cold and reference: ${COLD_CALLS} calls each. Times in ms.`,
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
