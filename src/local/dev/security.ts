/**
 * What the dev server checks before it routes a request: the Host header (DNS rebinding), the
 * Origin header (pages of other sites in the developer's browser), the token, and the CORS
 * headers it answers allowed origins with. docs/security.md explains the threat model.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { normalizeOrigin } from '../../protocol/http.js';

/** What the checks read of a request. */
export interface AccessRequest {
  method: string;
  /** Lower-case names. */
  headers: Readonly<Record<string, string>>;
}

export interface AccessOptions {
  /** The address the server listens on (`--host`). */
  host: string;
  /**
   * More names the server may be reached by (`--allowed-host`): exact names, or `.example.com`
   * for that domain and its subdomains.
   */
  allowedHosts?: readonly string[];
  /** Origins whose browser pages may call the server (`--allowed-origin`), besides its own. */
  allowedOrigins?: readonly string[];
  /** `--token`: required on every route but the page. */
  token?: string;
}

/** How a request stands after the Host and Origin checks. */
export type Access =
  | { ok: true; kind: 'no-origin' | 'same-origin' }
  | { ok: true; kind: 'allowed-origin'; origin: string }
  | { ok: false; refused: 'host' | 'origin' | 'cross-site'; message: string };

/** Headers an allowed cross-origin page may read. */
const EXPOSED_HEADERS = [
  'mcp-session-id',
  'mcp-protocol-version',
  'x-amzn-requestid',
  'x-amzn-errortype',
  'x-amz-function-error',
  'x-amz-executed-version',
].join(', ');

/** A request header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A `--allowed-origin` value, checked and normalized (`http://localhost:6274`). */
export function parseAllowedOrigin(value: string): string {
  const v = value.trim();
  if (v === '*')
    throw new Error(
      "--allowed-origin '*' would let every web page you open call every tool; name the origins, e.g. --allowed-origin http://localhost:6274",
    );
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new Error(
      `--allowed-origin ${v}: not an origin; write it as scheme://host[:port], e.g. http://localhost:6274`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`--allowed-origin ${v}: only http and https origins can be allowed`);
  if (
    (url.pathname !== '/' && url.pathname !== '') ||
    url.search !== '' ||
    url.hash !== '' ||
    url.username !== ''
  )
    throw new Error(
      `--allowed-origin ${v}: an origin has no path, query or user; did you mean ${url.origin}?`,
    );
  return url.origin;
}

/** A `--allowed-host` value, checked and normalized (lower case, no port). */
export function parseAllowedHost(value: string): string {
  const v = value.trim().toLowerCase();
  if (v === '' || v === '*' || v === '.')
    throw new Error(
      `--allowed-host ${JSON.stringify(value)}: name a host (e.g. devbox.local) or a domain with a leading dot (.example.test); allowing every name would undo the DNS-rebinding check`,
    );
  if (!/^\.?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/.test(v))
    throw new Error(`--allowed-host ${value}: not a host name (no scheme, port or path: devbox.local)`);
  return v;
}

/** `name`, `name:port`, `[v6]`, `[v6]:port` → the host name (lower case), or undefined when malformed. */
export function hostName(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end === -1) return undefined;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    const inner = h.slice(1, end);
    return isIP(inner) === 6 ? inner : undefined;
  }
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(h);
  return m?.[1];
}

