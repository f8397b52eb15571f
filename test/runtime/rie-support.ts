/**
 * A function folder run the way Lambda runs it: the Runtime Interface Emulator and the Node.js
 * runtime interface client (aws-lambda-ric) on Node.js 22, inside the Lambda-like sandbox
 * (src/local/sandbox.ts): the folder read-only at /var/task, a fresh /tmp, Lambda's environment
 * variables only.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lambdaTools, type LambdaTools } from '../../scripts/lambda-tools.js';
import { processTree, signalAll, waitGone } from '../../src/platform/processes.js';
import { LAUNCH_FILE_NAME } from '../../src/contract/function-env.js';
import { lambdaEnvironment, sandboxLaunch } from '../../src/local/lambda/sandbox.js';
import type { LaunchInput } from '../../src/runtime/handler.js';
import { freePort, ROOT } from '../helpers.js';
import { eventually, GiveUp, outputOf } from '../support/eventually.js';
import { assertNoneLeft, FAULT_SERVER, type marker } from './support.js';

export interface RieFunction {
  tools: LambdaTools;
  /** Invokes with an event and, when given, AgentCore's client context `custom`. */
  invoke(event: unknown, custom?: Record<string, unknown>): Promise<unknown>;
  /**
   * Invokes and returns the answer as it came: status, headers and the body's bytes (a streamed
   * answer's prelude included; the emulator passes a stream on once it has ended).
   */
  invokeRaw(event: unknown): Promise<RawAnswer>;
  /** What the emulator and the function wrote (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

export interface RawAnswer {
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface RieOptions {
  /** The function's folder (index.mjs, launch.json, …). */
  taskRoot: string;
  functionName?: string;
  timeoutSeconds?: number;
  memoryMb?: number;
  /** Added to Lambda's variables (a test marker, function settings). */
  env?: Record<string, string>;
}

export async function startUnderRie(o: RieOptions): Promise<RieFunction> {
  const tools = await lambdaTools();
  const rootDir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-sandbox-'));
  const [port, apiPort] = [await freePort(), await freePort()];
  const launch = sandboxLaunch({
    rootDir,
    taskRoot: o.taskRoot,
    mounts: [
      { target: '/var/lang', source: tools.nodeDir },
      { target: '/var/runtime', source: tools.ricDir },
      { target: '/usr/local/bin/aws-lambda-rie', source: tools.rie },
    ],
    command: '/usr/local/bin/aws-lambda-rie',
    args: [
      '--log-level',
      'error',
      '--runtime-interface-emulator-address',
      `127.0.0.1:${port}`,
      '--runtime-api-address',
      `127.0.0.1:${apiPort}`,
      '/var/lang/bin/node',
      '/var/runtime/index.mjs',
      'index.handler',
    ],
    env: {
      ...lambdaEnvironment({
        functionName: o.functionName ?? 'function',
        memoryMb: o.memoryMb ?? 512,
        timeoutSeconds: o.timeoutSeconds ?? 30,
        region: 'us-east-1',
      }),
      ...o.env,
    },
  });
  const child = spawn(launch.command, launch.args, {
    env: launch.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = outputOf(child).all;
  const stop = async (): Promise<void> => {
    const pids = await signalAll(() => processTree(child.pid ?? 0), 'SIGKILL');
    await waitGone(pids);
    await rm(rootDir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}/2015-03-31/functions/function/invocations`;
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new GiveUp(`the emulator exited (${String(child.exitCode ?? child.signalCode)})`);
        await fetch(`http://127.0.0.1:${port}/`);
        return true;
      },
      { what: `the emulator to answer on 127.0.0.1:${port}`, seen: output },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    tools,
    output,
    invoke: async (event, custom) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (custom)
        headers['X-Amz-Client-Context'] = Buffer.from(JSON.stringify({ custom })).toString('base64');
      const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(event) });
      assert.equal(res.status, 200, output());
      return res.json();
    },
    invokeRaw: async (event) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(event),
      });
      return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
    },
    stop,
  };
}

/**
 * The bundled handler with the fault fixture as its server (launch.json as build writes it), under
 * the emulator; `stop` also checks that none of the marked processes is left.
 */
export async function faultFunctionUnderRie(
  mark: ReturnType<typeof marker>,
  env: Record<string, string> = {},
): Promise<RieFunction> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-rie-'));
  await copyFile(path.join(ROOT, 'dist', 'runtime', 'lambda.bundle.mjs'), path.join(dir, 'index.mjs'));
  await copyFile(FAULT_SERVER, path.join(dir, 'fault-server.mjs'));
  const launch: LaunchInput = {
    id: 'fault',
    name: 'Fault server',
    command: 'node',
    args: ['/var/task/fault-server.mjs'],
    env: mark.env,
    timeout: 10,
  };
  await writeFile(path.join(dir, LAUNCH_FILE_NAME), JSON.stringify(launch));
  const fn = await startUnderRie({
    taskRoot: dir,
    functionName: 'mcp-server-fault',
    timeoutSeconds: 10,
    env: { ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true', ...env },
  }).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    ...fn,
    stop: async () => {
      try {
        await fn.stop();
        await assertNoneLeft(mark.value);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
