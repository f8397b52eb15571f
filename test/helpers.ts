import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonTool } from '../scripts/python-tools.js';
import { freePort, gitRepo } from '../scripts/support.js';
import { eventually, exited, GiveUp, outputOf } from './support/eventually.js';

export { pythonTool };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
export const fixture = (...parts: string[]): string => path.join(ROOT, 'test', 'fixtures', ...parts);

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `mcp-fleet` bin. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      ...(options.env ? { env: options.env } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh temporary directory, removed by the returned function. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export { freePort, gitRepo };

/**
 * moto's server on a free loopback port: AWS APIs (SSM, Secrets Manager, Cognito, CloudFormation…)
 * for tests. Fails loudly, with moto's output, when it does not answer (its process stopped).
 */
export async function startMoto(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const moto = spawn(pythonTool('moto_server'), ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let spawnError: Error | undefined;
  moto.on('error', (err) => (spawnError = err));
  const output = outputOf(moto).all;
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (moto.pid === undefined) return;
    const gone = exited(moto);
    if (moto.exitCode === null && moto.signalCode === null) process.kill(-moto.pid, 'SIGTERM');
    await gone;
  };
  try {
    await eventually(
      async () => {
        if (spawnError) throw new GiveUp(spawnError.message);
        if (moto.exitCode !== null || moto.signalCode !== null)
          throw new GiveUp(`it exited (${String(moto.exitCode ?? moto.signalCode)})`);
        return (await fetch(`${endpoint}/moto-api/`)).ok;
      },
      { what: `moto's server to answer on ${endpoint}/moto-api/`, seen: output },
    );
  } catch (err) {
    await stop();
    throw new Error(`moto did not start: ${(err as Error).message}`, { cause: err });
  }
  return { endpoint, stop };
}
