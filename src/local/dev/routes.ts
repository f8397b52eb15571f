/**
 * The dev server's routes, as one table: each a name, the paths it serves, the methods it takes,
 * whether it needs the token, and its handler over the one request type of the edge.
 */
import type { ServerResponse } from 'node:http';
import type { Redactor } from '../../runtime/redact.js';
import type { GatewayEndpoint } from '../gateway/endpoint.js';
import type { LocalLambda } from '../lambda/service.js';
import { invokeRoute, invokeStreamRoute, listFunctionsRoute } from './invoke-api.js';
import { gatewayRoute, serverRoute } from './mcp-routes.js';
import { json, safeDecode } from './replies.js';
import type { DevRequest } from './request.js';
import { STATUS_PAGE, STATUS_PAGE_CSP } from './status-page.js';

/** What every route may use. */
export interface RouteContext {
  lambda: LocalLambda;
  /** The gateway's `/mcp`. */
  endpoint: GatewayEndpoint;
  /** Keeps secret values out of every answer. */
  redactor: Redactor;
  maxBodyBytes: number;
  /** A gateway request is answered within this long (AgentCore's 15 minutes). */
  gatewayTimeoutMs: number;
  /** The status model (`/status`). */
  status: () => unknown;
  /** The region ARNs name. */
  region: string;
}

export interface Route {
  name: string;
  /** The paths it serves; its first group, decoded, is the handler's argument. */
  pattern: RegExp;
  /**
   * The methods it takes. Another method gets 405 with `refusal` when there is one; without, the
   * route does not match (and the request may find another, or a 404).
   */
  methods?: { allowed: readonly string[]; refusal?: string };
  /** Served without the token (the status page, which asks for it). */
  public?: boolean;
  handle(ctx: RouteContext, req: DevRequest, res: ServerResponse, arg: string): Promise<void>;
}

export const ROUTES: readonly Route[] = [
  {
    name: 'invoke',
    pattern: /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/,
    methods: { allowed: ['POST'], refusal: 'Invoke takes POST' },
    handle: invokeRoute,
  },
  {
    name: 'invoke-with-response-stream',
    pattern: /^\/2021-11-15\/functions\/([^/]+)\/response-streaming-invocations\/?$/,
    methods: { allowed: ['POST'], refusal: 'InvokeWithResponseStream takes POST' },
    handle: invokeStreamRoute,
  },
  {
    name: 'list-functions',
    pattern: /^\/2015-03-31\/functions\/?$/,
    methods: { allowed: ['GET'] },
    handle: listFunctionsRoute,
  },
  // The front checks the method itself (405 in MCP's words).
  { name: 'gateway', pattern: /^\/mcp$/, handle: gatewayRoute },
  { name: 'server', pattern: /^\/servers\/([^/]+)\/mcp\/?$/, handle: serverRoute },
  {
    name: 'status',
    pattern: /^\/status$/,
    methods: { allowed: ['GET', 'HEAD'], refusal: 'the status takes GET' },
    handle: statusRoute,
  },
  {
    name: 'page',
    pattern: /^\/$/,
    methods: { allowed: ['GET', 'HEAD'], refusal: 'the status page takes GET' },
    public: true,
    handle: pageRoute,
  },
];

/** The route a request goes to, with its argument; a method-refusing route is a match too. */
export function findRoute(method: string, pathname: string): { route: Route; arg: string } | undefined {
  for (const route of ROUTES) {
    const m = route.pattern.exec(pathname);
    if (m === null) continue;
    if (route.methods && !route.methods.allowed.includes(method) && route.methods.refusal === undefined)
      continue;
    return { route, arg: safeDecode(m[1] ?? '') };
  }
  return undefined;
}

function statusRoute(ctx: RouteContext, _req: DevRequest, res: ServerResponse): Promise<void> {
  json(res, 200, ctx.redactor.redactDeep(ctx.status()), { 'cache-control': 'no-store' });
  return Promise.resolve();
}

function pageRoute(_ctx: RouteContext, req: DevRequest, res: ServerResponse): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': STATUS_PAGE_CSP,
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : STATUS_PAGE);
  return Promise.resolve();
}
