/**
 * One local Lambda environment: a process that loads the same bundled handler a deployed
 * function runs (its init starts the MCP server), then serves one invocation at a time for the
 * local Lambda service, over IPC.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

import type { Batch, InvokeMessage, ShutdownMessage, WorkerMessage } from './worker-protocol.js';
// No value imports: in the sandbox this file is mounted alone. The variable's name is
// FUNCTION_ENV.handler (src/contract/function-env.ts); test/contract.test.ts checks they agree.

/** A Lambda handler; mcp-fleet's runtime also tells its server's pid and start error, and closes it. */
interface LoadedHandler {
  (event: unknown, context: unknown): unknown;
  readonly pid?: number;
  readonly startError?: string;
  close?: () => Promise<void>;
}

/** Sends at once (init's messages: an init error is followed by the exit). */
const send = (m: WorkerMessage): void => {
  process.send?.(m);
};

/**
 * The answers and pieces of one turn of the event loop, in order, go to the service together at
 * the end of that turn: when several calls end together (a managed instance's), one message, one
 * write on the channel and one wake-up of the service instead of one each.
 */
let outbox: WorkerMessage[] = [];
let outboxSent: Promise<void> | undefined;
const sendSoon = (m: WorkerMessage): Promise<void> => {
  outbox.push(m);
  outboxSent ??= new Promise<void>((resolve) => {
    setImmediate(() => {
      const batch = outbox;
      outbox = [];
      outboxSent = undefined;
      handOver(batch, resolve);
    });
  });
  return outboxSent;
};

/**
 * The nesting a payload may have to go over the channel as a structured clone (the service's
 * deserializer runs on a deeper stack than this serializer): deeper, it goes as JSON text. The
 * same limit and walk as the service's for events (event-environment.ts: this file takes no value
 * imports).
 */
const CHANNEL_DEPTH = 1000;
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { v, depth } = top;
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) continue;
    if (depth > limit) return true;
    for (const inner of Array.isArray(v) ? v : Object.values(v))
      if (inner !== null && typeof inner === 'object') stack.push({ v: inner, depth: depth + 1 });
  }
  return false;
}

/** An answer the channel can carry: a deeply nested payload as JSON text, else an error saying why. */
function carriable(m: WorkerMessage): WorkerMessage {
  if (m.type !== 'result' || !nestedDeeperThan(m.payload, CHANNEL_DEPTH)) return m;
  try {
    return { ...m, payload: null, payloadJson: JSON.stringify(m.payload) };
  } catch (err) {
    const e = err as Error;
    return { type: 'error', requestId: m.requestId, errorType: e.name, errorMessage: e.message };
  }
}

/** Hands a turn's messages to the channel; `done` once it has them (or has closed). */
function handOver(batch: WorkerMessage[], done: () => void): void {
  if (process.send === undefined) {
    done();
    return;
  }
  const message: WorkerMessage | Batch<WorkerMessage> =
    batch.length === 1 ? (batch[0] as WorkerMessage) : { type: 'batch', messages: batch };
  try {
    process.send(message, undefined, {}, () => {
      done();
    });
    return;
  } catch {
    // One of them cannot be carried: each goes alone, and one that cannot answers with why.
  }
  for (const m of batch) {
    if (!process.connected) break;
    try {
      process.send(m);
    } catch (err) {
      if (m.type === 'result' || m.type === 'error')
        process.send({
          type: 'error',
          requestId: m.requestId,
          errorType: (err as Error).name,
          errorMessage: (err as Error).message,
        } satisfies WorkerMessage);
    }
  }
  done();
}

/*
 * Response streaming, as Lambda's Node.js runtime offers it: the `awslambda` global (set before
 * the handler module loads) with streamifyResponse, which marks a handler as streaming, and
 * HttpResponseStream, which writes the HTTP integration prelude (status and headers as JSON, then
 * eight NUL bytes) before the first piece of the body. A marked handler gets a response stream
 * whose pieces go to the service as they are written.
 */
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

/** Held pieces go out at once past this size (below it, at the end of the event loop's turn). */
const HOLD_BYTES = 64 * 1024;

/**
 * A streaming handler's response stream. What the handler writes in one turn of the event loop
 * goes to the service as one piece at the end of that turn (or with the result, when the handler
 * ends in the same turn): the caller sees each piece as soon as Lambda's would let it, and a short
 * answer costs one message instead of one per write.
 */
class ResponseStream extends Writable {
  private contentType = 'application/octet-stream';
  private written = false;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private flushing: NodeJS.Immediate | undefined;
  /** Set by HttpResponseStream.from: writes the prelude before the first piece. */
  _onBeforeFirstWrite: ((write: (chunk: string | Uint8Array) => void) => void) | undefined;

  constructor(private readonly requestId: string) {
    super();
  }

  get type(): string {
    return this.contentType;
  }

