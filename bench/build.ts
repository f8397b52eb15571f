/**
 * `mcp-fleet build` side by side in one run, on one fleet of an npm, a PyPI and a Go server:
 *   staged      every server staged (--force: installers run, caches warm), tools discovered
 *   unchanged   nothing changed: every server reused (goal: seconds; the ratio to staged)
 *   env change  one server's env changed: launch specs rewritten, tools discovered again, no install
 *   relocked    --force again with the lock file: npm ci / uv installing the locked set / go.sum from the lock
 *
 * Run: npm run bench:build  (figures to stderr, bench/results/build.json and its block of
 * docs/benchmarks.md)
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFleet, type FleetBuild } from '../src/build/build.js';
import { discoverLocally } from '../src/local/lambda/discovery.js';
import { generatedDoc, runFacts, writeGeneratedBlock } from '../scripts/generated-docs.js';
import { loadConfigOrThrow } from '../src/config/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env['BENCH_BUILD_RUNS'] ?? 5);

const config = (memoryFile: string): string => `
servers:
  memory:
    description: Memory
    package: { npm: "@modelcontextprotocol/server-memory@2026.8.31" }
    command: mcp-server-memory
    env: { MEMORY_FILE_PATH: ${memoryFile} }
  git:
    description: Git
    package: { pypi: mcp-server-git==2026.10.19, system: [git] }
    command: mcp-server-git
  github:
    description: GitHub
    package: { go: github.com/github/github-mcp-server/cmd/github-mcp-server@v1.9.0 }
    command: github-mcp-server
    args: [stdio]
    secrets:
      GITHUB_PERSONAL_ACCESS_TOKEN: { secretsManager: mcp-fleet/github-token }
`;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const line = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

async function build(file: string, force = false): Promise<FleetBuild> {
  const result = await buildFleet(await loadConfigOrThrow(file), { force, discover: discoverLocally });
  if (result.failed.length > 0) throw new Error(result.failed.map((f) => f.detail).join('\n'));
  return result;
}

const facts = runFacts();
const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-bench-build-'));
try {
  const file = path.join(dir, 'servers.yaml');
  await writeFile(file, config('/tmp/bench-a.jsonl'));
  await build(file); // resolve once, so that every timed run below has a lock file and warm caches

  const staged: number[] = [];
  const unchanged: number[] = [];
  const envChange: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    unchanged.push((await build(file)).ms);
    await writeFile(file, config(`/tmp/bench-${String(i)}.jsonl`));
    const e = await build(file);
    if (e.built.some((b) => b.staged)) throw new Error('an env change staged a server again');
    envChange.push(e.ms);
    if (i < 2) staged.push((await build(file, true)).ms);
  }
  const figures = {
    when: new Date().toISOString(),
    machine: `${os.cpus().length} CPUs, Node ${process.version}`,
    servers: ['npm server-memory', 'pypi mcp-server-git', 'go github-mcp-server (arm64 + host)'],
    stagedMs: median(staged),
    unchangedMs: median(unchanged),
    envChangeMs: median(envChange),
    stagedOverUnchanged: median(staged) / median(unchanged),
  };
  line(
    `build of 3 servers (npm, PyPI, Go), median of ${String(RUNS)} (staged: of ${String(staged.length)}):`,
  );
  line(`  staged (--force, from the lock)   ${(figures.stagedMs / 1000).toFixed(1)} s`);
  line(`  env change (launch + discovery)   ${(figures.envChangeMs / 1000).toFixed(2)} s`);
  line(`  unchanged                         ${(figures.unchangedMs / 1000).toFixed(3)} s`);
  line(
    `  staged ÷ unchanged                ${figures.stagedOverUnchanged.toFixed(0)}×  (goal: unchanged in seconds)`,
  );
  await mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(path.join(ROOT, 'bench', 'results', 'build.json'), `${JSON.stringify(figures, null, 2)}\n`);
  await writeGeneratedBlock(
    generatedDoc('build'),
    facts,
    [
      `One fleet of an npm (server-memory), a PyPI (mcp-server-git) and a Go server (github-mcp-server, arm64 + host build); medians of ${String(RUNS)} runs (staged: of ${String(staged.length)}):`,
      '',
      '| build | time |',
      '| --- | ---: |',
      `| every server staged (\`--force\`, installing the locked set, warm caches) | ${(figures.stagedMs / 1000).toFixed(1)} s |`,
      `| one server's env changed (launch specs rewritten, tools discovered again, nothing installed) | ${(figures.envChangeMs / 1000).toFixed(2)} s |`,
      `| nothing changed | ${(figures.unchangedMs / 1000).toFixed(3)} s |`,
      `| staged ÷ unchanged | ${figures.stagedOverUnchanged.toFixed(0)}× (goal: an unchanged fleet in seconds) |`,
    ].join('\n'),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
