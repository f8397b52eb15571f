/**
 * One local Lambda environment: a process that loads the same bundled handler a deployed
 * function runs (its init starts the MCP server), then serves one invocation at a time for the
 * local Lambda service, over IPC.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

import type { InvokeMessage, ShutdownMessage, WorkerMessage } from './worker-protocol.js';
// No value imports: in the sandbox this file is mounted alone. The variable's name is
// FUNCTION_ENV.handler (src/contract/function-env.ts); test/contract.test.ts checks they agree.

/** A Lambda handler; mcp-fleet's runtime also tells its server's pid and start error, and closes it. */
interface LoadedHandler {
  (event: unknown, context: unknown): unknown;
  readonly pid?: number;
  readonly startError?: string;
  close?: () => Promise<void>;
}

const send = (m: WorkerMessage): void => {
  process.send?.(m);
};

const started = performance.now();
const bundle = process.env['MCP_FLEET_HANDLER'];
let handler: LoadedHandler;
try {
  if (bundle === undefined) throw new Error('MCP_FLEET_HANDLER is not set');
  const loaded = ((await import(pathToFileURL(bundle).href)) as { handler?: unknown }).handler;
  if (typeof loaded !== 'function') {
    const err = new Error(`${bundle}: handler is undefined or not exported`);
    err.name = 'Runtime.HandlerNotFound';
    throw err;
  }
  handler = loaded as LoadedHandler;
} catch (err) {
  send({ type: 'init-error', errorType: (err as Error).name, errorMessage: (err as Error).message });
  process.exit(1);
}
const ready: WorkerMessage = { type: 'ready', initMs: performance.now() - started };
if (handler.pid !== undefined) ready.serverPid = handler.pid;
if (handler.startError !== undefined) ready.startError = handler.startError;
send(ready);

const functionName = process.env['AWS_LAMBDA_FUNCTION_NAME'] ?? 'function';
const region = process.env['AWS_REGION'] ?? 'us-east-1';

const stop = (): void => {
  const closing = typeof handler.close === 'function' ? handler.close() : Promise.resolve();
  void closing.finally(() => process.exit(0));
};

process.on('message', (m: InvokeMessage | ShutdownMessage) => {
  if (m.type === 'shutdown') {
    stop();
    return;
  }
  const context = {
    awsRequestId: m.requestId,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: process.env['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'] ?? '1024',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${randomUUID()}`,
    callbackWaitsForEmptyEventLoop: true,
    clientContext: m.clientContext,
    getRemainingTimeInMillis: () => Math.max(0, m.deadline - Date.now()),
  };
  Promise.resolve()
    .then(() => handler(m.event, context))
    .then(
      (payload) => {
        const result: WorkerMessage = { type: 'result', requestId: m.requestId, payload: payload ?? null };
        if (handler.pid !== undefined) result.serverPid = handler.pid;
        if (handler.startError !== undefined) result.startError = handler.startError;
        send(result);
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        const error: WorkerMessage = {
          type: 'error',
          requestId: m.requestId,
          errorType: e.name,
          errorMessage: e.message,
        };
        if (handler.pid !== undefined) error.serverPid = handler.pid;
        send(error);
      },
    );
});

// The service went away: end this environment and its server.
process.on('disconnect', stop);
process.on('SIGTERM', stop);
