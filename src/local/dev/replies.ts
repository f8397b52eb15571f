/** How the dev server answers: JSON, each route's own error shape, and the headers every answer carries. */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { ErrorCode, failure } from '../../protocol/jsonrpc.js';

/** Headers every answer carries. */
export const BASE_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
};

/** Which protocol a path speaks, for errors in its own shape (even before a route is found). */
export type RouteKind = 'mcp' | 'invoke' | 'other';

export function routeKind(pathname: string): RouteKind {
  if (pathname === '/mcp' || /^\/servers\/[^/]+\/mcp\/?$/.test(pathname)) return 'mcp';
  if (pathname.startsWith('/2015-03-31/functions') || pathname.startsWith('/2021-11-15/functions'))
    return 'invoke';
  return 'other';
}

export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Lambda's error responses: `x-amzn-ErrorType` and `{Type, message}`, as the AWS SDK reads them. */
export function lambdaError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  json(
    res,
    status,
    { Type: 'User', message, ...extra },
    { 'x-amzn-errortype': type, 'x-amzn-requestid': randomUUID(), ...headers },
  );
}

/** An error in the route's own protocol: JSON-RPC, Lambda's REST errors, or plain JSON. */
export function refuse(
  res: ServerResponse,
  kind: RouteKind,
  status: number,
  message: string,
  lambdaType: string,
  headers: Record<string, string> = {},
): void {
  if (kind === 'mcp') json(res, status, failure(null, { code: ErrorCode.InvalidRequest, message }), headers);
  else if (kind === 'invoke') lambdaError(res, status, lambdaType, message, {}, headers);
  else json(res, status, { error: message }, headers);
}

/** 413 in the route's protocol; the connection is closed after it (the rest of the body is not read). */
export function tooLarge(res: ServerResponse, kind: RouteKind, limit: number): void {
  const message =
    kind === 'invoke'
      ? `Request must be smaller than ${limit} bytes for the InvokeFunction operation`
      : `Payload Too Large: the request body is over the ${limit}-byte limit (Lambda's 6 MB payload limit)`;
  refuse(res, kind, 413, message, 'RequestTooLargeException', { connection: 'close' });
}

/** Lambda's throttling answer. */
export function throttled(res: ServerResponse): void {
  lambdaError(res, 429, 'TooManyRequestsException', 'Rate Exceeded.', {
    Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
  });
}

/** A path segment decoded, or as it is when it is not valid percent-encoding. */
export function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function clip(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** Headers without any CORS ones (the dev server answers CORS itself, for allowed origins only). */
export function withoutCors(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([k]) => !k.toLowerCase().startsWith('access-control-')),
  );
}

/** A Function URL result without CORS headers of the function's own. */
export function stripCors(result: unknown): unknown {
  const r = result as { headers?: unknown } | null;
  if (r === null || typeof r !== 'object' || typeof r.headers !== 'object' || r.headers === null)
    return result;
  return { ...r, headers: withoutCors(r.headers as Record<string, string>) };
}
