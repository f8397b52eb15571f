import * as z from 'zod';
import { describeValue } from './describe.js';
import type { Problem } from './problems.js';
import type { SourceMap } from './source-map.js';

/*
 * servers.yaml: `gateway.rateLimits` — AgentCore Gateway's rate limits
 * (`AWS::BedrockAgentCore::GatewayRateLimit`), by id:
 *
 *   rateLimits:
 *     per-user:
 *       dimensionKeys: [$.context.jwt.sub]
 *       entries:
 *         - dimensions: { $.context.jwt.sub: alice }
 *           requests: 100/minute
 *         - dimensions: { $.context.jwt.sub: '*' }
 *           requests: 10/second
 *           connections: 4
 *
 * The names are AgentCore's (CreateGatewayRateLimit), so its documentation reads across. The limits
 * are AgentCore's too (API reference: GatewayRateLimitDetail, LimitEntry, RateConfig).
 */

const got = (iss: { input?: unknown }): string => describeValue(iss.input);

/** At most this many rate limits per gateway. */
export const RATE_LIMITS_MAX = 50;
export const RATE_LIMIT_ENTRIES_MAX = 1000;
export const DIMENSION_KEYS_MAX = 10;
export const DIMENSION_VALUE_MAX = 256;
export const RATE_MAX = 10_000_000;
export const RATE_LIMIT_DESCRIPTION_MAX = 512;
/** The value of an entry's dimension that stands for every value (a trailing fallback). */
export const ANY = '*';
/** A rate limit's id (RateLimitId): 2–64 characters. */
export const RATE_LIMIT_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9\-_.]{0,62}[a-zA-Z0-9]$/;
/** AgentCore's dimension keys; a JWT claim name is 2–63 characters. */
export const DIMENSION_KEY_PATTERN =
  /^(targetName|toolName|qualifiedModelId|\$\.context\.iam\.principal|\$\.context\.iam\.sourceIdentity|\$\.context\.jwt\.[a-zA-Z_][a-zA-Z0-9_\-.]{0,61}[a-zA-Z0-9_])$/;
export const JWT_CLAIM_PREFIX = '$.context.jwt.';
export const IAM_PRINCIPAL_KEY = '$.context.iam.principal';
export const IAM_SOURCE_IDENTITY_KEY = '$.context.iam.sourceIdentity';
/** Keys of inference targets, which a fleet of MCP servers has none of. */
const INFERENCE_KEYS = new Set(['qualifiedModelId']);

export const RATE_PERIODS = ['second', 'minute'] as const;
export type RatePeriod = (typeof RATE_PERIODS)[number];
export const PERIOD_MS: Record<RatePeriod, number> = { second: 1_000, minute: 60_000 };

/** What a limit counts: requests per period, or concurrent requests in flight. */
export type RateMetric = 'requests' | 'connections';

export interface RequestRate {
  rate: number;
  period: RatePeriod;
}

export interface RateLimitEntry {
  /** Every dimension key of the limit → a value, or `*` (trailing positions only). */
  dimensions: Record<string, string>;
  requests?: RequestRate;
  /** Concurrent requests in flight. */
  connections?: number;
}

export interface RateLimitConfig {
  id: string;
  description?: string;
  /** Ordered. */
  dimensionKeys: string[];
  entries: RateLimitEntry[];
  /** Where it is written in the config. */
  source: { file: string; line: number; column: number };
}

const RATE_TEXT = /^\s*(\d+(?:\.\d+)?)\s*(?:\/|per\s+)\s*(second|minute|s|min|m)\s*$/i;

const RATE_HINT = `write N/second or N/minute (N from 0 to ${RATE_MAX}), or { rate: N, period: second | minute }`;

