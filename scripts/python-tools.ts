/**
 * The Python tools the tests drive (moto's server, cfn-lint, the default fleet's git server),
 * installed with mcp-fleet's uv into a venv of the project, `.mcp-fleet/tools/test`, exactly as
 * pinned in test/python-tools.txt. Nothing goes into the machine's Python.
 *
 *   npm run python-tools              install, or nothing when up to date (npm test runs it)
 *   npm run python-tools -- --lock    pin test/python-tools.in's set again into python-tools.txt
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureUv, findPython, UV_VERSION, uvTrustEnv } from '../src/build/uv.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const INPUT = path.join(ROOT, 'test', 'python-tools.in');
const LOCKED = path.join(ROOT, 'test', 'python-tools.txt');
/** The venv of the test tools. */
export const PYTHON_TOOLS_DIR = path.join(ROOT, '.mcp-fleet', 'tools', 'test');

/** The absolute path of a tool's executable (e.g. `moto_server`), with a clear error when it is not installed. */
export function pythonTool(name: string): string {
  const file = path.join(PYTHON_TOOLS_DIR, 'bin', name);
  if (!existsSync(file))
    throw new Error(
      `${name} is not installed in ${path.relative(ROOT, PYTHON_TOOLS_DIR)}: run \`npm run python-tools\` (npm test does it)`,
    );
  return file;
}

const say = (s: string): void => {
  process.stderr.write(`python-tools: ${s}\n`);
};

/** The environment uv runs in here: this process's, no Python download, the system's trust store as the build uses it. */
export const toolsUvEnv = (env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv => ({
  ...env,
  UV_PYTHON_DOWNLOADS: 'never',
  ...uvTrustEnv(env),
});

async function uvRun(uv: string, args: string[]): Promise<void> {
  try {
    await run(uv, args, {
      cwd: ROOT,
      env: toolsUvEnv(),
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`uv ${args.slice(0, 2).join(' ')} failed: ${(e.stderr ?? e.message).trim()}`, {
      cause: err,
    });
  }
}

/** Installs the pinned set, unless the same set is installed already. */
export async function installPythonTools(): Promise<void> {
  const python = await findPython(undefined);
  const locked = await readFile(LOCKED, 'utf8');
  const stamp = path.join(PYTHON_TOOLS_DIR, '.mcp-fleet-tools');
  const want = createHash('sha256')
    .update(JSON.stringify({ locked, uv: UV_VERSION, python: python.version }))
    .digest('hex');
  if ((await readFile(stamp, 'utf8').catch(() => '')) === want) {
    say(`up to date (${path.relative(ROOT, PYTHON_TOOLS_DIR)})`);
    return;
  }
  const t = performance.now();
  const uv = await ensureUv({ onLine: say });
  await rm(PYTHON_TOOLS_DIR, { recursive: true, force: true });
  await uvRun(uv, ['venv', '--quiet', '--python', python.exe, PYTHON_TOOLS_DIR]);
  await uvRun(uv, ['pip', 'sync', '--quiet', '--python', PYTHON_TOOLS_DIR, '--compile-bytecode', LOCKED]);
  await writeFile(stamp, want);
  say(
    `installed test/python-tools.txt into ${path.relative(ROOT, PYTHON_TOOLS_DIR)} (Python ${python.version}, uv ${UV_VERSION}) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
}

/** Resolves test/python-tools.in again (for every platform, the oldest supported Python). */
async function lock(): Promise<void> {
  const uv = await ensureUv({ onLine: say });
  await uvRun(uv, [
    'pip',
    'compile',
    '--quiet',
    '--universal',
    '--python-version',
    '3.11',
    '--no-annotate',
    '--custom-compile-command',
    'npm run python-tools -- --lock',
    '--output-file',
    path.relative(ROOT, LOCKED),
    path.relative(ROOT, INPUT),
  ]);
  say(`pinned ${path.relative(ROOT, LOCKED)}`);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv.includes('--lock')) await lock();
    await installPythonTools();
  } catch (err) {
    say((err as Error).message);
    process.exitCode = 1;
  }
}
