/**
 * A function folder run the way Lambda runs it: the Runtime Interface Emulator and the Node.js
 * runtime interface client (aws-lambda-ric) on Node.js 22, inside the Lambda-like sandbox
 * (src/local/sandbox.ts): the folder read-only at /var/task, a fresh /tmp, Lambda's environment
 * variables only.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { lambdaTools, type LambdaTools } from '../../scripts/lambda-tools.js';
import { processTree, signalAll, waitGone } from '../../src/platform/processes.js';
import { LAUNCH_FILE_NAME } from '../../src/contract/function-env.js';
import { lambdaEnvironment, sandboxLaunch, type SandboxMount } from '../../src/local/lambda/sandbox.js';
import type { LaunchInput } from '../../src/runtime/handler.js';
import { freePort, ROOT } from '../helpers.js';
import { eventually, GiveUp, outputOf } from '../support/eventually.js';
import { assertNoneLeft, FAULT_SERVER, type marker } from './support.js';

export interface RieFunction {
  tools: LambdaTools;
  /**
   * Invokes with an event and, when given, AgentCore's client context `custom` and the request id
   * the function is to see (the emulator's `X-Amzn-RequestId`; a fresh one otherwise).
   */
  invoke(event: unknown, custom?: Record<string, unknown>, requestId?: string): Promise<unknown>;
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
  /** More read-only mounts in the sandbox (e.g. a folder into the function's root). */
  mounts?: readonly SandboxMount[];
  /**
   * The emulator's managed-instances mode (Lambda Managed Instances): several invocations at once
   * in the one environment. `maxConcurrency` is AWS_LAMBDA_MAX_CONCURRENCY — its presence switches
   * both the emulator and aws-lambda-ric into the mode; the emulator passes its value on to the
   * runtime but does not cap the invocations in flight with it. `workers` is the runtime client's
   * worker threads (AWS_LAMBDA_NODEJS_WORKER_COUNT; its default is 8 per vCPU), each of which
   * loads the handler (init) once and runs many invocations at once. The runtime then runs as uid
   * 993, and starts from /var/runtime/bootstrap (scripts/lambda-tools.ts writes it).
   */
  managedInstances?: { maxConcurrency: number; workers: number };
}

/** Lambda's variables for a function, with the managed-instances mode's when asked for. */
function functionEnvironment(o: RieOptions): Record<string, string> {
  const managed = o.managedInstances;
  return {
    ...lambdaEnvironment({
      functionName: o.functionName ?? 'function',
      memoryMb: o.memoryMb ?? 512,
      timeoutSeconds: o.timeoutSeconds ?? 30,
      region: 'us-east-1',
    }),
    ...(managed === undefined
      ? {}
      : {
          AWS_LAMBDA_MAX_CONCURRENCY: String(managed.maxConcurrency),
          AWS_LAMBDA_NODEJS_WORKER_COUNT: String(managed.workers),
        }),
    ...o.env,
  };
}

/**
 * POSTs an invoke. In managed-instances mode the emulator refuses an invoke at once (400,
 * `Error-Type: Runtime.Unavailable`) when no runtime is waiting for one — each worker asks for the
 * next invocation as soon as it has started the last — and the caller tries again, as Lambda's
 * front end does.
 */
async function postInvoke(url: string, headers: Record<string, string>, event: unknown): Promise<Response> {
  const until = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(event) });
    const unavailable = res.status === 400 && res.headers.get('error-type') === 'Runtime.Unavailable';
    if (!unavailable || Date.now() > until) return res;
    await res.arrayBuffer();
    await sleep(5);
  }
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
      ...(o.mounts ?? []),
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
    env: functionEnvironment(o),
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
    invoke: async (event, custom, requestId) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (custom)
        headers['X-Amz-Client-Context'] = Buffer.from(JSON.stringify({ custom })).toString('base64');
      if (requestId !== undefined) headers['X-Amzn-RequestId'] = requestId;
      const res = await postInvoke(url, headers, event);
      assert.equal(res.status, 200, output());
      return res.json();
    },
    invokeRaw: async (event) => {
      const res = await postInvoke(url, { 'content-type': 'application/json' }, event);
      return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
    },
    stop,
  };
}

/**
 * A function's folder as build lays out a zip function — the bundled handler as index.mjs, the
 * launch spec as launch.json, and what `stage` adds — under the emulator, with the marker in its
 * environment; `stop` also checks that none of the marked processes is left, and removes the
 * folder.
 */
export async function bundledFunctionUnderRie(
  mark: ReturnType<typeof marker>,
  launch: LaunchInput,
  options: Omit<RieOptions, 'taskRoot'> & { stage?: (dir: string) => Promise<void> } = {},
): Promise<RieFunction> {
  const { stage, ...rie } = options;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-rie-'));
  const start = async (): Promise<RieFunction> => {
    // Readable by the runtime's user, as in Lambda (the managed-instances mode runs the runtime as
    // uid 993, not as the emulator's root).
    await chmod(dir, 0o755);
    await copyFile(path.join(ROOT, 'dist', 'runtime', 'lambda.bundle.mjs'), path.join(dir, 'index.mjs'));
    await writeFile(path.join(dir, LAUNCH_FILE_NAME), JSON.stringify(launch));
    await stage?.(dir);
    return startUnderRie({
      ...rie,
      taskRoot: dir,
      env: { ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true', ...rie.env },
    });
  };
  const fn = await start().catch(async (err: unknown) => {
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

/** The bundled handler with the fault fixture as its server (launch.json as build writes it). */
export function faultFunctionUnderRie(
  mark: ReturnType<typeof marker>,
  env: Record<string, string> = {},
): Promise<RieFunction> {
  const launch: LaunchInput = {
    id: 'fault',
    name: 'Fault server',
    command: 'node',
    args: ['/var/task/fault-server.mjs'],
    env: mark.env,
    timeout: 10,
  };
  return bundledFunctionUnderRie(mark, launch, {
    functionName: 'mcp-server-fault',
    timeoutSeconds: 10,
    env,
    stage: (dir) => copyFile(FAULT_SERVER, path.join(dir, 'fault-server.mjs')),
  });
}