  setContentType(contentType: string): void {
    if (this.written) throw new Error('Cannot set content-type, too late.');
    this.contentType = contentType;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.written) {
      this.written = true;
      this._onBeforeFirstWrite?.((c) => {
        this.hold(Buffer.from(c));
      });
    }
    this.hold(chunk);
    // A fast writer waits for the channel once it has written a lot.
    if (this.heldBytes >= HOLD_BYTES) {
      this.flush(callback);
      return;
    }
    this.flushing ??= setImmediate(() => {
      this.flushing = undefined;
      this.flush();
    });
    callback();
  }

  /** What is held and not yet sent (it goes with the result), none left to send after. */
  take(): Buffer | undefined {
    if (this.flushing !== undefined) clearImmediate(this.flushing);
    this.flushing = undefined;
    if (this.heldBytes === 0) return undefined;
    const data = this.held.length === 1 ? this.held[0] : Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    return data;
  }

  /** Sends what is held as one piece. */
  flush(callback?: (error?: Error | null) => void): void {
    const data = this.take();
    if (data === undefined) {
      callback?.();
      return;
    }
    const message: WorkerMessage = {
      type: 'chunk',
      requestId: this.requestId,
      data,
      contentType: this.contentType,
    };
    void sendSoon(message).then(() => callback?.());
  }

  private hold(piece: Buffer): void {
    this.held.push(piece);
    this.heldBytes += piece.length;
  }
}

const g = globalThis as { awslambda?: Record<string, unknown> };
g.awslambda ??= {
  streamifyResponse: (fn: Record<symbol, unknown>) => {
    fn[STREAMING] = 'response';
    return fn;
  },
  HttpResponseStream: {
    from(stream: ResponseStream, prelude: unknown): ResponseStream {
      stream.setContentType(PRELUDE_CONTENT_TYPE);
      const head = JSON.stringify(prelude);
      stream._onBeforeFirstWrite = (write) => {
        write(head);
        write(new Uint8Array(8));
      };
      return stream;
    },
  },
};

/** Runs a streaming handler: resolves when it has returned and its stream has ended. */
async function runStreaming(
  h: LoadedHandler,
  requestId: string,
  event: unknown,
  context: unknown,
): Promise<{ contentType: string; tail: Buffer | undefined }> {
  const stream = new ResponseStream(requestId);
  const ended = new Promise<void>((resolve, reject) => {
    stream.once('finish', resolve);
    stream.once('error', reject);
  });
  ended.catch(() => undefined); // awaited below; a failed stream must not go unhandled meanwhile
  try {
    // Lambda waits for the stream to end (a handler that never ends it runs into its timeout).
    await (h as unknown as (e: unknown, s: Writable, c: unknown) => Promise<unknown>)(event, stream, context);
  } catch (err) {
    // What was written before the error is sent first, as the runtime's stream would have it.
    if (!stream.writableEnded) stream.end();
    await ended.catch(() => undefined);
    stream.flush();
    throw err;
  }
  await ended;
  return { contentType: stream.type, tail: stream.take() };
}

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

/** The invocations running: a stop lets them send their answer before the process exits. */
const running = new Set<Promise<void>>();
/** How long a stop waits for the answers of the invocations its close ended. */
const ANSWER_GRACE_MS = 2_000;

const stop = (): void => {
  const closing = typeof handler.close === 'function' ? handler.close() : Promise.resolve();
  void closing
    .catch(() => undefined)
    .then(() =>
      Promise.race([
        Promise.allSettled([...running]),
        new Promise((resolve) => setTimeout(resolve, ANSWER_GRACE_MS).unref()),
      ]),
    )
    .finally(() => process.exit(0));
};

process.on('message', (m: InvokeMessage | ShutdownMessage | Batch<InvokeMessage | ShutdownMessage>) => {
  if (m.type === 'batch') for (const one of m.messages) take(one);
  else take(m);
});

function take(m: InvokeMessage | ShutdownMessage): void {
  if (m.type === 'shutdown') {
    stop();
    return;
  }
  // As Lambda's Node.js runtime does: the invocation's trace header, for the handler to read.
  if (m.traceId !== undefined) process.env['_X_AMZN_TRACE_ID'] = m.traceId;
  else delete process.env['_X_AMZN_TRACE_ID'];
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
  const streaming = (handler as unknown as Record<symbol, unknown>)[STREAMING] === 'response';
  type Answer = { payload?: unknown; stream?: { contentType: string }; tail?: Buffer | undefined };
  const invocation = Promise.resolve()
    .then((): Promise<Answer> => {
      const event: unknown = m.eventJson !== undefined ? JSON.parse(m.eventJson) : m.event;
      return streaming
        ? runStreaming(handler, m.requestId, event, context).then(({ contentType, tail }) => ({
            stream: { contentType },
            tail,
          }))
        : Promise.resolve(handler(event, context)).then((payload) => ({ payload }));
    })
    .then(
      (answer: Answer) => {
        const result: WorkerMessage = {
          type: 'result',
          requestId: m.requestId,
          payload: answer.payload ?? null,
        };
        if (answer.stream !== undefined) result.stream = answer.stream;
        if (answer.tail !== undefined) result.data = answer.tail;
        if (handler.pid !== undefined) result.serverPid = handler.pid;
        if (handler.startError !== undefined) result.startError = handler.startError;
        return sendSoon(carriable(result));
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
        return sendSoon(error);
      },
    );
  running.add(invocation);
  void invocation.finally(() => running.delete(invocation));
}

// The service went away: end this environment and its server.
process.on('disconnect', stop);
process.on('SIGTERM', stop);
