import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A request target (origin-form: a path and a query) as a URL. Resolving it against a base would
 * read `//name/…` as a host, or throw: the target is put after a fixed origin instead. Undefined
 * for a target that is no path at all.
 */
export function requestUrl(target: string | undefined): URL | undefined {
  const raw = target ?? '/';
  if (!raw.startsWith('/')) return undefined;
  try {
    return new URL(`http://localhost${raw}`);
  } catch {
    return undefined;
  }
}

/** An HTTP request as a Function URL sees it (its body aside). */
export interface UrlRequest {
  method: string;
  url: URL;
  /** Lower-case names; a repeated header's values joined with commas, as Function URLs join them. */
  headers: Readonly<Record<string, string>>;
  /** `1.1` */
  httpVersion: string;
  sourceIp: string;
}

/** A Node request as a {@link UrlRequest}; undefined when its target is no path. */
export function urlRequest(req: IncomingMessage): UrlRequest | undefined {
  const url = requestUrl(req.url);
  if (url === undefined) return undefined;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return {
    method: req.method ?? 'GET',
    url,
    headers,
    httpVersion: req.httpVersion,
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
  };
}

/** A Lambda Function URL event (payload format 2.0), as AWS builds it. */
export function functionUrlEvent(req: UrlRequest, body: Buffer, urlId = 'local'): Record<string, unknown> {
  const { url, headers } = req;
  const contentType = headers['content-type'] ?? '';
  const textual = body.length === 0 || /json|text|xml|x-www-form-urlencoded/.test(contentType);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: urlId,
      domainName: `${urlId}.lambda-url.local.on.aws`,
      domainPrefix: urlId,
      http: {
        method: req.method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body: textual ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !textual,
  };
}

/** Writes a handler's Function URL result as an HTTP response (Lambda's rules for plain results included). */
export function writeFunctionUrlResult(res: ServerResponse, result: unknown): void {
  const r = result as {
    statusCode?: unknown;
    headers?: unknown;
    body?: unknown;
    isBase64Encoded?: unknown;
  } | null;
  if (r === null || typeof r !== 'object' || typeof r.statusCode !== 'number') {
    // Lambda answers a result without statusCode as a 200 JSON document.
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(result));
    return;
  }
  const headers: Record<string, string> = {};
  if (typeof r.headers === 'object' && r.headers !== null) {
    for (const [k, v] of Object.entries(r.headers as Record<string, unknown>)) headers[k] = String(v);
  }
  const body = typeof r.body === 'string' ? r.body : r.body === undefined ? '' : JSON.stringify(r.body);
  res.writeHead(r.statusCode, headers);
  res.end(r.isBase64Encoded === true ? Buffer.from(body, 'base64') : body);
}

/** The content type of a streamed Function URL answer: Lambda's HTTP integration prelude first. */
export const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

/**
 * A streamed response read as a Function URL in RESPONSE_STREAM mode reads it, piece by piece:
 * with the HTTP integration prelude (status and headers as JSON, then eight NUL bytes) when the
 * handler wrote one (HttpResponseStream), else a 200 with the stream's own content type; then
 * the body, each piece handed on as it comes.
 */
export class StreamedHttpReader {
  statusCode: number | undefined;
  /** Lower-case names. */
  headers: Record<string, string> = {};
  private head = Buffer.alloc(0);

  constructor(
    private readonly onHead: (statusCode: number, headers: Record<string, string>) => void,
    private readonly onBody: (data: Buffer) => void,
  ) {}

  get started(): boolean {
    return this.statusCode !== undefined;
  }

  push(data: Buffer, streamType: string): void {
    if (this.statusCode !== undefined) {
      this.onBody(data);
      return;
    }
    if (streamType !== PRELUDE_CONTENT_TYPE) {
      this.begin(200, { 'content-type': streamType }, data);
      return;
    }
    this.head = Buffer.concat([this.head, data]);
    const at = this.head.indexOf(Buffer.alloc(8));
    if (at === -1) return;
    let prelude: { statusCode?: unknown; headers?: unknown };
    try {
      prelude = JSON.parse(this.head.subarray(0, at).toString('utf8')) as typeof prelude;
    } catch {
      throw new Error(
        `the HTTP integration prelude is not JSON: ${this.head.subarray(0, Math.min(at, 120)).toString('utf8')}`,
      );
    }
    const headers: Record<string, string> = {};
    if (typeof prelude.headers === 'object' && prelude.headers !== null) {
      for (const [k, v] of Object.entries(prelude.headers as Record<string, unknown>))
        headers[k.toLowerCase()] = String(v);
    }
    const rest = this.head.subarray(at + 8);
    this.head = Buffer.alloc(0);
    this.begin(typeof prelude.statusCode === 'number' ? prelude.statusCode : 200, headers, rest);
  }

  private begin(statusCode: number, headers: Record<string, string>, rest: Buffer): void {
    this.statusCode = statusCode;
    this.headers = headers;
    this.onHead(statusCode, headers);
    if (rest.length > 0) this.onBody(rest);
  }
}
