/**
 * What a web function's endpoint does itself, before any environment: the requests it refuses
 * (HTTP/1.0, methods it does not pass on) and its `rateLimit`.
 */
import type { Clock } from '../../platform/time.js';
import { ThrottledError } from './pool.js';

/**
 * A web function endpoint's `rateLimit`: requests a second, counted in windows of one second on
 * the function's clock; past it (at 0, always) a request is throttled before it reaches an
 * environment, as the endpoint's ThrottleConfig does. AWS documents the rate and that it applies
 * before environments, not its algorithm: fixed windows are this model's choice (docs/hosts.md).
 */
export class EndpointRate {
  private window = -1;
  private count = 0;

  constructor(
    private readonly functionName: string,
    private readonly perSecond: number,
    private readonly clock: Clock,
  ) {}

  /** Counts the request, or throws {@link ThrottledError} when its second is full. */
  admit(): void {
    const window = Math.floor(this.clock.now() / 1000);
    if (window !== this.window) {
      this.window = window;
      this.count = 0;
    }
    if (this.count >= this.perSecond)
      throw new ThrottledError(
        this.functionName,
        this.perSecond,
        `is at its endpoint's rate limit (${this.perSecond} requests per second)`,
      );
    this.count += 1;
  }
}

/** The methods a web function endpoint passes to the function (others: 400 before the app). */
const WEB_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'OPTIONS', 'DELETE']);

/**
 * What a web function endpoint answers itself, when the request is one it refuses: HTTP/1.0
 * (505) or a method it does not pass on (400), as AWS documents; the bodies are ours.
 */
export function endpointRefusal(
  event: unknown,
): { statusCode: number; headers: Record<string, string>; body: string } | undefined {
  const http = (event as { requestContext?: { http?: { method?: unknown; protocol?: unknown } } } | null)
    ?.requestContext?.http;
  const answer = (statusCode: number, message: string) => ({
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message }),
  });
  if (http?.protocol === 'HTTP/1.0') return answer(505, 'HTTP Version Not Supported');
  if (typeof http?.method === 'string' && !WEB_METHODS.has(http.method)) return answer(400, 'Bad Request');
  return undefined;
}
