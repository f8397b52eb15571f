/**
 * Lambda's Invoke API as the AWS SDK and CLI speak it: Invoke (RequestResponse, Event, DryRun;
 * client context; function errors), InvokeWithResponseStream (an AWS event stream of the
 * function's pieces), and the list of functions. Secret values are kept out of every answer.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { EventStreamCodec, type MessageHeaders } from '@smithy/core/event-streams';
import { ThrottledError, type LocalFunction } from '../lambda/function.js';
import { FunctionNotFoundError } from '../lambda/service.js';
import { clip, json, lambdaError, throttled, tooLarge } from './replies.js';
import type { DevRequest } from './request.js';
import type { RouteContext } from './routes.js';

/**
 * What both Invoke APIs read from a request: the function (404 when there is none), the event
 * (the body, JSON) and the client context (base64 JSON). Answers a DryRun (204) and every bad
 * request itself, then returns undefined.
 */
async function invokeRequest(
  ctx: RouteContext,
  req: DevRequest,
  res: ServerResponse,
  name: string,
  types: { allowed: readonly string[]; refusal: string },
): Promise<{ fn: LocalFunction; event: unknown; clientContext: unknown; type: string } | undefined> {
  const type = invocationType(req, types.allowed, res, types.refusal);
  if (type === undefined) return undefined;
  let fn;
  const qualifier = req.url.searchParams.get('Qualifier') ?? undefined;
  try {
    fn = ctx.lambda.resolve(name, qualifier);
  } catch (err) {
    if (!(err instanceof FunctionNotFoundError) && !(err instanceof URIError)) throw err;
    const arn = `arn:aws:lambda:${ctx.region}:000000000000:function:${clip(name)}${qualifier !== undefined ? `:${clip(qualifier)}` : ''}`;
    lambdaError(res, 404, 'ResourceNotFoundException', `Function not found: ${arn}`);
    return undefined;
  }
  if (!invocable(fn)) {
    // A web function is served on its endpoint, an AgentCore Runtime on its invocation URL:
    // neither is a Lambda function one may Invoke.
    const arn = `arn:aws:lambda:${ctx.region}:000000000000:function:${fn.name}`;
    lambdaError(
      res,
      404,
      'ResourceNotFoundException',
      `Function not found: ${arn} (${fn.name} runs on host ${fn.server.hosting.host}, which has no Lambda Invoke; call it over MCP at /servers/${fn.server.id}/mcp or through the gateway at /mcp)`,
    );
    return undefined;
  }
  const body = await req.body();
  if (body === undefined) {
    tooLarge(res, 'invoke', ctx.maxBodyBytes);
    return undefined;
  }
  const event = parseEvent(body);
  if (event instanceof Error) {
    lambdaError(
      res,
      400,
      'InvalidRequestContentException',
      `Could not parse request body into json: ${event.message}`,
    );
    return undefined;
  }
  const clientContext = parseClientContext(req.headers['x-amz-client-context']);
  if (clientContext instanceof Error) {
    lambdaError(
      res,
      400,
      'InvalidRequestContentException',
      'Client context must be a valid Base64-encoded JSON object.',
    );
    return undefined;
  }
  if (type === 'DryRun') {
    res.writeHead(204, { 'x-amzn-requestid': randomUUID() });
    res.end();
    return undefined;
  }
  return { fn, event, clientContext, type };
}

/** The event: the body as JSON ({} when empty). */
function parseEvent(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    return err;
  }
}

/** `X-Amz-Client-Context`: base64 JSON, or nothing. */
function parseClientContext(header: string | undefined): unknown {
  if (header === undefined || header === '') return undefined;
  try {
    return JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    return new Error('not base64 JSON');
  }
}

function invocationType(
  req: DevRequest,
  allowed: readonly string[],
  res: ServerResponse,
  what: string,
): string | undefined {
  const type = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
  if (allowed.includes(type)) return type;
  lambdaError(
    res,
    400,
    'InvalidParameterValueException',
    `Unsupported InvocationType: ${clip(type)}; ${what}`,
  );
  return undefined;
}

/** Lambda's Invoke API: RequestResponse, Event and DryRun; client context; function errors. */
export async function invokeRoute(
  ctx: RouteContext,
  req: DevRequest,
  res: ServerResponse,
  name: string,
): Promise<void> {
  const request = await invokeRequest(ctx, req, res, name, {
    allowed: ['RequestResponse', 'Event', 'DryRun'],
    refusal: 'use RequestResponse, Event or DryRun',
  });
  if (request === undefined) return;
  const { fn, event, clientContext, type } = request;
  const opts = clientContext === undefined ? {} : { clientContext };
  if (type === 'Event') {
    // Queued as Lambda queues it: a throttled attempt or a function error is tried again
    // (LocalLambda.invokeAsync), every attempt with the request id answered here.
    const requestId = randomUUID();
    ctx.lambda.invokeAsync(fn.name, event, { ...opts, requestId }).catch(() => undefined);
    res.writeHead(202, { 'x-amzn-requestid': requestId });
    res.end();
    return;
  }
  const run = ctx.lambda.invoke(fn.name, event, opts);
  try {
    const outcome = await run;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amz-executed-version': '$LATEST',
      'x-amzn-requestid': outcome.requestId,
    };
    if (outcome.functionError !== undefined) headers['x-amz-function-error'] = outcome.functionError;
    res.writeHead(200, headers);
    res.end(JSON.stringify(ctx.redactor.redactDeep(outcome.payload)));
  } catch (err) {
    if (err instanceof ThrottledError) {
      throttled(res);
      return;
    }
    // The environment could not be initialized.
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-amz-function-error': 'Unhandled',
      'x-amz-executed-version': '$LATEST',
    });
    res.end(
      JSON.stringify({
        errorType: 'Runtime.InitError',
        errorMessage: ctx.redactor.redact((err as Error).message),
      }),
    );
  }
}