/** The SHA-256 of a token: equal-length inputs for a constant-time comparison. */
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export class AccessPolicy {
  private readonly hosts: string[];
  private readonly origins: Set<string>;
  private readonly tokenDigest: Buffer | undefined;

  constructor(opts: AccessOptions) {
    this.hosts = (opts.allowedHosts ?? []).map(parseAllowedHost);
    this.origins = new Set((opts.allowedOrigins ?? []).map(parseAllowedOrigin));
    const bound = opts.host.toLowerCase().replace(/^\[|\]$/g, '');
    if (isIP(bound) === 0 && bound !== '') this.hosts.push(bound);
    this.tokenDigest = opts.token === undefined ? undefined : digest(opts.token);
  }

  get requiresToken(): boolean {
    return this.tokenDigest !== undefined;
  }

  get allowedOrigins(): string[] {
    return [...this.origins];
  }

  /** Whether a Host header names this server: a loopback name, an IP address, the bound name, or an allowed one. */
  hostAllowed(header: string | undefined): boolean {
    // Browsers always send Host; HTTP/1.0 clients without one cannot be a rebinding page.
    if (header === undefined) return true;
    const name = hostName(header);
    if (name === undefined) return false;
    if (isIP(name) !== 0) return true;
    if (name === 'localhost' || name.endsWith('.localhost')) return true;
    return this.hosts.some((h) => (h.startsWith('.') ? name === h.slice(1) || name.endsWith(h) : name === h));
  }

  /** The Host and Origin checks of one request. */
  check(req: AccessRequest, pathname: string): Access {
    const host = req.headers['host'];
    if (!this.hostAllowed(host)) {
      const name = host === undefined ? '' : (hostName(host) ?? host);
      return {
        ok: false,
        refused: 'host',
        message: `Forbidden: Host "${clip(host ?? '')}" is not a name of this dev server (a check against DNS rebinding). If you reach it by that name, start it with --allowed-host ${/^[\w.-]+$/.test(name) ? name : '<name>'}`,
      };
    }
    const origin = req.headers['origin'];
    if (origin === undefined) {
      // No Origin, yet a browser says the request comes from another site: an <img>, a <script>,
      // a no-cors fetch. Only a plain navigation to the page is let through.
      const site = req.headers['sec-fetch-site'];
      const navigation =
        (req.method === 'GET' || req.method === 'HEAD') &&
        req.headers['sec-fetch-mode'] === 'navigate' &&
        pathname === '/';
      if ((site === 'cross-site' || site === 'same-site') && !navigation) {
        return {
          ok: false,
          refused: 'cross-site',
          message:
            'Forbidden: a cross-site browser request without an Origin header; pages of other sites may not use this dev server',
        };
      }
      return { ok: true, kind: 'no-origin' };
    }
    const normalized = normalizeOrigin(origin);
    if (host !== undefined && normalized === sameOrigin(host)) return { ok: true, kind: 'same-origin' };
    if (this.origins.has(normalized)) return { ok: true, kind: 'allowed-origin', origin: normalized };
    const shown = clip(origin);
    return {
      ok: false,
      refused: 'origin',
      message:
        origin === 'null'
          ? 'Forbidden: a request from an opaque origin ("null": a sandboxed frame or a local file) is never allowed'
          : `Forbidden: a request from origin ${shown} is not allowed; only pages of this dev server may call it. To let ${shown} in, start it with --allowed-origin ${/^https?:\/\/[\w.:[\]-]+$/.test(normalized) ? normalized : '<origin>'}`,
    };
  }

  /** CORS headers of an answer to an allowed origin. */
  corsHeaders(origin: string): Record<string, string> {
    return {
      'access-control-allow-origin': origin,
      'access-control-expose-headers': EXPOSED_HEADERS,
      vary: 'Origin',
    };
  }

  /** The answer to an allowed origin's preflight. */
  preflightHeaders(req: AccessRequest, origin: string): Record<string, string> {
    const requested = (req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== '' && HEADER_NAME.test(h));
    const headers: Record<string, string> = {
      ...this.corsHeaders(origin),
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': [
        ...new Set([
          'authorization',
          'content-type',
          'accept',
          'mcp-protocol-version',
          'mcp-session-id',
          'mcp-method',
          'mcp-name',
          'last-event-id',
          ...requested,
        ]),
      ].join(', '),
      'access-control-max-age': '600',
    };
    // Chrome's Private Network Access: a public page asks before it calls a loopback server.
    if (req.headers['access-control-request-private-network'] === 'true')
      headers['access-control-allow-private-network'] = 'true';
    return headers;
  }

  /**
   * Whether the request carries the token: `Authorization: Bearer <token>`, or
   * `X-Mcp-Fleet-Token` (the Lambda client's, whose Authorization holds a SigV4 signature).
   * Compared in constant time; never taken from the URL.
   */
  tokenValid(req: AccessRequest): boolean {
    if (this.tokenDigest === undefined) return true;
    const candidates: string[] = [];
    const auth = req.headers['authorization'];
    const bearer = auth === undefined ? undefined : /^Bearer[ ]+(.+)$/i.exec(auth)?.[1];
    if (bearer !== undefined) candidates.push(bearer.trim());
    const header = req.headers['x-mcp-fleet-token'];
    if (header !== undefined) candidates.push(header);
    let ok = false;
    for (const c of candidates) ok = timingSafeEqual(digest(c), this.tokenDigest) || ok;
    return ok;
  }
}

/** This server's own origin as the request names it (http, the Host header). */
function sameOrigin(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).origin;
  } catch {
    return undefined;
  }
}

function clip(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 200 ? `${printable.slice(0, 200)}…` : printable;
}
