/**
 * AgentCore Gateway's interceptor contract, as data: the event an interceptor's Lambda function
 * is given (`interceptorInputVersion: "1.0"`) and what its output (`interceptorOutputVersion:
 * "1.0"`) may say — a rewritten request, a response that short-circuits the call, a rewritten
 * response — read strictly, every problem named. No functions are called here.
 */
import { DEFAULTS } from '../../config/limits.js';
import type { InterceptorConfig } from '../../config/interceptors.js';
import type { ServerConfig } from '../../config/model.js';
import {
  functionErrorMessage,
  overResponseLimit,
  payloadTooLargeMessage,
} from '../../contract/function-call.js';
import type { Caller } from '../../protocol/bridge.js';
import { isRequest, type JsonRpcRequest, type JsonRpcResponse } from '../../protocol/jsonrpc.js';
import type { InvokeOutcome } from '../lambda/function.js';

/** AgentCore's interceptor contract version (input and output). */
export const INTERCEPTOR_VERSION = '1.0';
/** Headers of the dev server itself, never given to an interceptor. */
const DEV_ONLY_HEADERS = new Set(['x-mcp-fleet-token']);

/** Why an interceptor's call did not give a usable output. */
export type InterceptorFailure = 'error' | 'timeout' | 'throttled' | 'version' | 'malformed';

/** HTTP statuses whose response has no body (RFC 9110): 1xx too, refused by range. */
const NO_BODY_STATUSES = new Set([204, 205, 304]);

/** An output read, or why it cannot be used. */
export type Read<T> = { ok: T } | { failure: InterceptorFailure; detail: string };

