/**
 * MCP Streamable HTTP in front of the same stdio server (server-everything), side by side in one
 * run: our /servers/<id>/mcp (each request served by a Lambda-like environment, one invocation
 * at a time per environment) vs supergateway and mcp-proxy (npm), each in its stateless and
 * stateful mode. Same client (MCP SDK v1.32 Streamable HTTP), same call (`echo`).
 *
 * Run: npm run build && npm run bench:gateway (figures on stderr, in bench/results/gateway.json and
 * in its block of docs/benchmarks.md; BENCH_PHASE_SECONDS caps each phase, 30 s by default)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedDoc, runFacts, writeGeneratedBlock } from '../scripts/generated-docs.js';
import { freePort } from '../scripts/support.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);
const SEQUENTIAL = Number(process.env['BENCH_SEQUENTIAL'] ?? 300);
const CONCURRENT_CALLS = Number(process.env['BENCH_CONCURRENT_CALLS'] ?? 2000);
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 32);
/** A phase stops taking new calls after this long: a front at 2 calls/s is measured in 30 s, not 15 min. */
const PHASE_BUDGET_MS = Number(process.env['BENCH_PHASE_SECONDS'] ?? 30) * 1000;
const report: string[] = [];

async function connect(url: URL): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(url));
  return client;
}

async function waitFor(url: URL): Promise<void> {
  for (let i = 0; i < 200; i++) {
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

const stats = (samples: number[], seconds: number) => {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return {
    callsPerSecond: Math.round(samples.length / seconds),
    calls: samples.length,
    p50: at(0.5),
    p95: at(0.95),
  };
};

async function measure(
  url: URL,
): Promise<{ sequential: ReturnType<typeof stats>; concurrent: ReturnType<typeof stats>; errors: number }> {
  let errors = 0;
  const call = async (client: Client, n: number, into: number[]): Promise<void> => {
    const t0 = performance.now();
    try {
      const r = (await client.callTool({ name: 'echo', arguments: { message: `m${n}` } })) as {
        content: { text: string }[];
      };
      if (r.content[0]?.text !== `Echo: m${n}`) errors += 1;
    } catch {
      errors += 1;
    }
    into.push(performance.now() - t0);
  };
  const one = await connect(url);
  for (let i = 0; i < 20; i++) await call(one, i, []);
  const seq: number[] = [];
  let t0 = performance.now();
  for (let i = 0; i < SEQUENTIAL && performance.now() - t0 < PHASE_BUDGET_MS; i++) await call(one, i, seq);
  const sequential = stats(seq, (performance.now() - t0) / 1000);
  await one.close();

  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(url)));
  const conc: number[] = [];
  let next = 0;
  t0 = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      for (;;) {
        const n = next++;
        if (n >= CONCURRENT_CALLS || performance.now() - t0 >= PHASE_BUDGET_MS) return;
        await call(c, n, conc);
      }
    }),
  );
  const concurrent = stats(conc, (performance.now() - t0) / 1000);
  await Promise.all(clients.map((c) => c.close()));
  return { sequential, concurrent, errors };
}

/** Every process carrying the marker (what a front started, even outside its process group). */
async function killMarked(marker: string): Promise<number> {
  let killed = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '');
    if (environ.split('\0').includes(`BENCH_MARKER=${marker}`)) {
      try {
        process.kill(Number(entry), 'SIGKILL');
        killed += 1;
      } catch {
        // gone
      }
    }
  }
  return killed;
}

async function external(
  command: string,
  args: string[],
  endpoint: (port: number) => string,
): Promise<{ url: URL; stop: () => Promise<void> }> {
  const port = await freePort();
  const marker = randomUUID();
  const child: ChildProcess = spawn(
    command,
    args.map((a) => a.replace('{port}', String(port))),
    { stdio: 'ignore', detached: true, env: { ...process.env, BENCH_MARKER: marker } },
  );
  const url = new URL(endpoint(port));
  await waitFor(url);
  return {
    url,
    stop: async () => {
      // SIGTERM (how each is meant to be stopped), then SIGKILL after 3 s.
      const exited = new Promise((r) => child.once('exit', r));
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      }, 3000);
      await exited;
      clearTimeout(timer);
      await new Promise((r) => setTimeout(r, 1000));
      // Children a front started outside its process group would outlive it.
      const leaked = await killMarked(marker);
      if (leaked > 0) report.push(`<!-- ${leaked} leftover processes of the previous front were killed -->`);
    },
  };
}

