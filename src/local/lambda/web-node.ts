/**
 * The Node.js a local web-function environment runs on: Node.js 24, the only runtime of Lambda Web
 * Functions (`nodejs24.x`), from the npm registry's `node-linux-<arch>` package (the official
 * binaries), installed once into `.mcp-fleet/tools/node24` of the mcp-fleet package. Where it is
 * not installed and cannot be (offline), the running Node.js is used and the fleet says so.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** npm node-linux-<arch>: the newest 24.x the registry serves. */
export const WEB_FUNCTION_NODE_VERSION = '24.22.3';

/** The package root (this file is src/local/lambda or dist/local/lambda). */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DIR = path.join(ROOT, '.mcp-fleet', 'tools', 'node24');

export interface WebNode {
  /** The `node` binary. */
  command: string;
  /** `v24.22.3`, or the running Node.js's version when 24 is not there. */
  version: string;
  /** False when the running Node.js stands in for Node.js 24 (then `why` says why). */
  exact: boolean;
  why?: string;
}

/** Node.js 24 if it is installed (or named by MCP_FLEET_NODE24), else the running Node.js. */
export function webFunctionNode(env: NodeJS.ProcessEnv = process.env): WebNode {
  const named = env['MCP_FLEET_NODE24'];
  if (named !== undefined && named !== '' && existsSync(named))
    return { command: named, version: 'v24 (MCP_FLEET_NODE24)', exact: true };
  const installed = path.join(DIR, WEB_FUNCTION_NODE_VERSION, 'bin', 'node');
  if (existsSync(installed))
    return { command: installed, version: `v${WEB_FUNCTION_NODE_VERSION}`, exact: true };
  if (process.versions.node.startsWith('24.'))
    return { command: process.execPath, version: process.version, exact: true };
  return {
    command: process.execPath,
    version: process.version,
    exact: false,
    why: `Node.js ${WEB_FUNCTION_NODE_VERSION} is not installed in ${DIR}`,
  };
}

/**
 * Installs Node.js 24 from the npm registry when it is missing (one installer at a time), and
 * answers which Node.js web functions run on. Never throws: offline, it answers the stand-in.
 */
export async function ensureWebFunctionNode(log: (line: string) => void = () => undefined): Promise<WebNode> {
  const found = webFunctionNode();
  if (found.exact) return found;
  try {
    await locked(async () => {
      if (webFunctionNode().exact) return;
      log(`installing Node.js ${WEB_FUNCTION_NODE_VERSION} for web functions (npm node-linux-*)`);
      await install();
    });
  } catch (err) {
    return {
      ...found,
      why: `Node.js ${WEB_FUNCTION_NODE_VERSION} could not be installed: ${(err as Error).message.split('\n')[0] ?? ''}`,
    };
  }
  return webFunctionNode();
}

async function install(): Promise<void> {
  const arch = os.arch() === 'arm64' ? 'arm64' : 'x64';
  const tmp = await mkdtemp(path.join(DIR, '.node-'));
  try {
    const { stdout } = await run(
      'npm',
      ['pack', `node-linux-${arch}@${WEB_FUNCTION_NODE_VERSION}`, '--silent'],
      {
        cwd: tmp,
        timeout: 300_000,
      },
    );
    const tgz = path.join(tmp, stdout.trim().split('\n').pop() ?? '');
    await run('tar', ['xzf', tgz, '-C', tmp]);
    await rm(path.join(DIR, WEB_FUNCTION_NODE_VERSION), { recursive: true, force: true });
    await rename(path.join(tmp, 'package'), path.join(DIR, WEB_FUNCTION_NODE_VERSION));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** One installer at a time (test files run in parallel). */
async function locked(fn: () => Promise<void>): Promise<void> {
  await mkdir(DIR, { recursive: true });
  const lock = path.join(DIR, '.lock');
  for (let i = 0; ; i++) {
    try {
      await mkdir(lock);
      break;
    } catch {
      if (i > 10 * 60 * 10)
        throw new Error(`${lock} is held for over 10 minutes: remove it if no install runs`);
      await sleep(100);
    }
  }
  try {
    await fn();
  } finally {
    await rmdir(lock).catch(() => undefined);
  }
}
