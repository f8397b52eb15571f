/**
 * One local Lambda environment: a process that loads the same bundled handler a deployed
 * function runs (its init starts the MCP server), then serves one invocation at a time for the
 * local Lambda service, over IPC.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export interface InvokeMessage {
  type: 'invoke';
  requestId: string;
  event: unknown;
  clientContext?: unknown;
  /** Epoch ms when Lambda would stop this invocation. */
  deadline: number;
}

/** Stop: close the server (gracefully), then exit. */
export interface ShutdownMessage {
  type: 'shutdown';
}

export type WorkerMessage =
  | { type: 'ready'; initMs: number; serverPid?: number; startError?: string }
  | { type: 'init-error'; errorType: string; errorMessage: string }
  | { type: 'result'; requestId: string; payload: unknown; serverPid?: number; startError?: string }
  | { type: 'error'; requestId: string; errorType: string; errorMessage: string; serverPid?: number };

interface LoadedHandler {
  (event: unknown, context: unknown): Promise<unknown>;
  readonly pid?: number;
  readonly startError?: string;
  close(): Promise<void>;
}

const send = (m: WorkerMessage): void => {
  process.send?.(m);
};

const started = performance.now();
const bundle = process.env['MCP_FLEET_HANDLER'];
let handler: LoadedHandler;
try {
  if (bundle === undefined) throw new Error('MCP_FLEET_HANDLER is not set');
  handler = ((await import(pathToFileURL(bundle).href)) as { handler: LoadedHandler }).handler;
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
  void handler.close().finally(() => process.exit(0));
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
  handler(m.event, context).then(
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