async function main(): Promise<void> {
  const facts = runFacts();
  const everything = bin('mcp-server-everything');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-bench-gw-'));
  await writeFile(
    path.join(dir, 'servers.yaml'),
    `servers:\n  everything:\n    command: ${everything}\n    args: [stdio]\n`,
  );
  process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
  process.env['POWERTOOLS_LOG_LEVEL'] = 'WARN';

  /** `mcp-fleet dev` in a process of its own, like the others (the CLI, as a user runs it). */
  const fleet = (name: string, ...flags: string[]) => ({
    name: `mcp-fleet /servers/everything/mcp${name}`,
    start: () =>
      external(
        process.execPath,
        [
          path.join(ROOT, 'dist', 'cli', 'main.js'),
          'dev',
          '--config',
          path.join(dir, 'servers.yaml'),
          '--port',
          '{port}',
          ...flags,
        ],
        (p) => `http://127.0.0.1:${p}/servers/everything/mcp`,
      ),
  });
  const contestants: { name: string; start: () => Promise<{ url: URL; stop: () => Promise<void> }> }[] = [
    fleet(''),
    // Without Lambda's freeze between invocations: what the freeze costs per call.
    fleet(' (--no-freeze)', '--no-freeze'),
    // Memory held by sampling /proc instead of a cgroup: what a user without root gets.
    fleet(' (--memory-limits proc, as without root)', '--memory-limits', 'proc'),
    {
      name: 'supergateway 4.0.0 (stateless)',
      start: () =>
        external(
          bin('supergateway'),
          [
            '--stdio',
            `${everything} stdio`,
            '--outputTransport',
            'streamableHttp',
            '--port',
            '{port}',
            '--logLevel',
            'none',
          ],
          (p) => `http://127.0.0.1:${p}/mcp`,
        ),
    },
    {
      name: 'supergateway 4.0.0 (--stateful)',
      start: () =>
        external(
          bin('supergateway'),
          [
            '--stdio',
            `${everything} stdio`,
            '--outputTransport',
            'streamableHttp',
            '--stateful',
            '--port',
            '{port}',
            '--logLevel',
            'none',
          ],
          (p) => `http://127.0.0.1:${p}/mcp`,
        ),
    },
    {
      name: 'mcp-proxy 6.7.19 (stateful)',
      start: () =>
        external(
          bin('mcp-proxy'),
          ['--port', '{port}', '--server', 'stream', '--', everything, 'stdio'],
          (p) => `http://127.0.0.1:${p}/mcp`,
        ),
    },
    {
      name: 'mcp-proxy 6.7.19 (--stateless)',
      start: () =>
        external(
          bin('mcp-proxy'),
          ['--port', '{port}', '--server', 'stream', '--stateless', '--', everything, 'stdio'],
          (p) => `http://127.0.0.1:${p}/mcp`,
        ),
    },
  ];

  report.push(
    `# gateway benchmark — ${new Date().toISOString()}, Node ${process.version}, ${os.cpus().length} CPUs`,
  );
  report.push(
    `# tools/call echo on server-everything; 1 client: ${SEQUENTIAL} calls; ${CLIENTS} clients: ${CONCURRENT_CALLS} calls; each phase at most ${PHASE_BUDGET_MS / 1000} s`,
  );
  report.push('');
  /** Where the table starts: docs/benchmarks.md shows it, after the setup line. */
  const tableAt = report.length;
  report.push(
    '| front | 1 client: calls/s | p50 / p95 ms | 32 clients: calls/s | p50 / p95 ms | wrong or failed answers |',
  );
  report.push('|---|---|---|---|---|---|');
  const results: Record<string, unknown> = {};
  for (const c of contestants) {
    let running;
    try {
      running = await c.start();
    } catch (err) {
      report.push(`| ${c.name} | did not start: ${(err as Error).message} | | | | |`);
      continue;
    }
    try {
      const r = await measure(running.url);
      results[c.name] = r;
      report.push(
        `| ${c.name} | ${r.sequential.callsPerSecond} | ${r.sequential.p50.toFixed(2)} / ${r.sequential.p95.toFixed(2)} | ${r.concurrent.callsPerSecond} | ${r.concurrent.p50.toFixed(1)} / ${r.concurrent.p95.toFixed(1)} | ${r.errors} |`,
      );
    } catch (err) {
      report.push(`| ${c.name} | failed: ${(err as Error).message} | | | | |`);
    } finally {
      await running.stop();
    }
  }
  process.stderr.write(`\n${report.join('\n')}\n`);
  await writeGeneratedBlock(
    generatedDoc('gateway'),
    facts,
    [
      `\`tools/call\` of \`echo\` on server-everything; 1 client: ${SEQUENTIAL} calls; ${CLIENTS} clients: ${CONCURRENT_CALLS} calls; each phase at most ${PHASE_BUDGET_MS / 1000} s.`,
      '',
      ...report.slice(tableAt),
    ].join('\n'),
  );
  await mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(
    path.join(ROOT, 'bench', 'results', 'gateway.json'),
    `${JSON.stringify({ at: new Date().toISOString(), results }, null, 2)}\n`,
  );
  await rm(dir, { recursive: true, force: true });
}

await main();
