/**
 * The first build of the seed fleet (examples/seed: 20 servers, 17 of them PyPI), side by side in
 * one run: mcp-fleet's installer (uv: one resolution for every platform, then the exact set with
 * bytecode) vs the pip-based build mcp-fleet had before (pip resolving and installing into a venv,
 * then pip freeze), kept here only as the baseline. Each build starts from a copy of the fleet
 * without a lock file or build folder (a first build), with warm package caches: uv's is warmed by
 * a first uv build (reported too), pip's by this machine's earlier seed builds (BENCH_PIP_WARMUP=1
 * runs a pip build first as well). Same concurrency for both (3, as in docs/benchmarks.md before).
 *
 * Run: npm run bench:seed-build  (figures to stderr, bench/results/seed-build.json and its block of
 * docs/benchmarks.md)
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFleet, type FleetBuild } from '../src/build/build.js';
import { discoverLocally } from '../src/local/lambda/discovery.js';
import { requirementLines, type PythonInstaller } from '../src/build/stage/index.js';
import { UV_VERSION } from '../src/build/uv.js';
import { loadConfigOrThrow } from '../src/config/index.js';
import { generatedDoc, runFacts, writeGeneratedBlock } from '../scripts/generated-docs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SEED = path.join(ROOT, 'examples', 'seed');
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 3);

const line = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

const PIP_ENV = { PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };

/** The baseline: how mcp-fleet installed PyPI servers before uv (pip resolves, installs, freezes). */
const pipInstall: PythonInstaller = async (ctx) => {
  await ctx.exec(ctx.python.exe, ['-m', 'venv', 'venv'], `python${ctx.python.version} -m venv`, PIP_ENV);
  const python = path.join(ctx.dir, 'venv', 'bin', 'python');
  const args = ['-m', 'pip', 'install', ctx.spec];
  const lines = [...ctx.constraints, ...(ctx.locked ?? [])];
  if (lines.length > 0) {
    await writeFile(path.join(ctx.dir, 'constraints.txt'), `${lines.join('\n')}\n`);
    args.push('--constraint', 'constraints.txt');
  }
  await ctx.exec(python, args, `pip install ${ctx.spec}`, PIP_ENV);
  const frozen = await ctx.exec(python, ['-m', 'pip', 'freeze', '--exclude-editable'], 'pip freeze', PIP_ENV);
  return { resolved: requirementLines(frozen) };
};

async function firstBuild(work: string, name: string, installer?: PythonInstaller): Promise<FleetBuild> {
  const dir = path.join(work, name);
  await mkdir(dir, { recursive: true });
  await cp(path.join(SEED, 'servers.yaml'), path.join(dir, 'servers.yaml'));
  await cp(path.join(SEED, 'tools'), path.join(dir, 'tools'), { recursive: true });
  const config = await loadConfigOrThrow(path.join(dir, 'servers.yaml'));
  line(`${name}: building ${config.servers.length} servers …`);
  const result = await buildFleet(config, {
    concurrency: CONCURRENCY,
    discover: discoverLocally,
    ...(installer ? { pythonInstaller: installer } : {}),
  });
  const sum = (f: (b: FleetBuild['built'][number]) => number | undefined): string =>
    (result.built.reduce((n, b) => n + (f(b) ?? 0), 0) / 1000).toFixed(0);
  line(
    `${name}: per server, summed: staging ${sum((b) => b.manifest.stageMs)} s, tool discovery ${sum((b) => b.manifest.tools.coldStartMs)} s`,
  );
  line(
    `${name}: ${(result.ms / 1000).toFixed(1)} s, ${result.built.length} built, ${result.failed.length} failed${result.failed.length > 0 ? `: ${result.failed.map((f) => f.detail).join('\n')}` : ''}`,
  );
  // The build folders are large (the seed's venvs hold GBs): keep only the figures.
  await rm(dir, { recursive: true, force: true });
  return result;
}

const facts = runFacts();
const work = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-bench-seed-'));
try {
  const uvCold = await firstBuild(work, 'uv (warming its cache)');
  if (process.env['BENCH_PIP_WARMUP'] === '1') await firstBuild(work, 'pip (warming its cache)', pipInstall);
  const pip = await firstBuild(work, 'pip', pipInstall);
  const uv = await firstBuild(work, 'uv');
  const pypi = (b: FleetBuild): number => b.built.filter((s) => s.server.package?.kind === 'pypi').length;
  const figures = {
    when: new Date().toISOString(),
    machine: `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}`,
    concurrency: CONCURRENCY,
    uv: UV_VERSION,
    servers: uv.built.length + uv.failed.length,
    pypiBuilt: { pip: pypi(pip), uv: pypi(uv) },
    failed: { pip: pip.failed.map((f) => f.serverId), uv: uv.failed.map((f) => f.serverId) },
    pipMs: Math.round(pip.ms),
    uvMs: Math.round(uv.ms),
    uvColdCacheMs: Math.round(uvCold.ms),
    pipOverUv: pip.ms / uv.ms,
  };
  line('');
  line(
    `first build of the seed fleet (${figures.servers} servers, --concurrency ${CONCURRENCY}, warm caches):`,
  );
  line(
    `  pip (baseline)          ${(figures.pipMs / 1000).toFixed(1)} s  (${figures.pypiBuilt.pip} PyPI servers built)`,
  );
  line(
    `  uv ${UV_VERSION}              ${(figures.uvMs / 1000).toFixed(1)} s  (${figures.pypiBuilt.uv} PyPI servers built)`,
  );
  line(`  pip ÷ uv                ${figures.pipOverUv.toFixed(2)}×  (goal ≥ 3)`);
  line(`  uv, cold uv cache       ${(figures.uvColdCacheMs / 1000).toFixed(1)} s`);
  await mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(
    path.join(ROOT, 'bench', 'results', 'seed-build.json'),
    `${JSON.stringify(figures, null, 2)}\n`,
  );
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  await writeGeneratedBlock(
    generatedDoc('seed-build'),
    facts,
    [
      `First builds of examples/seed (${figures.servers} servers), \`--concurrency ${CONCURRENCY}\`, warm caches:`,
      '',
      '| build | time | PyPI servers built |',
      '| --- | ---: | ---: |',
      `| pip (baseline) | ${s(figures.pipMs)} | ${figures.pypiBuilt.pip} |`,
      `| uv ${UV_VERSION} (warm uv cache) | ${s(figures.uvMs)} | ${figures.pypiBuilt.uv} |`,
      `| **pip ÷ uv** | **${figures.pipOverUv.toFixed(2)}×** (goal ≥ 3) | |`,
      `| uv, first run of the benchmark (its cache as this machine had it) | ${s(figures.uvColdCacheMs)} | |`,
      ...(figures.failed.pip.length + figures.failed.uv.length > 0
        ? [
            '',
            `Failed: pip ${figures.failed.pip.join(', ') || 'none'}; uv ${figures.failed.uv.join(', ') || 'none'} (of ${figures.servers} servers).`,
          ]
        : []),
    ].join('\n'),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