/** `10/second`, `100/minute`, or `{ rate, period }`, each with its own message. */
const requestRate = z.unknown().transform((value, ctx): RequestRate => {
  const fail = (message: string): never => {
    ctx.issues.push({ code: 'custom', input: value, message });
    return z.NEVER;
  };
  if (typeof value === 'string') {
    const m = RATE_TEXT.exec(value);
    const rate = Number(m?.[1]);
    if (m === null || !Number.isFinite(rate))
      return fail(`${JSON.stringify(value)} is not a request rate; ${RATE_HINT}`);
    if (rate > RATE_MAX) return fail(`${rate} is above AgentCore's maximum rate of ${RATE_MAX}`);
    const unit = (m[2] ?? '').toLowerCase();
    return { rate, period: unit === 'second' || unit === 's' ? 'second' : 'minute' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return fail(`expected a request rate, got ${describeValue(value)}; ${RATE_HINT}`);
  const { rate, period, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) return fail(`unknown key ${extra.join(', ')} in a request rate; ${RATE_HINT}`);
  if (typeof rate !== 'number' || !Number.isFinite(rate))
    return fail(`expected the rate as a number, got ${describeValue(rate)}; ${RATE_HINT}`);
  if (rate < 0 || rate > RATE_MAX)
    return fail(`${rate} is out of AgentCore's range; use 0 (blocks every request) to ${RATE_MAX}`);
  if (period !== 'second' && period !== 'minute')
    return fail(
      `${describeValue(period)} is not a period; AgentCore counts requests per second or per minute`,
    );
  return { rate, period };
});

const connections = z
  .int({ error: (iss) => `expected a whole number of concurrent requests, got ${got(iss)}` })
  .min(0, { error: (iss) => `${String(iss.input)} is below 0; use 0 (blocks every request) to ${RATE_MAX}` })
  .max(RATE_MAX, {
    error: (iss) => `${String(iss.input)} is above AgentCore's maximum of ${RATE_MAX}; use 0–${RATE_MAX}`,
  });

const dimensionKey = z
  .string({ error: (iss) => `expected a dimension key as text, got ${got(iss)}` })
  .check((ctx) => {
    if (INFERENCE_KEYS.has(ctx.value)) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${ctx.value} applies to inference targets only, and a fleet of MCP servers has none; use targetName, toolName, ${JWT_CLAIM_PREFIX}<claim>, ${IAM_PRINCIPAL_KEY} or ${IAM_SOURCE_IDENTITY_KEY}`,
      });
    } else if (!DIMENSION_KEY_PATTERN.test(ctx.value)) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${JSON.stringify(ctx.value)} is not a dimension key; use targetName, toolName, ${JWT_CLAIM_PREFIX}<claim> (a claim name of 2–63 letters, digits, '_', '-', '.'), ${IAM_PRINCIPAL_KEY} or ${IAM_SOURCE_IDENTITY_KEY}`,
      });
    }
  });

const entrySchema = z
  .strictObject(
    {
      dimensions: z
        .record(
          z.string(),
          z
            .union([z.string(), z.number()], {
              error: (iss) =>
                `expected the dimension's value as text (or '*' for every value), got ${got(iss)}`,
            })
            .transform(String)
            .check((ctx) => {
              if (ctx.value.length === 0 || ctx.value.length > DIMENSION_VALUE_MAX) {
                ctx.issues.push({
                  code: 'custom',
                  input: ctx.value,
                  message: `a dimension value is 1–${DIMENSION_VALUE_MAX} characters; this one has ${ctx.value.length}`,
                });
              }
            }),
          { error: (iss) => `expected a map of dimension key → value, got ${got(iss)}` },
        )
        .describe("The value of each of the limit's dimension keys; '*' stands for every value"),
      requests: requestRate
        .optional()
        .describe('Requests allowed per second or per minute: N/second, N/minute, or { rate, period }'),
      connections: connections.optional().describe('Requests in flight at once'),
      tokens: z
        .unknown()
        .optional()
        .check((ctx) => {
          if (ctx.value !== undefined) {
            ctx.issues.push({
              code: 'custom',
              input: ctx.value,
              message:
                'tokens limits apply to inference targets only, and a fleet of MCP servers has none; limit requests or connections',
            });
          }
        })
        .describe('(inference targets only: not for MCP servers)'),
    },
    {
      error: (iss) => `expected an entry: a map { dimensions, requests, connections }, got ${got(iss)}`,
    },
  )
  .describe('One rate for one combination of dimension values');

