/**
 * AgentCore Gateway's rate limits (`gateway.rateLimits`) in the dev gateway: every MCP request to
 * `/mcp` is checked, after the caller is identified and before the interceptors, against each
 * limit whose dimension keys the request resolves (the target, the tool, the caller's claims or IAM
 * identity). Within a limit the most specific entry wins: the exact values, then the trailing keys
 * replaced by `*` one at a time. Every combination of values has its own count, `*` entries too
 * (AgentCore: "all other targets each get their own bucket"). All limits must admit a request; the
 * first that does not answers for it, with AgentCore's error (-32003 "Rate limit exceeded", data
 * `limitKey`, `metric`, `retryAfter`), and a refused request counts against none.
 *
 * Requests are counted in fixed windows of the period (a second, a minute) on the gateway's clock;
 * connections are the requests in flight. Locally this is exact; AgentCore's is distributed,
 * eventually consistent and fails open (docs/security.md).
 */
import { createHash } from 'node:crypto';
import type { Principal } from '../../config/cedar.js';
import {
  ANY,
  IAM_PRINCIPAL_KEY,
  IAM_SOURCE_IDENTITY_KEY,
  JWT_CLAIM_PREFIX,
  PERIOD_MS,
  type RateLimitConfig,
  type RateLimitEntry,
  type RateMetric,
} from '../../config/rate-limits.js';
import { splitGatewayToolName } from '../../config/tool-names.js';
import type { Clock } from '../../platform/time.js';

/** AgentCore's JSON-RPC error code for a throttled MCP request. */
export const RATE_LIMIT_EXCEEDED = -32003;
export const RATE_LIMIT_MESSAGE = 'Rate limit exceeded';
/** The HTTP status of a throttled request (AgentCore: 429 for connections; for requests, as measured by a third party). */
export const RATE_LIMIT_HTTP_STATUS = 429;
/**
 * Counts kept at most: past it, those of past windows with nothing in flight are dropped, and when
 * that is not enough (many callers, or one sending new values, in one window), the oldest with
 * nothing in flight, down to nine tenths: memory stays bounded whatever callers send.
 */
export const BUCKETS_KEPT = 10_000;
/** A value longer than this is kept in a count's key as its start and a hash (callers choose values). */
export const VALUE_KEPT_CHARS = 256;
/** Counts `/status` shows per limit, the busiest first. */
const STATUS_BUCKETS = 50;

/** What a request is, for the dimension keys. */
export interface RateLimitedRequest {
  method: string;
  /** tools/call: the tool's gateway name (`<target>___<tool>`). */
  toolName?: string;
  /** Who calls (absent: the inbound auth refused it, and it is answered so anyway). */
  principal?: Principal;
}

export interface Throttle {
  limitId: string;
  /** `<limit id>/<key>=<value>/…`, with the request's values. */
  limitKey: string;
  metric: RateMetric;
  /** Seconds until the request would be admitted (requests); 1 for connections. */
  retryAfter: number;
}

export type Admission = { release(): void } | { throttled: Throttle };

interface Bucket {
  limit: RateLimitConfig;
  entry: RateLimitEntry;
  values: string[];
  limitKey: string;
  /** Start of the current window, epoch ms. */
  window: number;
  requests: number;
  inFlight: number;
  throttled: number;
}

export interface RateLimitStatus {
  id: string;
  description?: string;
  dimensionKeys: string[];
  entries: number;
  admitted: number;
  throttled: number;
  /** The counts in use: each combination of values seen in the current window, or with requests in flight. */
  buckets: {
    limitKey: string;
    entry: Record<string, string>;
    requests?: { used: number; rate: number; period: string; resetsInMs: number };
    connections?: { inFlight: number; limit: number };
    throttled: number;
  }[];
}

/** The value of a dimension key for a request, or undefined when it has none. */
export function dimensionValue(key: string, req: RateLimitedRequest): string | undefined {
  if (key === 'toolName') return req.toolName;
  if (key === 'targetName') {
    return req.toolName === undefined ? undefined : splitGatewayToolName(req.toolName)?.target;
  }
  const p = req.principal;
  if (p === undefined) return undefined;
  if (key.startsWith(JWT_CLAIM_PREFIX)) {
    if (p.kind !== 'oauth') return undefined;
    const v = p.claims[key.slice(JWT_CLAIM_PREFIX.length)];
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  }
  if (key === IAM_PRINCIPAL_KEY) return p.kind === 'iam' ? p.arn : undefined;
  if (key === IAM_SOURCE_IDENTITY_KEY) return p.kind === 'iam' ? p.sourceIdentity : undefined;
  return undefined;
}

