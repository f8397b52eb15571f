/**
 * The dev server: Lambda's Invoke API, the AgentCore-compatible gateway at /mcp, each server's
 * Function URL front at /servers/<id>/mcp, and the status at /status and /. Every request goes
 * through the same steps: the edge (one request type), the access checks (Host, Origin, CORS
 * preflight, token), then its route from the table (routes.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeAfterAnswers, OpenResponses } from '../../platform/http-close.js';
import type { AddressInfo } from 'node:net';
import { LAMBDA_PAYLOAD_MAX_BYTES } from '../../contract/function-call.js';
import { Redactor } from '../../runtime/redact.js';
import { GATEWAY_TIMEOUT_MS, GatewayEndpoint } from '../gateway/endpoint.js';
import type { LocalGateway } from '../gateway/gateway.js';
import type { LocalLambda } from '../lambda/service.js';
import { BASE_HEADERS, json, refuse, routeKind, tooLarge } from './replies.js';
import { devRequest, type DevRequest } from './request.js';
import { findRoute, type RouteContext } from './routes.js';
import { AccessPolicy } from './security.js';
import { fleetStatus } from './status.js';

export interface DevServerOptions {
  lambda: LocalLambda;
  gateway: LocalGateway;
  host: string;
  port: number;
  /** Static bearer token required on every route but the page (needed off loopback). */
  token?: string;
  /** More names the server may be reached by (`--allowed-host`); loopback names and IP addresses always are. */
  allowedHosts?: readonly string[];
  /** Origins whose browser pages may call the server (`--allowed-origin`), besides its own. */
  allowedOrigins?: readonly string[];
  /** Deadline of a gateway request (AgentCore's invocation timeout is 15 min). */
  gatewayTimeoutMs?: number;
  /** Secret values to keep out of /status and error messages (the dev fallbacks from the environment). */
  redactor?: Redactor;
  /** Connection limits (defaults: {@link DEV_SERVER_LIMITS}). */
  limits?: Partial<DevServerLimits>;
  /** The status model `/status` answers (default: {@link fleetStatus}). */
  status?: () => unknown;
}

export interface DevServerLimits {
  /** Time a client has to send the request line and headers. */
  headersTimeoutMs: number;
  /** Time a client has to send the whole request, body included. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** Connections open at once; more are refused until some close. */
  maxConnections: number;
  /** Largest request body (Lambda's 6 MB payload limit). */
  maxBodyBytes: number;
}

export const DEV_SERVER_LIMITS: DevServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 65_000,
  maxConnections: 512,
  maxBodyBytes: LAMBDA_PAYLOAD_MAX_BYTES,
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

export interface DevServer {
  server: Server;
  url: string;
  /**
   * Stops taking connections; then `settle` (stopping the functions: each request waiting on one
   * is answered with an error), at most {@link DEV_ANSWER_GRACE_MS} for those answers, and every
   * connection dropped.
   */
  close: (settle?: () => Promise<unknown>) => Promise<void>;
}

/** How long the dev server's close waits for the answers its settle caused. */
export const DEV_ANSWER_GRACE_MS = 2_000;

/** The access step, in front of every route: Host and Origin, the CORS preflight, the token. */
function admitted(policy: AccessPolicy, req: DevRequest, res: ServerResponse, isPublic: boolean): boolean {
  const kind = routeKind(req.url.pathname);
  // Host and Origin first, on every route: DNS rebinding and other sites' pages stop here.
  const access = policy.check(req, req.url.pathname);
  if (!access.ok) {
    refuse(res, kind, 403, access.message, 'AccessDeniedException', { vary: 'Origin' });
    return false;
  }
  const cors = access.kind === 'allowed-origin' ? policy.corsHeaders(access.origin) : {};
  for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
  if (req.method === 'OPTIONS') {
    // A preflight (no token: browsers send none); the allowed origin's CORS answer.
    const headers = access.kind === 'allowed-origin' ? policy.preflightHeaders(req, access.origin) : {};
    res.writeHead(204, { allow: 'GET, POST, OPTIONS', ...headers });
    res.end();
    return false;
  }
  if (!isPublic && !policy.tokenValid(req)) {
    refuse(
      res,
      kind,
      401,
      'Unauthorized: this dev server was started with --token; send Authorization: Bearer <token>',
      'UnauthorizedException',
      { 'www-authenticate': 'Bearer' },
    );
    return false;
  }
  return true;
}