/** A response an interceptor gave, with the HTTP status it asked for. */
export interface GivenResponse {
  response: JsonRpcResponse;
  statusCode: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const malformed = (detail: string): Read<never> => ({ failure: 'malformed', detail });

/** How a value reads in an error message. */
export function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** AgentCore's interceptor input: the raw body, the parsed request, the caller's headers only when asked for. */
export function interceptorEvent(
  config: InterceptorConfig,
  request: JsonRpcRequest,
  caller: Caller | undefined,
  response?: GivenResponse,
): Record<string, unknown> {
  const gatewayRequest: Record<string, unknown> = { path: '/mcp', httpMethod: 'POST' };
  if (config.passRequestHeaders) {
    gatewayRequest['headers'] = Object.fromEntries(
      Object.entries(caller?.headers ?? {}).filter(([k]) => !DEV_ONLY_HEADERS.has(k.toLowerCase())),
    );
  }
  gatewayRequest['body'] = request;
  const mcp: Record<string, unknown> = {
    rawGatewayRequest: { body: caller?.rawBody ?? JSON.stringify(request) },
    gatewayRequest,
  };
  if (response !== undefined)
    mcp['gatewayResponse'] = { statusCode: response.statusCode, body: response.response };
  return { interceptorInputVersion: INTERCEPTOR_VERSION, mcp };
}

/** The `mcp` object of an interceptor function's outcome (its failures, timeout and version first). */
export function readOutcome(outcome: InvokeOutcome, timeoutS: number): Read<Record<string, unknown>> {
  if (outcome.functionError !== undefined) {
    const payload = outcome.payload as { errorType?: unknown } | undefined;
    if (payload?.errorType === 'Sandbox.Timedout')
      return { failure: 'timeout', detail: `timed out after ${timeoutS} s (its timeout)` };
    return {
      failure: 'error',
      detail: `its handler failed: ${functionErrorMessage(outcome.payload) ?? 'function error'}`,
    };
  }
  const out = outcome.payload;
  // Lambda sends a handler's result as JSON, up to 6 MB: what JSON cannot hold fails there (the
  // local environment hands the value over as it is, a BigInt or a cycle included).
  let over: number | undefined;
  try {
    over = overResponseLimit(out);
  } catch (err) {
    return malformed(
      `its output is not JSON (${(err as Error).message.split('\n')[0] ?? ''}); Lambda would fail the invocation`,
    );
  }
  if (over !== undefined) return malformed(`its output: ${payloadTooLargeMessage('response', over)}`);
  if (!isObject(out))
    return malformed(`it returned ${describe(out)}, not an object with interceptorOutputVersion and mcp`);
  if (out['interceptorOutputVersion'] !== INTERCEPTOR_VERSION) {
    return {
      failure: 'version',
      detail: `interceptorOutputVersion is ${describe(out['interceptorOutputVersion'])}; AgentCore accepts "${INTERCEPTOR_VERSION}"`,
    };
  }
  if (!isObject(out['mcp'])) return malformed(`its output has no "mcp" object (got ${describe(out['mcp'])})`);
  return { ok: out['mcp'] };
}

/** A request interceptor's output: a response (short-circuit, wins) or the request to serve. */
export function readRequestOutput(
  mcp: Record<string, unknown>,
  original: JsonRpcRequest,
): Read<GivenResponse | { request: JsonRpcRequest }> {
  if (mcp['transformedGatewayResponse'] !== undefined)
    return readResponse(mcp['transformedGatewayResponse'], original);
  const t = mcp['transformedGatewayRequest'];
  if (t === undefined)
    return malformed(
      'its output has neither mcp.transformedGatewayRequest nor mcp.transformedGatewayResponse',
    );
  if (!isObject(t)) return malformed(`mcp.transformedGatewayRequest is ${describe(t)}, not an object`);
  const headers = t['headers'];
  if (
    headers !== undefined &&
    (!isObject(headers) || Object.values(headers).some((v) => typeof v !== 'string'))
  )
    return malformed('mcp.transformedGatewayRequest.headers is not a map of header name to text');
  const body = t['body'];
  if (!isRequest(body))
    return malformed(`mcp.transformedGatewayRequest.body is ${describe(body)}, not a JSON-RPC request`);
  if (body.id !== original.id)
    return malformed(
      `mcp.transformedGatewayRequest.body has id ${JSON.stringify(body.id)}, the request's is ${JSON.stringify(original.id)}; the answer would not reach the caller`,
    );
  // Rewritten headers reach a target only through AgentCore's header propagation (not modelled
  // here; Lambda targets get no headers): they are checked, not applied. The caller's identity
  // (policy) was settled before the interceptor ran, as AgentCore authorizes first.
  return { ok: { request: JSON.stringify(body) === JSON.stringify(original) ? original : body } };
}

/** A response interceptor's output: the response to give. */
export function readResponseOutput(
  mcp: Record<string, unknown>,
  original: JsonRpcRequest,
): Read<GivenResponse> {
  if (mcp['transformedGatewayResponse'] === undefined)
    return malformed(
      'its output has no mcp.transformedGatewayResponse (a RESPONSE interceptor must give the response)',
    );
  return readResponse(mcp['transformedGatewayResponse'], original);
}

/** A transformedGatewayResponse: { statusCode, body: the JSON-RPC response to the request }. */
function readResponse(t: unknown, original: JsonRpcRequest): Read<GivenResponse> {
  if (!isObject(t)) return malformed(`mcp.transformedGatewayResponse is ${describe(t)}, not an object`);
  const status = t['statusCode'] ?? 200;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599)
    return malformed(`mcp.transformedGatewayResponse.statusCode is ${describe(status)}, not an HTTP status`);
  if (status < 200 || NO_BODY_STATUSES.has(status))
    return malformed(
      `mcp.transformedGatewayResponse.statusCode is ${status}, which carries no body: the JSON-RPC answer would not reach the caller; use 200, or an error status`,
    );
  const body = t['body'];
  const isResponse =
    isObject(body) &&
    body['jsonrpc'] === '2.0' &&
    'id' in body &&
    (isObject(body['result']) || isObject(body['error']));
  if (!isResponse)
    return malformed(`mcp.transformedGatewayResponse.body is ${describe(body)}, not a JSON-RPC response`);
  if (body['id'] !== original.id)
    return malformed(
      `mcp.transformedGatewayResponse.body has id ${JSON.stringify(body['id'])}, the request's is ${JSON.stringify(original.id)}; the answer would not reach the caller`,
    );
  return { ok: { response: body as unknown as JsonRpcResponse, statusCode: status } };
}

/** A server-like config for an interceptor's local function (its function name, timeout, memory). */
export function interceptorFunctionConfig(i: InterceptorConfig): ServerConfig {
  const id = `interceptor.${i.point}`;
  return {
    id,
    functionName: i.functionName,
    name: `${i.point} interceptor`,
    description: `${i.point.toUpperCase()} interceptor ${i.file}#${i.export}`,
    enabled: true,
    command: 'node',
    args: [],
    env: {},
    shell: false,
    timeout: i.timeout,
    memory: i.memory,
    system: [],
    constraints: [],
    copy: [],
    isolation: 'warm',
    recycle: {},
    hosting: { host: 'function', environmentConcurrency: 1, concurrency: 1, processes: 1 },
    tools: { allow: [], deny: [], rename: {} },
    secrets: {},
    aws: {
      architecture: DEFAULTS.architecture,
      iam: { managedPolicies: [], statements: [] },
      logRetentionDays: DEFAULTS.logRetentionDays,
      functionUrl: false,
    },
    gateway: {
      target: id,
      description: '',
      targetType: 'lambda',
      listingMode: 'default',
      resourcePriority: DEFAULTS.resourcePriority,
      signingService: DEFAULTS.webFunctionSigningService,
    },
    tags: {},
    source: i.source,
  };
}