/**
 * The entry of a limit for these values: the exact one, else the trailing keys replaced by `*`
 * one at a time; undefined when none matches (the limit does not apply).
 */
export function matchEntry(limit: RateLimitConfig, values: readonly string[]): RateLimitEntry | undefined {
  const keys = limit.dimensionKeys;
  for (let wild = keys.length; wild >= 0; wild--) {
    const found = limit.entries.find((e) =>
      keys.every((k, i) => e.dimensions[k] === (i < wild ? values[i] : ANY)),
    );
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Requests a window admits, and the window's length: a rate below 1 is one request per longer window. */
function windowOf(rate: number, periodMs: number): { allowed: number; ms: number } {
  if (rate > 0 && rate < 1) return { allowed: 1, ms: Math.round(periodMs / rate) };
  return { allowed: Math.floor(rate), ms: periodMs };
}

/** A request's rate per second, to order the limits that apply (the tighter first). */
function perSecond(entry: RateLimitEntry): number {
  return entry.requests === undefined
    ? Number.POSITIVE_INFINITY
    : entry.requests.rate / (PERIOD_MS[entry.requests.period] / 1000);
}

export class GatewayRateLimits {
  private readonly buckets = new Map<string, Bucket>();
  private readonly totals = new Map<string, { admitted: number; throttled: number }>();

  constructor(
    private limits: readonly RateLimitConfig[],
    private readonly clock: Clock,
  ) {
    for (const l of limits) this.totals.set(l.id, { admitted: 0, throttled: 0 });
  }

  /** The config changed: limits that changed start counting afresh; the others keep their counts. */
  update(limits: readonly RateLimitConfig[]): void {
    const same = new Map(
      this.limits
        .filter((old) => {
          const next = limits.find((l) => l.id === old.id);
          return next !== undefined && sameLimit(old, next);
        })
        .map((l) => [l.id, l]),
    );
    for (const [key, bucket] of this.buckets) if (!same.has(bucket.limit.id)) this.buckets.delete(key);
    for (const id of this.totals.keys()) if (!same.has(id)) this.totals.delete(id);
    this.limits = limits.map((l) => same.get(l.id) ?? l);
    for (const l of this.limits)
      if (!this.totals.has(l.id)) this.totals.set(l.id, { admitted: 0, throttled: 0 });
  }

  /**
   * Admits a request (counted in every limit that applies; call `release` when it is answered) or
   * says which limit refused it.
   */
  admit(req: RateLimitedRequest): Admission {
    const now = this.clock.now();
    const applying: Bucket[] = [];
    for (const limit of this.limits) {
      const values: string[] = [];
      for (const key of limit.dimensionKeys) {
        const v = dimensionValue(key, req);
        if (v === undefined) break;
        values.push(v);
      }
      // A limit applies to a request that has a value for each of its keys (docs/security.md).
      if (values.length < limit.dimensionKeys.length) continue;
      const entry = matchEntry(limit, values);
      if (entry === undefined) continue;
      applying.push(this.bucket(limit, entry, values, now));
    }
    // The most dimensions first, then the tighter rate: the first that refuses answers.
    applying.sort(
      (a, b) =>
        b.limit.dimensionKeys.length - a.limit.dimensionKeys.length ||
        perSecond(a.entry) - perSecond(b.entry),
    );
    for (const b of applying) {
      const refused = this.refusal(b, now);
      if (refused !== undefined) {
        b.throttled++;
        const total = this.totals.get(b.limit.id);
        if (total) total.throttled++;
        return { throttled: refused };
      }
    }
    for (const b of applying) {
      b.requests++;
      b.inFlight++;
      const total = this.totals.get(b.limit.id);
      if (total) total.admitted++;
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        for (const b of applying) b.inFlight--;
      },
    };
  }

  private refusal(b: Bucket, now: number): Throttle | undefined {
    const { requests, connections } = b.entry;
    if (requests !== undefined) {
      const w = windowOf(requests.rate, PERIOD_MS[requests.period]);
      if (b.requests + 1 > w.allowed) {
        const wait = w.allowed === 0 ? w.ms : b.window + w.ms - now;
        return {
          limitId: b.limit.id,
          limitKey: b.limitKey,
          metric: 'requests',
          retryAfter: Math.max(1, Math.ceil(wait / 1000)),
        };
      }
    }
    if (connections !== undefined && b.inFlight + 1 > connections) {
      return { limitId: b.limit.id, limitKey: b.limitKey, metric: 'connections', retryAfter: 1 };
    }
    return undefined;
  }

  /** The count of these values, its window rolled over to now's. */
  private bucket(limit: RateLimitConfig, entry: RateLimitEntry, given: string[], now: number): Bucket {
    const values = given.map(keptValue);
    const key = `${limit.id}\u0000${values.join('\u0000')}`;
    const windowMs =
      entry.requests === undefined
        ? 1000
        : windowOf(entry.requests.rate, PERIOD_MS[entry.requests.period]).ms;
    const window = Math.floor(now / windowMs) * windowMs;
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= BUCKETS_KEPT) this.prune(now);
      b = {
        limit,
        entry,
        values,
        limitKey: [limit.id, ...limit.dimensionKeys.map((k, i) => `${k}=${values[i] ?? ''}`)].join('/'),
        window,
        requests: 0,
        inFlight: 0,
        throttled: 0,
      };
      this.buckets.set(key, b);
    } else if (b.window !== window) {
      b.window = window;
      b.requests = 0;
    }
    return b;
  }

  /**
   * Drops the counts of past windows with nothing in flight; when too many are still current, the
   * oldest with nothing in flight too, down to nine tenths of {@link BUCKETS_KEPT}.
   */
  private prune(now: number): void {
    for (const [key, b] of this.buckets)
      if (b.inFlight === 0 && !this.current(b, now)) this.buckets.delete(key);
    const keep = Math.floor(BUCKETS_KEPT * 0.9);
    for (const [key, b] of this.buckets) {
      if (this.buckets.size <= keep) break;
      if (b.inFlight === 0) this.buckets.delete(key);
    }
  }

  /** How many counts are kept now (bounded by {@link BUCKETS_KEPT}). */
  get kept(): number {
    return this.buckets.size;
  }

  private current(b: Bucket, now: number): boolean {
    if (b.entry.requests === undefined) return false;
    const w = windowOf(b.entry.requests.rate, PERIOD_MS[b.entry.requests.period]);
    return now < b.window + w.ms;
  }

  /** Each limit, with the counts in use now (`/status`). */
  status(): RateLimitStatus[] {
    const now = this.clock.now();
    return this.limits.map((limit) => {
      const total = this.totals.get(limit.id) ?? { admitted: 0, throttled: 0 };
      const buckets = [...this.buckets.values()]
        .filter((b) => b.limit.id === limit.id && (b.inFlight > 0 || this.current(b, now)))
        .map((b) => {
          const out: RateLimitStatus['buckets'][number] = {
            limitKey: b.limitKey,
            entry: { ...b.entry.dimensions },
            throttled: b.throttled,
          };
          if (b.entry.requests !== undefined) {
            const w = windowOf(b.entry.requests.rate, PERIOD_MS[b.entry.requests.period]);
            const live = this.current(b, now);
            out.requests = {
              used: live ? b.requests : 0,
              rate: b.entry.requests.rate,
              period: b.entry.requests.period,
              resetsInMs: live ? b.window + w.ms - now : 0,
            };
          }
          if (b.entry.connections !== undefined)
            out.connections = { inFlight: b.inFlight, limit: b.entry.connections };
          return out;
        })
        .sort((x, y) => (y.requests?.used ?? 0) - (x.requests?.used ?? 0))
        .slice(0, STATUS_BUCKETS);
      const s: RateLimitStatus = {
        id: limit.id,
        dimensionKeys: [...limit.dimensionKeys],
        entries: limit.entries.length,
        admitted: total.admitted,
        throttled: total.throttled,
        buckets,
      };
      if (limit.description !== undefined) s.description = limit.description;
      return s;
    });
  }
}

/** A value as a count keeps it: itself, or when long its start, its length and a hash of it. */
function keptValue(value: string): string {
  if (value.length <= VALUE_KEPT_CHARS) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 16);
  return `${value.slice(0, 64)}…(${value.length} characters, sha256 ${hash})`;
}

function sameLimit(a: RateLimitConfig, b: RateLimitConfig): boolean {
  return (
    JSON.stringify([a.dimensionKeys, a.entries, a.description]) ===
    JSON.stringify([b.dimensionKeys, b.entries, b.description])
  );
}