/** One request: the access step, then its route (or 404, or the route's 405). */
async function serve(
  ctx: RouteContext,
  policy: AccessPolicy,
  req: DevRequest,
  res: ServerResponse,
): Promise<void> {
  const found = findRoute(req.method, req.url.pathname);
  if (!admitted(policy, req, res, found?.route.public === true)) return;
  const kind = routeKind(req.url.pathname);
  if (found === undefined) {
    refuse(
      res,
      kind,
      404,
      `nothing at ${clipPath(req.url.pathname)}; try /mcp, /servers/<id>/mcp, /status or /2015-03-31/functions/<name>/invocations`,
      'UnknownOperationException',
    );
    return;
  }
  const { route, arg } = found;
  if (route.methods && !route.methods.allowed.includes(req.method)) {
    refuse(res, kind, 405, route.methods.refusal ?? 'Method not allowed', 'MethodNotAllowedException');
    return;
  }
  await route.handle(ctx, req, res, arg);
}

const clipPath = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

/** The HTTP server with the limits, and the edge: each Node request converted once, then served. */
function listener(
  ctx: RouteContext,
  policy: AccessPolicy,
  limits: DevServerLimits,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    for (const [k, v] of Object.entries(BASE_HEADERS)) res.setHeader(k, v);
    const request = devRequest(req, limits.maxBodyBytes);
    if (request === undefined) {
      json(res, 400, { error: 'Bad Request: the request target is not a path' });
      return;
    }
    // Every route, whether it reads a body or not: one announced over the limit is refused.
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
      tooLarge(res, routeKind(request.url.pathname), limits.maxBodyBytes);
      return;
    }
    serve(ctx, policy, request, res).catch((err: unknown) => {
      try {
        if (!res.headersSent && !res.destroyed) {
          const message = ctx.redactor.redact(err instanceof Error ? err.message : String(err));
          refuse(res, routeKind(request.url.pathname), 500, `internal error: ${message}`, 'ServiceException');
        } else res.end();
      } catch {
        res.destroy();
      }
    });
  };
}

function httpServer(ctx: RouteContext, policy: AccessPolicy, limits: DevServerLimits): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often the two timeouts above are checked (Node's default is 30 s).
      connectionsCheckingInterval: Math.max(
        100,
        Math.min(1_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)),
      ),
    },
    listener(ctx, policy, limits),
  );
  server.maxConnections = limits.maxConnections;
  // `Expect: 100-continue` with a body over the limit: refused before the client sends it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
      for (const [k, v] of Object.entries(BASE_HEADERS)) res.setHeader(k, v);
      const pathname = devRequest(req, 0)?.url.pathname ?? '/';
      tooLarge(res, routeKind(pathname), limits.maxBodyBytes);
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
  return server;
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  if (!isLoopback(opts.host) && opts.token === undefined) {
    throw new Error(
      `refusing to listen on ${opts.host} without --token: anyone who can reach it could call every tool; use --token, or a loopback address`,
    );
  }
  const limits: DevServerLimits = { ...DEV_SERVER_LIMITS, ...opts.limits };
  const policy = new AccessPolicy({
    host: opts.host,
    ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}),
    ...(opts.allowedOrigins ? { allowedOrigins: opts.allowedOrigins } : {}),
    ...(opts.token !== undefined ? { token: opts.token } : {}),
  });
  const ctx: RouteContext = {
    lambda: opts.lambda,
    endpoint: new GatewayEndpoint(opts.gateway),
    redactor: opts.redactor ?? new Redactor(),
    maxBodyBytes: limits.maxBodyBytes,
    gatewayTimeoutMs: opts.gatewayTimeoutMs ?? GATEWAY_TIMEOUT_MS,
    status: opts.status ?? (() => fleetStatus(opts.lambda, opts.gateway)),
    region: process.env['AWS_REGION'] ?? 'us-east-1',
  };
  const server = httpServer(ctx, policy, limits);
  const open = new OpenResponses(server);
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
    close: (settle = () => Promise.resolve()) => closeAfterAnswers(server, open, settle, DEV_ANSWER_GRACE_MS),
  };
}
