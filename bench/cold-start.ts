/**
 * Cold starts of the seed fleet's PyPI servers: spawn to the first `tools/list` answer, side by
 * side in one run, per server:
 *   image    an install made exactly the way the generated image makes it: the Dockerfile's own
 *            ENV and RUN lines (same uv, same flags, same environment variables), with /opt
 *            moved to a temporary folder; run with the image's run-time environment
 *            (PYTHONDONTWRITEBYTECODE=1: the deployed code is read-only, nothing is cached)
 *   host     the build's host install, run as `mcp-fleet dev` runs it
 *   before   the image's install as it was before bytecode was compiled at build time (the same
 *            RUN without --compile-bytecode), run like `image`: every start compiles from source
 * Goal: image ÷ host ≤ 1.1 for every server, and no server over 5 s.
 *
 * image and host are the same files made by the same command, so their ratio is 1 but for how
 * they run; one start scatters ±15% on a 2-core machine. So image and host are measured in
 * pairs, back to back (which goes first alternates), and the ratio is the median of the pairs'
 * ratios: what disturbs one pair (another process, the file cache) disturbs both of its starts.
 * `before` only shows what bytecode saves (2-3×, far above the noise): measured in fewer rounds.
 *
 * Needs the seed fleet built (examples/seed/.mcp-fleet/build; `npx mcp-fleet build -c
 * examples/seed/servers.yaml`, or the seed test). Servers that cannot start offline are skipped.
 * Run: npm run bench:cold-start  (BENCH_ONLY=id,… for some servers; BENCH_COLD_RUNS=n pairs, 11 by
 * default; BENCH_COLD_BEFORE_RUNS=n, 3; figures to stderr, bench/results/cold-start.json and its block
 * of docs/benchmarks.md)
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ServerManifest } from '../src/build/build.js';
import { ensureUv } from '../src/build/uv.js';
import { fleetPaths } from '../src/config/fleet-paths.js';
import type { LaunchSpec } from '../src/config/model.js';
import { generatedDoc, runFacts, writeGeneratedBlock } from '../scripts/generated-docs.js';
import { NEEDS_NETWORK } from '../scripts/seed-fleet.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD = fleetPaths(path.join(ROOT, 'examples', 'seed', 'servers.yaml')).buildDir;
const RUNS = Number(process.env['BENCH_COLD_RUNS'] ?? 11);
const BEFORE_RUNS = Number(process.env['BENCH_COLD_BEFORE_RUNS'] ?? 3);
const TIMEOUT_MS = 60_000;

const line = (s: string): void => {
  process.stderr.write(`${s}\n`);
};
const quantile = (xs: number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;
const median = (xs: number[]): number => quantile(xs, 0.5);

/** The Dockerfile's build-time ENV (before its RUN), its RUN command, and its run-time ENV (after). */
function parseDockerfile(text: string): {
  buildEnv: Record<string, string>;
  run: string;
  runEnv: Record<string, string>;
} {
  const stage = text.slice(text.lastIndexOf('\nFROM '));
  const joined = stage.replace(/\\\n\s*/g, ' ');
  const buildEnv: Record<string, string> = {};
  const runEnv: Record<string, string> = {};
  let runCmd: string | undefined;
  for (const l of joined.split('\n')) {
    const env = /^ENV (.*)$/.exec(l);
    if (env) {
      for (const kv of (env[1] ?? '').split(/\s+/)) {
        const [k = '', v = ''] = kv.split('=');
        (runCmd === undefined ? buildEnv : runEnv)[k] = v;
      }
    }
    const r = /^RUN (.*)$/.exec(l);
    if (r && !/dnf install/.test(r[1] ?? '')) runCmd = r[1];
  }
  if (runCmd === undefined) throw new Error('no install RUN line in the Dockerfile');
  // Run-time ENV includes the build-time one (Docker keeps it in the image).
  return { buildEnv, run: runCmd, runEnv: { ...buildEnv, ...runEnv } };
}

/** Spawn to the answer of the first tools/list (after initialize), in ms. */
async function coldStart(
  command: string,
  spec: LaunchSpec,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<number> {
  const t0 = performance.now();
  const child = spawn(command, spec.args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no tools/list answer in ${TIMEOUT_MS} ms; stderr: ${stderr}`));
      }, TIMEOUT_MS);
      let buffer = '';
      const send = (m: Record<string, unknown>): void => {
        child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
      };
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        buffer += d;
        for (let i = buffer.indexOf('\n'); i !== -1; i = buffer.indexOf('\n')) {
          const text = buffer.slice(0, i);
          buffer = buffer.slice(i + 1);
          let msg: { id?: unknown; result?: { tools?: unknown[] } };
          try {
            msg = JSON.parse(text) as typeof msg;
          } catch {
            continue;
          }
          if (msg.id === 1) {
            send({ method: 'notifications/initialized' });
            send({ id: 2, method: 'tools/list' });
          } else if (msg.id === 2) {
            clearTimeout(timer);
            if (!Array.isArray(msg.result?.tools)) reject(new Error(`tools/list failed: ${text}`));
            else resolve(performance.now() - t0);
          }
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${String(code)} before tools/list; stderr: ${stderr}`));
      });
      send({
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'bench', version: '1' },
        },
      });
    });
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await exited;
    }
  }
}

