import type { Context } from 'aws-lambda';
import { httpEventKind, type HttpStreamSink } from '../protocol/http.js';
import type { McpLambdaHandler } from './handler.js';

/** What a Lambda response stream offers (a Node.js Writable, as the runtime interface client gives it). */
export interface LambdaResponseStream {
  write(chunk: string | Uint8Array): boolean;
  end(chunk?: string | Uint8Array): void;
}

/** The `awslambda` global of Lambda's Node.js runtime (and of aws-lambda-ric) for response streaming. */
export interface AwsLambdaStreaming {
  streamifyResponse(
    handler: (event: unknown, responseStream: LambdaResponseStream, context: Context) => Promise<void>,
  ): unknown;
  HttpResponseStream: {
    from(
      stream: LambdaResponseStream,
      prelude: { statusCode: number; headers: Record<string, string> },
    ): LambdaResponseStream;
  };
}

/** The `awslambda` global when this runs in Lambda's Node.js runtime, else undefined. */
export function awsLambdaStreaming(): AwsLambdaStreaming | undefined {
  const g = (globalThis as { awslambda?: Partial<AwsLambdaStreaming> }).awslambda;
  return typeof g?.streamifyResponse === 'function' && typeof g.HttpResponseStream?.from === 'function'
    ? (g as AwsLambdaStreaming)
    : undefined;
}

interface HttpResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
  streamed?: boolean;
}

function isHttpResult(value: unknown): value is HttpResult {
  return typeof value === 'object' && value !== null && typeof (value as HttpResult).statusCode === 'number';
}

/**
 * The handler in Lambda's response-streaming mode (a Function URL with invoke mode
 * RESPONSE_STREAM): an HTTP event's answer is written as it comes — the status and headers
 * (Lambda's HTTP integration prelude), then each notification the server sends while the tool
 * runs, then the response. Other events (a direct Invoke) get their JSON result written at once.
 */
export function streamingHandler(
  handler: McpLambdaHandler,
  awslambda: AwsLambdaStreaming,
): (event: unknown, responseStream: LambdaResponseStream, context: Context) => Promise<void> {
  const streaming = async (
    event: unknown,
    responseStream: LambdaResponseStream,
    context: Context,
  ): Promise<void> => {
    if (httpEventKind(event) === undefined) {
      responseStream.end(JSON.stringify((await handler(event, context)) ?? null));
      return;
    }
    let http: LambdaResponseStream | undefined;
    const sink: HttpStreamSink = {
      start: (statusCode, headers) => {
        http = awslambda.HttpResponseStream.from(responseStream, { statusCode, headers });
      },
      write: (chunk) => {
        http?.write(chunk);
      },
    };
    const result = await handler(event, context, sink);
    if (!isHttpResult(result)) {
      responseStream.end(JSON.stringify(result ?? null));
      return;
    }
    const body =
      result.isBase64Encoded === true
        ? Buffer.from(result.body ?? '', 'base64')
        : Buffer.from(result.body ?? '');
    if (result.streamed === true && http !== undefined) {
      http.end(body);
      return;
    }
    const out = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: result.statusCode,
      headers: result.headers ?? {},
    });
    // The prelude is written with the first piece of the body: an empty body still sends it.
    out.write(body.length > 0 ? body : new Uint8Array(0));
    out.end();
  };
  // The server's pid, start error and close stay reachable through the streaming handler (the
  // local Lambda service's worker reads them, as it does of the plain handler).
  return Object.defineProperties(streaming, {
    close: { value: () => handler.close() },
    pid: { get: () => handler.pid },
    startError: { get: () => handler.startError },
  });
}