/** AWS event stream messages (application/vnd.amazon.eventstream), as the AWS SDKs read them. */
const eventStream = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

function streamEvent(type: 'PayloadChunk' | 'InvokeComplete', body: Uint8Array): Uint8Array {
  const headers: MessageHeaders = {
    ':message-type': { type: 'string', value: 'event' },
    ':event-type': { type: 'string', value: type },
    ':content-type': {
      type: 'string',
      value: type === 'PayloadChunk' ? 'application/octet-stream' : 'application/json',
    },
  };
  return eventStream.encode({ headers, body });
}

/** The InvokeComplete event's fields: ErrorCode and ErrorDetails when the function failed. */
function completion(
  ctx: RouteContext,
  outcome: { functionError?: string; payload: unknown },
): Record<string, string> {
  if (outcome.functionError === undefined) return {};
  const p = outcome.payload as { errorType?: unknown; errorMessage?: unknown } | null;
  return {
    ErrorCode: typeof p?.errorType === 'string' ? p.errorType : outcome.functionError,
    ErrorDetails: ctx.redactor.redact(
      typeof p?.errorMessage === 'string' ? p.errorMessage : JSON.stringify(outcome.payload),
    ),
  };
}

/**
 * Lambda's InvokeWithResponseStream: the function's response as PayloadChunk events while it is
 * written, then an InvokeComplete event (with ErrorCode and ErrorDetails when the function
 * failed). A function that does not stream gives its whole answer as one chunk, as Lambda does.
 */
export async function invokeStreamRoute(
  ctx: RouteContext,
  req: DevRequest,
  res: ServerResponse,
  name: string,
): Promise<void> {
  const request = await invokeRequest(ctx, req, res, name, {
    allowed: ['RequestResponse', 'DryRun'],
    refusal: 'InvokeWithResponseStream takes RequestResponse or DryRun',
  });
  if (request === undefined) return;
  const { fn, event, clientContext } = request;
  const decoder = new TextDecoder();
  const start = (contentType: string): void => {
    if (res.headersSent) return;
    // The body is an event stream; Content-Type tells the function's own (ResponseStreamContentType).
    res.writeHead(200, {
      'content-type': contentType,
      'x-amz-executed-version': '$LATEST',
      'x-amzn-requestid': randomUUID(),
    });
    res.flushHeaders();
  };
  const chunk = (data: Uint8Array): void => {
    if (!res.destroyed) res.write(streamEvent('PayloadChunk', data));
  };
  let outcome;
  try {
    outcome = await ctx.lambda.invoke(fn.name, event, {
      ...(clientContext === undefined ? {} : { clientContext }),
      onChunk: (data, contentType) => {
        start(contentType);
        // Secrets are kept out of what the dev server answers (a value split across two pieces
        // is redacted as far as each piece shows it).
        chunk(Buffer.from(ctx.redactor.redact(decoder.decode(data, { stream: true }))));
      },
    });
  } catch (err) {
    if (res.headersSent) throw err;
    if (err instanceof ThrottledError) throttled(res);
    else lambdaError(res, 502, 'ServiceException', ctx.redactor.redact((err as Error).message));
    return;
  }
  start(outcome.streamed?.contentType ?? 'application/json');
  const rest = decoder.decode();
  if (rest !== '') chunk(Buffer.from(ctx.redactor.redact(rest)));
  // A buffered function: its whole answer is the one chunk.
  if (outcome.functionError === undefined && outcome.streamed === undefined)
    chunk(Buffer.from(JSON.stringify(ctx.redactor.redactDeep(outcome.payload))));
  res.end(streamEvent('InvokeComplete', Buffer.from(JSON.stringify(completion(ctx, outcome)))));
}

/** Whether Lambda's Invoke API has the function: not a web function, not an AgentCore Runtime. */
function invocable(fn: LocalFunction): boolean {
  const { host } = fn.server.hosting;
  return host !== 'web-function' && host !== 'agentcore-runtime';
}

/** ListFunctions: the fleet's event functions as Lambda describes them (web functions and runtimes are not Lambda functions one may Invoke). */
export function listFunctionsRoute(ctx: RouteContext, _req: DevRequest, res: ServerResponse): Promise<void> {
  json(res, 200, {
    Functions: [...ctx.lambda.functions.values()].filter(invocable).map((fn) => ({
      FunctionName: fn.name,
      FunctionArn: `arn:aws:lambda:${ctx.region}:000000000000:function:${fn.name}`,
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      MemorySize: fn.server.memory,
      Timeout: fn.server.timeout,
      Description: fn.server.description,
      Architectures: [fn.server.aws.architecture],
      Version: '$LATEST',
    })),
  });
  return Promise.resolve();
}
