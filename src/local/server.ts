import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpBridge } from '../runtime/bridge.js';
import { httpFront } from '../runtime/fronts/http.js';
import { LAMBDA_PAYLOAD_MAX_BYTES } from '../runtime/limits.js';
import { functionUrlEvent, writeFunctionUrlResult } from './function-url.js';
import type { LocalGateway } from './gateway.js';
import { ThrottledError } from './function.js';
import { FunctionNotFoundError, type LocalLambda } from './lambda-service.js';
import { STATUS_PAGE } from './status-page.js';

export interface DevServerOptions {
  lambda: LocalLambda;
  gateway: LocalGateway;
  host: string;
  port: number;
  /** Static bearer token required on every route (needed off loopback). */
  token?: string;
  /** Deadline of a gateway request (AgentCore's invocation timeout is 15 min). */
  gatewayTimeoutMs?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/** Per-function status (the JSON of /status and the page at /). */
export function fleetStatus(lambda: LocalLambda, gateway: LocalGateway): Record<string, unknown> {
  const catalog = new Map(gateway.entries().map((e) => [e.serverId, e]));
  const functions = [...lambda.functions.values()].map((fn) => {
    const sorted = [...fn.stats.durations].sort((a, b) => a - b);
    const q = (p: number): number | null =>
      sorted.length === 0
        ? null
        : Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 100) / 100;
    const entry = catalog.get(fn.server.id);
    return {
      id: fn.server.id,
      functionName: fn.name,
      target: fn.server.gateway.target,
      state: fn.state === 'failed' || entry?.error !== undefined ? 'failed' : fn.state,
      environments: fn.environments,
      concurrencyLimit: fn.concurrencyLimit,
      calls: fn.stats.calls,
      errors: fn.stats.errors,
      throttles: fn.stats.throttles,
      timeouts: fn.stats.timeouts,
      coldStarts: fn.stats.coldStarts,
      initTimeouts: fn.stats.initTimeouts,
      outOfMemory: fn.stats.outOfMemory,
      memorySizeMb: fn.server.memory,
      maxMemoryUsedMb: fn.stats.maxMemoryUsedMb,
      p50Ms: q(0.5),
      p95Ms: q(0.95),
      lastError:
        fn.startError !== undefined
          ? { at: null, message: fn.startError }
          : (fn.stats.lastError ?? (entry?.error !== undefined ? { at: null, message: entry.error } : null)),
      tools: entry?.tools.map((t) => t.name) ?? [],
      warnings: entry?.warnings ?? [],
    };
  });
  return { functions };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Lambda's error responses: `x-amzn-ErrorType` and `{Type, message}`, as the AWS SDK reads them. */
function lambdaError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  extra: Record<string, unknown> = {},
): void {
  json(
    res,
    status,
    { Type: 'User', message, ...extra },
    { 'x-amzn-errortype': type, 'x-amzn-requestid': crypto.randomUUID() },
  );
}

/**
 * The dev server: Lambda's Invoke API, the AgentCore-compatible gateway at /mcp, each server's
 * Function URL front at /servers/<id>/mcp, and the status at /status and /.
 */