export const rateLimitSchema = z
  .strictObject(
    {
      description: z
        .string({ error: (iss) => `expected the description as text, got ${got(iss)}` })
        .max(RATE_LIMIT_DESCRIPTION_MAX, {
          error: `the description is longer than AgentCore's ${RATE_LIMIT_DESCRIPTION_MAX} characters`,
        })
        .optional()
        .describe('What the limit is for'),
      dimensionKeys: z
        .array(dimensionKey, { error: (iss) => `expected a list of dimension keys, got ${got(iss)}` })
        .min(1, { error: 'the list is empty; give 1 to 10 dimension keys' })
        .max(DIMENSION_KEYS_MAX, { error: `more than AgentCore's ${DIMENSION_KEYS_MAX} dimension keys` })
        .describe('How traffic is grouped, in order: each combination of values has its own count'),
      entries: z
        .array(entrySchema, { error: (iss) => `expected a list of entries, got ${got(iss)}` })
        .min(1, { error: 'the list is empty; give at least one entry' })
        .max(RATE_LIMIT_ENTRIES_MAX, { error: `more than AgentCore's ${RATE_LIMIT_ENTRIES_MAX} entries` })
        .describe('The rates: the most specific entry that matches a request applies'),
    },
    {
      error: (iss) => `expected a rate limit: a map { dimensionKeys, entries, description }, got ${got(iss)}`,
    },
  )
  .check((ctx) => {
    checkEntries(ctx.value, ctx.issues);
  })
  .describe('One AgentCore Gateway rate limit');

type Issues = z.core.$ZodRawIssue[];

/** Rules across a limit's keys and entries (AgentCore's, where it states them). */
interface LimitShape {
  dimensionKeys: string[];
  entries: { dimensions: Record<string, string>; requests?: RequestRate; connections?: number }[];
}

function checkEntries(limit: LimitShape, issues: Issues): void {
  const keys = limit.dimensionKeys;
  const seenKeys = new Set<string>();
  keys.forEach((key, i) => {
    if (seenKeys.has(key))
      issues.push({
        code: 'custom',
        input: key,
        path: ['dimensionKeys', i],
        message: `${key} is listed twice`,
      });
    seenKeys.add(key);
  });
  const seen = new Map<string, number>();
  limit.entries.forEach((entry, i) => {
    const at = ['entries', i];
    for (const key of Object.keys(entry.dimensions)) {
      if (!seenKeys.has(key)) {
        issues.push({
          code: 'custom',
          input: key,
          path: [...at, 'dimensions', key],
          message: `${key} is not one of this limit's dimensionKeys (${keys.join(', ')})`,
        });
      }
    }
    const missing = keys.filter((k) => entry.dimensions[k] === undefined);
    if (missing.length > 0) {
      issues.push({
        code: 'custom',
        input: entry.dimensions,
        path: [...at, 'dimensions'],
        message: `no value for ${missing.join(', ')}: an entry gives every dimension key a value (or '*')`,
      });
      return;
    }
    const wild = keys.findIndex((k) => entry.dimensions[k] === ANY);
    const after = wild < 0 ? undefined : keys.slice(wild + 1).find((k) => entry.dimensions[k] !== ANY);
    if (after !== undefined) {
      issues.push({
        code: 'custom',
        input: entry.dimensions,
        path: [...at, 'dimensions', after],
        message: `'*' is allowed in trailing positions only: ${keys[wild]} is '*', so ${after}, after it, must be '*' too`,
      });
    }
    if (entry.requests === undefined && entry.connections === undefined) {
      issues.push({
        code: 'custom',
        input: entry,
        path: at,
        message: 'the entry sets no rate; give requests (e.g. 10/second), connections, or both',
      });
    }
    const combo = JSON.stringify(keys.map((k) => entry.dimensions[k]));
    const first = seen.get(combo);
    if (first !== undefined) {
      issues.push({
        code: 'custom',
        input: entry.dimensions,
        path: [...at, 'dimensions'],
        message: `the same dimension values as entries[${first}]; give each combination one entry`,
      });
    } else seen.set(combo, i);
  });
}

export const rateLimitsSchema = z
  .record(
    z.string().regex(RATE_LIMIT_ID_PATTERN, {
      error: (iss) =>
        `${JSON.stringify(iss.input)} is not a rate limit id; use 2–64 letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
    }),
    rateLimitSchema,
    { error: (iss) => `expected a map of rate limits by id, got ${got(iss)}` },
  )
  .check((ctx) => {
    const n = Object.keys(ctx.value).length;
    if (n > RATE_LIMITS_MAX) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${n} rate limits, over AgentCore's ${RATE_LIMITS_MAX} per gateway; merge some (a limit may have up to ${RATE_LIMIT_ENTRIES_MAX} entries)`,
      });
    }
  })
  .describe(
    `AgentCore Gateway rate limits, by id (at most ${RATE_LIMITS_MAX}): requests per second or minute and requests in flight, per caller, target or tool`,
  );

