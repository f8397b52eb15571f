/**
 * The dev server's MCP endpoints: the gateway's `/mcp` (every tool of the fleet, through the
 * gateway's endpoint), and `/servers/<id>/mcp`, one server through its Function URL front. Both
 * write a streamed answer to the client as it comes, with secret values kept out.
 */
import type { ServerResponse } from 'node:http';
import type { HttpStreamSink } from '../../protocol/http.js';
import { gatewayToolName } from '../../config/tool-names.js';
import { ErrorCode, failure, isRequest } from '../../protocol/jsonrpc.js';
import { functionUrlEvent, StreamedHttpReader, writeFunctionUrlResult } from '../lambda/function-url.js';
import { ThrottledError } from '../lambda/function.js';
import { CallerGoneError } from '../lambda/pool.js';
import { clip, json, stripCors, tooLarge, withoutCors } from './replies.js';
import type { DevRequest } from './request.js';
import type { RouteContext } from './routes.js';

/** The caller's headers as the gateway gets them: the Origin was checked at the edge. */
function gatewayHeaders(req: DevRequest): Record<string, string> {
  const { origin: _origin, ...headers } = req.headers;
  return headers;
}

/** The AgentCore-compatible gateway: MCP Streamable HTTP over every function's tools. */
export async function gatewayRoute(ctx: RouteContext, req: DevRequest, res: ServerResponse): Promise<void> {
  const body = await req.body();
  if (body === undefined) {
    tooLarge(res, 'mcp', ctx.maxBodyBytes);
    return;
  }
  // Notifications (an MCP-server target's progress and log messages) are written to the client's
  // SSE answer as they arrive, then the response.
  const stream: HttpStreamSink = {
    start: (statusCode, headers) => {
      res.writeHead(statusCode, withoutCors(headers));
      res.flushHeaders();
    },
    write: (chunk) => {
      if (!res.destroyed) res.write(ctx.redactor.redact(chunk));
    },
  };
  const response = await ctx.endpoint.serve(
    { method: req.method, path: req.url.pathname, headers: gatewayHeaders(req), body: body.toString('utf8') },
    { deadline: Date.now() + ctx.gatewayTimeoutMs, stream, signal: clientGone(res) },
  );
  if (response.streamed !== true) res.writeHead(response.statusCode, withoutCors(response.headers));
  res.end(ctx.redactor.redact(response.body));
}

/** One server through its Function URL front (a Function URL event through Invoke). */
export async function serverRoute(
  ctx: RouteContext,
  req: DevRequest,
  res: ServerResponse,
  id: string,
): Promise<void> {
  const fn = ctx.lambda.forServer(id);
  if (!fn) {
    json(
      res,
      404,
      failure(null, { code: ErrorCode.InvalidRequest, message: `no server "${clip(id)}" in this fleet` }),
    );
    return;
  }
  const body = await req.body();
  if (body === undefined) {
    tooLarge(res, 'mcp', ctx.maxBodyBytes);
    return;
  }
  // The Function URL in front of the function: it handled the Origin (and CORS) already.
  // A web function (or a runtime) is served on its own endpoint: the path below /servers/<id> is its path.
  const url =
    fn.server.hosting.host === 'web-function' || fn.server.hosting.host === 'agentcore-runtime'
      ? ownPath(req.url, `/servers/${encodeURIComponent(id)}`)
      : req.url;
  const event = functionUrlEvent({ ...req, url, headers: gatewayHeaders(req) }, body, fn.server.id);
  // A streaming function (RESPONSE_STREAM): its answer is written to the client as it comes.
  const decoder = new TextDecoder();
  const streamed = new StreamedHttpReader(
    (statusCode, headers) => {
      res.writeHead(statusCode, withoutCors(headers));
      res.flushHeaders();
    },
    (data) => {
      if (!res.destroyed) res.write(ctx.redactor.redact(decoder.decode(data, { stream: true })));
    },
  );
  let unreadable: string | undefined;
  let outcome;
  // A client that goes away (a session's event stream closed) closes the request on an HTTP host.
  const gone = clientGone(res);
  try {
    const toolName = toolOfBody(body, fn.server.gateway.target);
    outcome = await ctx.lambda.invoke(fn.name, event, {
      signal: gone,
      ...(toolName !== undefined ? { toolName } : {}),
      onChunk: (data, contentType) => {
        if (unreadable !== undefined) return;
        try {
          streamed.push(data, contentType);
        } catch (err) {
          unreadable = (err as Error).message;
        }
      },
    });
  } catch (err) {
    if (err instanceof ThrottledError) json(res, 429, { message: err.message });
    else if (!(err instanceof CallerGoneError)) throw err;
    return;
  }
  if (streamed.started) {
    // The status went out with the first piece: a failure now ends the stream where it is.
    res.end(ctx.redactor.redact(decoder.decode()));
    return;
  }
  if (unreadable !== undefined) {
    json(res, 502, { message: 'Internal Server Error', error: ctx.redactor.redact(unreadable) });
    return;
  }
  // A Function URL answers a function error with 502.
  if (outcome.functionError !== undefined)
    json(res, 502, { message: 'Internal Server Error', error: ctx.redactor.redactDeep(outcome.payload) });
  else writeFunctionUrlResult(res, ctx.redactor.redactDeep(stripCors(outcome.payload)));
}

/** Bodies up to this size are read for the tool they call (a larger one's record names none). */
const TOOL_OF_BODY_MAX_BYTES = 64 * 1024;

/**
 * The tool a request body's `tools/call` calls, under its gateway name (`target___tool`, as the
 * gateway's calls name it), for the invocation's record; undefined for any other body.
 */
export function toolOfBody(body: Buffer, target: string): string | undefined {
  if (body.length > TOOL_OF_BODY_MAX_BYTES) return undefined;
  let message: unknown;
  try {
    message = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRequest(message) || message.method !== 'tools/call') return undefined;
  const name = message.params?.['name'];
  return typeof name === 'string' ? gatewayToolName(target, name) : undefined;
}

/** Aborts when the client closes its connection before its answer was written whole. */
function clientGone(res: ServerResponse): AbortSignal {
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort(new Error('the client closed its connection'));
  });
  return gone.signal;
}

/** The URL with `prefix` taken off its path (`/servers/x/mcp` → `/mcp`). */
function ownPath(url: URL, prefix: string): URL {
  const rest = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname;
  return new URL(`http://localhost${rest === '' ? '/' : rest}${url.search}`);
}