export async function startDevServer(
  opts: DevServerOptions,
): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  if (!isLoopback(opts.host) && opts.token === undefined) {
    throw new Error(
      `refusing to listen on ${opts.host} without --token: anyone who can reach it could call every tool; use --token, or a loopback address`,
    );
  }
  const gatewayBridge = new McpBridge(opts.gateway);

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (opts.token !== undefined) {
      const auth = req.headers['authorization'];
      const given =
        auth?.startsWith('Bearer ') === true
          ? auth.slice(7)
          : (url.searchParams.get('token') ?? req.headers['x-mcp-fleet-token']);
      if (given !== opts.token) {
        json(
          res,
          401,
          { error: 'unauthorized: send Authorization: Bearer <token>' },
          { 'www-authenticate': 'Bearer' },
        );
        return;
      }
    }

    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/.exec(url.pathname);
    if (invoke) {
      if (req.method !== 'POST') {
        lambdaError(res, 405, 'MethodNotAllowedException', 'Invoke takes POST');
        return;
      }
      await invokeApi(req, res, decodeURIComponent(invoke[1] ?? ''), opts.lambda);
      return;
    }
    if (/^\/2015-03-31\/functions\/?$/.test(url.pathname) && req.method === 'GET') {
      const region = process.env['AWS_REGION'] ?? 'us-east-1';
      json(res, 200, {
        Functions: [...opts.lambda.functions.values()].map((fn) => ({
          FunctionName: fn.name,
          FunctionArn: `arn:aws:lambda:${region}:000000000000:function:${fn.name}`,
          Runtime: 'nodejs22.x',
          Handler: 'index.handler',
          MemorySize: fn.server.memory,
          Timeout: fn.server.timeout,
          Description: fn.server.description,
          Architectures: [fn.server.aws.architecture],
          Version: '$LATEST',
        })),
      });
      return;
    }

    if (url.pathname === '/mcp') {
      const body = (await readBody(req, LAMBDA_PAYLOAD_MAX_BYTES)) ?? Buffer.alloc(0);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const response = await httpFront(
        { method: req.method ?? 'GET', path: url.pathname, headers, body: body.toString('utf8') },
        gatewayBridge,
        {
          deadline: Date.now() + (opts.gatewayTimeoutMs ?? 15 * 60_000),
          allowOrigin: '*',
        },
      );
      res.writeHead(response.statusCode, response.headers);
      res.end(response.body);
      return;
    }

    const single = /^\/servers\/([^/]+)\/mcp\/?$/.exec(url.pathname);
    if (single) {
      const id = decodeURIComponent(single[1] ?? '');
      const fn = [...opts.lambda.functions.values()].find((f) => f.server.id === id);
      if (!fn) {
        json(res, 404, { error: `no server "${id}" in this fleet` });
        return;
      }
      const body = await readBody(req, LAMBDA_PAYLOAD_MAX_BYTES);
      if (body === undefined) {
        json(res, 413, { error: "the request is over Lambda's 6 MB payload limit" });
        return;
      }
      try {
        const outcome = await opts.lambda.invoke(fn.name, functionUrlEvent(req, body, fn.server.id));
        if (outcome.functionError !== undefined) {
          // A Function URL answers a function error with 502.
          json(res, 502, { message: 'Internal Server Error', error: outcome.payload });
          return;
        }
        writeFunctionUrlResult(res, outcome.payload);
      } catch (err) {
        if (err instanceof ThrottledError) json(res, 429, { message: err.message });
        else throw err;
      }
      return;
    }

    if (url.pathname === '/status') {
      json(res, 200, fleetStatus(opts.lambda, opts.gateway));
      return;
    }
    if (url.pathname === '/' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(STATUS_PAGE);
      return;
    }
    json(res, 404, {
      error: `nothing at ${url.pathname}; try /mcp, /servers/<id>/mcp, /status or /2015-03-31/functions/<name>/invocations`,
    });
  };

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: (err as Error).message });
      else res.end();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

/** Lambda's Invoke API: RequestResponse, Event and DryRun; client context; function errors. */
async function invokeApi(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  lambda: LocalLambda,
): Promise<void> {
  const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) {
    lambdaError(
      res,
      400,
      'InvalidParameterValueException',
      `Unsupported InvocationType: ${type}; use RequestResponse, Event or DryRun`,
    );
    return;
  }
  let fn;
  try {
    fn = lambda.resolve(name);
  } catch (err) {
    if (err instanceof FunctionNotFoundError) {
      const region = process.env['AWS_REGION'] ?? 'us-east-1';
      lambdaError(
        res,
        404,
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:${region}:000000000000:function:${name}`,
      );
      return;
    }
    throw err;
  }
  const body = await readBody(req, LAMBDA_PAYLOAD_MAX_BYTES);
  if (body === undefined) {
    lambdaError(
      res,
      413,
      'RequestTooLargeException',
      `Request must be smaller than ${LAMBDA_PAYLOAD_MAX_BYTES} bytes for the InvokeFunction operation`,
    );
    return;
  }
  let event: unknown = {};
  if (body.length > 0) {
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch (err) {
      lambdaError(
        res,
        400,
        'InvalidRequestContentException',
        `Could not parse request body into json: ${(err as Error).message}`,
      );
      return;
    }
  }
  let clientContext: unknown;
  const cc = req.headers['x-amz-client-context'];
  if (typeof cc === 'string' && cc !== '') {
    try {
      clientContext = JSON.parse(Buffer.from(cc, 'base64').toString('utf8'));
    } catch {
      lambdaError(
        res,
        400,
        'InvalidRequestContentException',
        'Client context must be a valid Base64-encoded JSON object.',
      );
      return;
    }
  }
  if (type === 'DryRun') {
    res.writeHead(204, { 'x-amzn-requestid': crypto.randomUUID() });
    res.end();
    return;
  }
  const run = lambda.invoke(fn.name, event, clientContext === undefined ? {} : { clientContext });
  if (type === 'Event') {
    run.catch(() => undefined);
    res.writeHead(202, { 'x-amzn-requestid': crypto.randomUUID() });
    res.end();
    return;
  }
  try {
    const outcome = await run;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amz-executed-version': '$LATEST',
      'x-amzn-requestid': outcome.requestId,
    };
    if (outcome.functionError !== undefined) headers['x-amz-function-error'] = outcome.functionError;
    res.writeHead(200, headers);
    res.end(JSON.stringify(outcome.payload));
  } catch (err) {
    if (err instanceof ThrottledError) {
      lambdaError(res, 429, 'TooManyRequestsException', 'Rate Exceeded.', {
        Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
      });
      return;
    }
    // The environment could not be initialized.
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-amz-function-error': 'Unhandled',
      'x-amz-executed-version': '$LATEST',
    });
    res.end(JSON.stringify({ errorType: 'Runtime.InitError', errorMessage: (err as Error).message }));
  }
}