export type RawRateLimit = z.output<typeof rateLimitSchema>;
export type RawRateLimits = z.output<typeof rateLimitsSchema>;

/** The fleet's rate limits, resolved, with warnings about values that can never match. */
export function resolveRateLimits(
  raw: RawRateLimits | undefined,
  fleet: { auth: 'cognito' | 'iam' | 'none'; targets: ReadonlySet<string> },
  source: SourceMap,
): { rateLimits?: RateLimitConfig[]; problems: Problem[] } {
  if (raw === undefined) return { problems: [] };
  const problems: Problem[] = [];
  const warn = (path: (string | number)[], message: string): void => {
    problems.push(source.problem(['gateway', 'rateLimits', ...path], message, { severity: 'warning' }));
  };
  const out: RateLimitConfig[] = [];
  for (const [id, limit] of Object.entries(raw)) {
    limit.dimensionKeys.forEach((key, i) => {
      if (key.startsWith(JWT_CLAIM_PREFIX) && fleet.auth !== 'cognito') {
        warn(
          [id, 'dimensionKeys', i],
          `${key} is a claim of the caller's JWT, and the gateway's auth is ${fleet.auth}: no request has it, so the limit never applies`,
        );
      } else if (key.startsWith('$.context.iam.') && fleet.auth !== 'iam') {
        warn(
          [id, 'dimensionKeys', i],
          `${key} is the caller's IAM identity, and the gateway's auth is ${fleet.auth}: no request has it, so the limit never applies`,
        );
      }
    });
    limit.entries.forEach((entry, i) => {
      const target = entry.dimensions['targetName'];
      if (target !== undefined && target !== ANY && !fleet.targets.has(target)) {
        warn(
          [id, 'entries', i, 'dimensions', 'targetName'],
          `no target of this fleet is named ${JSON.stringify(target)}, so this entry never applies`,
        );
      }
      const tool = entry.dimensions['toolName'];
      if (tool !== undefined && tool !== ANY) {
        const sep = tool.indexOf('___');
        if (sep < 0 || !fleet.targets.has(tool.slice(0, sep))) {
          warn(
            [id, 'entries', i, 'dimensions', 'toolName'],
            `${JSON.stringify(tool)} is not a tool of this fleet's targets: toolName is the gateway's name, <target>___<tool>`,
          );
        }
      }
    });
    const resolved: RateLimitConfig = {
      id,
      dimensionKeys: [...limit.dimensionKeys],
      entries: limit.entries.map((e) => {
        const entry: RateLimitEntry = { dimensions: { ...e.dimensions } };
        if (e.requests !== undefined) entry.requests = e.requests;
        if (e.connections !== undefined) entry.connections = e.connections;
        return entry;
      }),
      source: { file: source.file, ...source.locate(['gateway', 'rateLimits', id], { key: true }) },
    };
    if (limit.description !== undefined) resolved.description = limit.description;
    out.push(resolved);
  }
  return { rateLimits: out, problems };
}

/** A limit as CloudFormation has it (`AWS::BedrockAgentCore::GatewayRateLimit`, less the gateway). */
export function cfnRateLimit(limit: RateLimitConfig): {
  rateLimitId: string;
  description?: string;
  dimensionKeys: string[];
  entries: {
    dimensions: Record<string, string>;
    requests?: { period: RatePeriod; rate: number }[];
    connections?: { period: 'second'; rate: number }[];
  }[];
} {
  return {
    rateLimitId: limit.id,
    ...(limit.description === undefined ? {} : { description: limit.description }),
    dimensionKeys: [...limit.dimensionKeys],
    entries: limit.entries.map((e) => ({
      dimensions: { ...e.dimensions },
      ...(e.requests === undefined
        ? {}
        : { requests: [{ period: e.requests.period, rate: e.requests.rate }] }),
      ...(e.connections === undefined
        ? {}
        : { connections: [{ period: 'second' as const, rate: e.connections }] }),
    })),
  };
}
