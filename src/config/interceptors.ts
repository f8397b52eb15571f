import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import * as z from 'zod';
import { describeValue } from './describe.js';
import {
  DEFAULTS,
  LAMBDA_MEMORY_MAX_MB,
  LAMBDA_MEMORY_MIN_MB,
  LAMBDA_TIMEOUT_MAX_S,
  LAMBDA_TIMEOUT_MIN_S,
} from './limits.js';
import type { Problem } from './problems.js';
import type { SourceMap } from './source-map.js';

/*
 * servers.yaml: `gateway.interceptors` — AgentCore Gateway's REQUEST and RESPONSE interceptors,
 * each a Lambda handler file of the user's beside servers.yaml, built and deployed as its own
 * function (and run by `mcp-fleet dev` in its own local Lambda environments).
 */

const got = (iss: { input?: unknown }): string => describeValue(iss.input);

/** The interception points AgentCore has (one interceptor each at most, per gateway). */
export const INTERCEPTION_POINTS = ['request', 'response'] as const;
export type InterceptionPoint = (typeof INTERCEPTION_POINTS)[number];

/** Handler files mcp-fleet bundles (Node.js). */
export const INTERCEPTOR_EXTENSIONS = ['.mjs', '.js', '.cjs', '.ts', '.mts'] as const;
/** Interceptor functions are named `mcp-fleet-interceptor-<point>-<gateway name>` (at most 64). */
export const INTERCEPTOR_FUNCTION_PREFIX = 'mcp-fleet-interceptor-';
/** The tag on an interceptor's resources (function, role, log group): its interception point. */
export const INTERCEPTOR_TAG = 'mcp-fleet:interceptor';
/** The export a handler reference names when it names none. */
export const DEFAULT_EXPORT = 'handler';
/** Lambda's default timeout for an interceptor (a gateway call waits for it). */
export const INTERCEPTOR_DEFAULT_TIMEOUT_S = 10;
export const INTERCEPTOR_DEFAULT_MEMORY_MB = 256;

/** `file` or `file#export`; the export is a JavaScript identifier. */
const HANDLER_REF = /^([^#\s][^#]*?)(?:#([A-Za-z_$][A-Za-z0-9_$]*))?$/;

const handlerRef = z
  .string({
    error: (iss) => `expected a handler file as text (e.g. interceptors/auth.mjs#handler), got ${got(iss)}`,
  })
  .check((ctx) => {
    const m = HANDLER_REF.exec(ctx.value);
    if (m === null) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${JSON.stringify(ctx.value)} is not a handler reference; use FILE or FILE#EXPORT, the export a JavaScript name (e.g. interceptors/auth.mjs#handler)`,
      });
      return;
    }
    const ext = path.extname(m[1] ?? '').toLowerCase();
    if (ext === '.py') {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${JSON.stringify(ctx.value)} is a Python file; interceptors are Node.js handlers here (bundled with esbuild and run by the local Lambda service): write it as ${INTERCEPTOR_EXTENSIONS.join(', ')}`,
      });
    } else if (!(INTERCEPTOR_EXTENSIONS as readonly string[]).includes(ext)) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${JSON.stringify(ctx.value)} is not a Node.js handler file; use a ${INTERCEPTOR_EXTENSIONS.join(', ')} file`,
      });
    }
  });

const wholeNumber = (unit: string, min: number, max: number) =>
  z
    .int({ error: (iss) => `expected a whole number of ${unit}, got ${got(iss)}; use ${min}–${max}` })
    .min(min, {
      error: (iss) =>
        `${String(iss.input)} is below Lambda's minimum of ${min} ${min === 1 ? unit.replace(/s$/, '') : unit}; use ${min}–${max}`,
    })
    .max(max, {
      error: (iss) => `${String(iss.input)} is above Lambda's maximum of ${max} ${unit}; use ${min}–${max}`,
    });