const countPyc = async (dir: string): Promise<number> =>
  (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.pyc')).length;

interface Row {
  id: string;
  imageMs: number;
  hostMs: number;
  beforeMs: number;
  /** The median of the pairs' ratios (image ÷ host, started back to back): the goal's figure. */
  ratio: number;
  /** The middle half of the pairs' ratios: how much one pair scatters. */
  ratioQuartiles: [number, number];
  /** Median ÷ median, for comparison with runs before the pairing. */
  ratioOfMedians: number;
  /** The fastest start of each: on a shared machine, the least disturbed. */
  imageMinMs: number;
  hostMinMs: number;
  minRatio: number;
  samples: Record<'image' | 'host' | 'before', number[]>;
  pycWrittenAtRun: number;
}

const facts = runFacts();
const uv = await ensureUv();
/** What every contestant inherits: this process's environment with the region set, as Lambda sets it. */
const region = process.env['AWS_REGION'] ?? 'us-east-1';
const baseEnv: NodeJS.ProcessEnv = { ...process.env, AWS_REGION: region, AWS_DEFAULT_REGION: region };
const uvDir = uv === 'uv' ? undefined : path.dirname(uv);
const work = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-bench-cold-'));
const rows: Row[] = [];
const skipped: string[] = [];
try {
  const only = process.env['BENCH_ONLY']?.split(',');
  for (const id of (await readdir(BUILD)).sort()) {
    if (only !== undefined && !only.includes(id)) continue;
    const manifest = JSON.parse(
      await readFile(path.join(BUILD, id, 'manifest.json'), 'utf8').catch(() => '{}'),
    ) as Partial<ServerManifest>;
    const dockerfile = path.join(BUILD, id, 'image', 'Dockerfile');
    if (!existsSync(dockerfile) || !existsSync(path.join(BUILD, id, 'host', 'venv'))) continue;
    if (id in NEEDS_NETWORK || manifest.tools?.source === 'file') {
      skipped.push(`${id} (${NEEDS_NETWORK[id]?.why ?? 'tools from a file: it cannot start offline'})`);
      continue;
    }
    const hostSpec = JSON.parse(
      await readFile(path.join(BUILD, id, 'host', 'launch.json'), 'utf8'),
    ) as LaunchSpec;
    const { buildEnv, run: runCmd, runEnv } = parseDockerfile(await readFile(dockerfile, 'utf8'));
    const pythonHome = /^home = (.*)$/m.exec(
      await readFile(path.join(BUILD, id, 'host', 'venv', 'pyvenv.cfg'), 'utf8'),
    )?.[1];
    const installs: Record<'image' | 'before', string> = { image: '', before: '' };
    try {
      for (const kind of ['image', 'before'] as const) {
        const opt = path.join(work, id, kind);
        await mkdir(opt, { recursive: true });
        await copyFile(path.join(BUILD, id, 'image', 'requirements.txt'), path.join(opt, 'requirements.txt'));
        const cmd = (kind === 'before' ? runCmd.replace(' --compile-bytecode', '') : runCmd).replaceAll(
          '/opt',
          opt,
        );
        const env = Object.fromEntries(
          Object.entries(buildEnv).map(([k, v]) => [k, v.replaceAll('/opt', opt)]),
        );
        // uv finds the Python the image asks for (`--python 3.X`) on PATH, where the host install's
        // interpreter is put first: the image would download a build of it, which cannot be done here.
        await run('sh', ['-c', cmd], {
          env: {
            ...process.env,
            ...env,
            PATH: [uvDir, pythonHome, process.env['PATH']].filter(Boolean).join(':'),
          },
          maxBuffer: 64 * 1024 * 1024,
        });
        installs[kind] = opt;
      }
    } catch (err) {
      skipped.push(`${id} (the image-style install failed: ${(err as Error).message.slice(0, 300)})`);
      continue;
    }
    const secrets = Object.fromEntries(Object.keys(hostSpec.secrets).map((k) => [k, 'placeholder']));
    const cwdOf = (spec: LaunchSpec): string =>
      spec.cwd !== undefined ? path.resolve(ROOT, spec.cwd) : os.tmpdir();
    const times: Record<'image' | 'host' | 'before', number[]> = { image: [], host: [], before: [] };
    const pycBefore = await countPyc(path.join(installs.image, 'venv'));
    const hostBin = path.join(BUILD, id, 'host', 'venv', 'bin');
    const imageStart = (opt: string): Promise<number> => {
      const env = Object.fromEntries(Object.entries(runEnv).map(([k, v]) => [k, v.replaceAll('/opt', opt)]));
      const bin = path.join(opt, 'venv', 'bin');
      return coldStart(
        path.join(bin, hostSpec.command),
        hostSpec,
        { ...baseEnv, ...env, ...hostSpec.env, ...secrets, PATH: `${bin}:${process.env['PATH'] ?? ''}` },
        cwdOf(hostSpec),
      );
    };
    const contestants = {
      host: () =>
        coldStart(
          path.join(hostBin, hostSpec.command),
          hostSpec,
          { ...baseEnv, ...hostSpec.env, ...secrets, PATH: `${hostBin}:${process.env['PATH'] ?? ''}` },
          cwdOf(hostSpec),
        ),
      image: () => imageStart(installs.image),
      before: () => imageStart(installs.before),
    };
    try {
      // One start each first (file cache), then the pairs, then `before`'s rounds.
      for (const start of Object.values(contestants)) await start();
      for (let i = 0; i < RUNS; i++) {
        if (i % 2 === 0) {
          times.image.push(await contestants.image());
          times.host.push(await contestants.host());
        } else {
          times.host.push(await contestants.host());
          times.image.push(await contestants.image());
        }
      }
      for (let i = 0; i < BEFORE_RUNS; i++) times.before.push(await contestants.before());
    } catch (err) {
      skipped.push(`${id} (failed to start: ${(err as Error).message.slice(0, 200)})`);
      continue;
    }
    const pairRatios = times.image.map((ms, i) => ms / (times.host[i] ?? NaN));
    const row: Row = {
      id,
      imageMs: median(times.image),
      hostMs: median(times.host),
      beforeMs: median(times.before),
      ratio: median(pairRatios),
      ratioQuartiles: [quantile(pairRatios, 0.25), quantile(pairRatios, 0.75)],
      ratioOfMedians: median(times.image) / median(times.host),
      imageMinMs: Math.min(...times.image),
      hostMinMs: Math.min(...times.host),
      minRatio: Math.min(...times.image) / Math.min(...times.host),
      samples: times,
      pycWrittenAtRun: (await countPyc(path.join(installs.image, 'venv'))) - pycBefore,
    };
    rows.push(row);
    line(
      `${id.padEnd(30)} image ${row.imageMs.toFixed(0).padStart(5)} ms  host ${row.hostMs.toFixed(0).padStart(5)} ms  ratio ${row.ratio.toFixed(2)} (pairs ${row.ratioQuartiles.map((r) => r.toFixed(2)).join('–')}; fastest ${row.minRatio.toFixed(2)})  before ${row.beforeMs.toFixed(0).padStart(5)} ms`,
    );
    await rm(path.join(work, id), { recursive: true, force: true });
  }
  const figures = {
    when: new Date().toISOString(),
    machine: `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}`,
    runs: RUNS,
    beforeRuns: BEFORE_RUNS,
    rows,
    skipped,
    worstRatio: Math.max(...rows.map((r) => r.ratio)),
    slowestImageMs: Math.max(...rows.map((r) => r.imageMs)),
  };
  line('');
  line(
    `| server | image-style install (ms) | host install (ms) | image ÷ host, median of ${RUNS} pairs (goal ≤ 1.1) | middle half of the pairs | image before: no bytecode (ms) |`,
  );
  line(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  for (const r of rows)
    line(
      `| ${r.id} | ${r.imageMs.toFixed(0)} | ${r.hostMs.toFixed(0)} | ${r.ratio.toFixed(2)} | ${r.ratioQuartiles.map((x) => x.toFixed(2)).join('–')} | ${r.beforeMs.toFixed(0)} |`,
    );
  line('');
  line(
    `worst ratio ${figures.worstRatio.toFixed(2)} (goal ≤ 1.1); slowest image-style cold start ${(figures.slowestImageMs / 1000).toFixed(2)} s (goal ≤ 5 s)`,
  );
  if (skipped.length > 0) line(`skipped: ${skipped.join('; ')}`);
  await mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(
    path.join(ROOT, 'bench', 'results', 'cold-start.json'),
    `${JSON.stringify(figures, null, 2)}\n`,
  );
  await writeGeneratedBlock(
    generatedDoc('cold-start'),
    facts,
    [
      `Image and host in ${RUNS} pairs per server, \`before\` ${BEFORE_RUNS} times; medians in ms:`,
      '',
      `| server | image-style install (ms) | host install (ms) | image ÷ host, median of ${RUNS} pairs (goal ≤ 1.1) | middle half of the pairs | image as before: no bytecode (ms) | before ÷ image |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (r) =>
          `| ${r.id} | ${r.imageMs.toFixed(0)} | ${r.hostMs.toFixed(0)} | ${r.ratio.toFixed(2)} | ${r.ratioQuartiles.map((x) => x.toFixed(2)).join('–')} | ${r.beforeMs.toFixed(0)} | ${(r.beforeMs / r.imageMs).toFixed(1)}× |`,
      ),
      '',
      `Worst ratio ${figures.worstRatio.toFixed(2)} (goal ≤ 1.1); slowest image-style cold start ${(figures.slowestImageMs / 1000).toFixed(2)} s (goal ≤ 5 s).`,
      ...(skipped.length > 0 ? ['', `Not measured: ${skipped.join('; ')}.`] : []),
    ].join('\n'),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