export const interceptorSchema = z
  .strictObject(
    {
      handler: handlerRef.describe(
        'The handler: FILE or FILE#EXPORT beside servers.yaml (.mjs, .js, .cjs, .ts, .mts; export default "handler")',
      ),
      passRequestHeaders: z
        .boolean({ error: (iss) => `expected true or false for passRequestHeaders, got ${got(iss)}` })
        .optional()
        .describe("Give the interceptor the request's HTTP headers, Authorization included (default false)"),
      timeout: wholeNumber('seconds', LAMBDA_TIMEOUT_MIN_S, LAMBDA_TIMEOUT_MAX_S)
        .optional()
        .describe(`Lambda timeout of the interceptor in seconds (default ${INTERCEPTOR_DEFAULT_TIMEOUT_S})`),
      memory: wholeNumber('MB', LAMBDA_MEMORY_MIN_MB, LAMBDA_MEMORY_MAX_MB)
        .optional()
        .describe(`Lambda memory of the interceptor in MB (default ${INTERCEPTOR_DEFAULT_MEMORY_MB})`),
    },
    {
      error: (iss) =>
        `expected an interceptor: a map { handler: FILE#EXPORT, passRequestHeaders, timeout, memory }, got ${got(iss)}`,
    },
  )
  .describe('One AgentCore Gateway interceptor: a Lambda handler of yours');

export const interceptorsSchema = z
  .strictObject(
    {
      request: interceptorSchema
        .optional()
        .describe(
          'REQUEST interceptor: runs before the gateway serves each MCP request; may rewrite or answer it',
        ),
      response: interceptorSchema
        .optional()
        .describe("RESPONSE interceptor: runs on each of the gateway's answers; may rewrite it"),
    },
    { error: (iss) => `expected a map { request, response } of interceptors, got ${got(iss)}` },
  )
  .describe('AgentCore Gateway interceptors (at most one REQUEST and one RESPONSE per gateway)');

export type RawInterceptors = z.output<typeof interceptorsSchema>;

/** One interceptor, resolved. */
export interface InterceptorConfig {
  point: InterceptionPoint;
  /** The handler file as written (relative to the config's folder). */
  file: string;
  /** Absolute. */
  path: string;
  /** The export that is the handler. */
  export: string;
  passRequestHeaders: boolean;
  /** Seconds. */
  timeout: number;
  /** MB. */
  memory: number;
  /** Its own Lambda function: `mcp-fleet-interceptor-<point>-<gateway>`, at most 64 characters. */
  functionName: string;
  /** Where it is written in the config. */
  source: { file: string; line: number; column: number };
}

export type FleetInterceptors = Partial<Record<InterceptionPoint, InterceptorConfig>>;

/** The function name of an interceptor of a gateway (Lambda: at most 64 characters). */
export function interceptorFunctionName(point: InterceptionPoint, gatewayName: string): string {
  return `${INTERCEPTOR_FUNCTION_PREFIX}${point}-${gatewayName}`.slice(0, 64).replace(/-+$/, '');
}

/**
 * Resolves `gateway.interceptors` against the config's folder: each handler file must exist (a
 * problem at its position otherwise).
 */
export function resolveInterceptors(
  raw: RawInterceptors | undefined,
  configFile: string,
  gatewayName: string,
  source: SourceMap,
): { interceptors?: FleetInterceptors; problems: Problem[] } {
  if (raw === undefined) return { problems: [] };
  const problems: Problem[] = [];
  const out: FleetInterceptors = {};
  for (const point of INTERCEPTION_POINTS) {
    const entry = raw[point];
    if (entry === undefined) continue;
    const at = ['gateway', 'interceptors', point, 'handler'];
    const m = HANDLER_REF.exec(entry.handler);
    const file = m?.[1] ?? entry.handler;
    const abs = path.resolve(path.dirname(configFile), file);
    if (!existsSync(abs)) {
      problems.push(
        source.problem(
          at,
          `cannot read ${file}: no such file (relative to ${path.basename(configFile)}'s folder)`,
        ),
      );
      continue;
    }
    if (!statSync(abs).isFile()) {
      problems.push(source.problem(at, `${file} is not a file`));
      continue;
    }
    const pos = source.locate(['gateway', 'interceptors', point], { key: true });
    out[point] = {
      point,
      file,
      path: abs,
      export: m?.[2] ?? DEFAULT_EXPORT,
      passRequestHeaders: entry.passRequestHeaders ?? false,
      timeout: entry.timeout ?? INTERCEPTOR_DEFAULT_TIMEOUT_S,
      memory: entry.memory ?? INTERCEPTOR_DEFAULT_MEMORY_MB,
      functionName: interceptorFunctionName(point, gatewayName),
      source: { file: source.file, ...pos },
    };
  }
  return problems.length > 0 ? { problems } : { interceptors: out, problems };
}

/** Interceptor functions run on the fleet's default architecture. */
export const INTERCEPTOR_ARCHITECTURE = DEFAULTS.architecture;
