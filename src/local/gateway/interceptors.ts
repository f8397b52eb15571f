/**
 * AgentCore Gateway interceptors in the dev gateway: the fleet's REQUEST and RESPONSE interceptors
 * (`gateway.interceptors`), each a function of the local Lambda service with its own environments
 * and function.log, called with AgentCore's interceptor event (`interceptorInputVersion: "1.0"`)
 * for every MCP request that reaches the gateway's /mcp, their output
 * (`interceptorOutputVersion: "1.0"`) applied as AgentCore applies it: a rewritten request, a
 * response that short-circuits the call, a rewritten response. An interceptor that fails, times
 * out or answers something malformed is a JSON-RPC error naming it and the reason.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleInterceptor, type InterceptorBuild } from '../../build/interceptor.js';
import type { FleetInterceptors, InterceptionPoint, InterceptorConfig } from '../../config/interceptors.js';
import { DEFAULTS } from '../../config/limits.js';
import type { ServerConfig } from '../../config/model.js';
import { functionErrorMessage } from '../../contract/function-call.js';
import type { CallContext, MessageHandler } from '../../protocol/bridge.js';
import {
  ErrorCode,
  failure,
  isRequest,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.js';
import { LocalFunction, type FunctionOptions } from '../lambda/function.js';
import { gatewayRequest } from './policy.js';
import { watchFile, type FileWatcher } from '../../platform/watch.js';

/** AgentCore's interceptor contract version (input and output). */
export const INTERCEPTOR_VERSION = '1.0';
/** Headers of the dev server itself, never given to an interceptor. */
const DEV_ONLY_HEADERS = new Set(['x-mcp-fleet-token']);

/** Why an interceptor's call did not give a usable output. */
export type InterceptorFailure = 'error' | 'timeout' | 'throttled' | 'version' | 'malformed';

/** The JSON-RPC error code of a request an interceptor failed on (internal error, with data). */
export const INTERCEPTOR_ERROR_CODE = ErrorCode.InternalError;

export interface InterceptorStats {
  calls: number;
  /** Request interceptor: calls answered by its transformedGatewayResponse (the target not called). */
  shortCircuits: number;
  /** Outputs that changed the request or the response. */
  rewrites: number;
  failures: Partial<Record<InterceptorFailure, number>>;
  lastError?: { at: string; message: string };
}

interface Running {
  config: InterceptorConfig;
  /** Replaced when the handler file changes (`watch`). */
  fn: LocalFunction;
  build: InterceptorBuild;
  stats: InterceptorStats;
}

export interface InterceptorOptions extends Omit<
  FunctionOptions,
  'handler' | 'launchFile' | 'launchPath' | 'launcher'
> {
  /** Where the interceptors' function folders are written (the build folder). */
  buildDir: string;
  /** Each interceptor call, for the terminal (never with headers). */
  onCall?: (line: string) => void;
}

/** A server-like config for an interceptor's local function (its function name, timeout, memory). */
function interceptorFunctionConfig(i: InterceptorConfig): ServerConfig {
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
    },
    tags: {},
    source: i.source,
  };
}

type Outcome<T> = { ok: T } | { error: JsonRpcResponse };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The dev gateway's interceptors. */
export class GatewayInterceptors {
  private readonly running = new Map<InterceptionPoint, Running>();
  private readonly watchers: FileWatcher[] = [];

  private constructor(private readonly options: InterceptorOptions) {}

  /** Bundles each interceptor into its function folder (as `mcp-fleet build` does) and starts its function. */
  static async start(config: FleetInterceptors, options: InterceptorOptions): Promise<GatewayInterceptors> {
    const self = new GatewayInterceptors(options);
    for (const i of Object.values(config)) {
      const build = await bundleInterceptor(i, options.buildDir);
      const fn = self.makeFunction(i, build);
      self.running.set(i.point, {
        config: i,
        fn,
        build,
        stats: { calls: 0, shortCircuits: 0, rewrites: 0, failures: {} },
      });
    }
    return self;
  }

  private makeFunction(i: InterceptorConfig, build: InterceptorBuild): LocalFunction {
    const { buildDir: _b, onCall: _o, ...fnOptions } = this.options;
    return new LocalFunction(interceptorFunctionConfig(i), { ...fnOptions, handler: build.file });
  }

  /**
   * Follows edits of the handler files (the file the config names; not the modules it imports):
   * a saved handler is bundled again and the next call runs it in a fresh environment. A handler
   * that no longer bundles keeps the last good one running, and says why.
   */
  watch(): void {
    for (const r of this.running.values()) {
      const { point, path: file } = r.config;
      let initialText: string | undefined;
      try {
        initialText = readFileSync(file, 'utf8');
      } catch {
        initialText = undefined;
      }
      this.watchers.push(
        watchFile(file, () => this.rebuild(point), {
          ...(initialText === undefined ? {} : { initialText }),
          onError: (err) => this.options.onCall?.(`  interceptor ${point}: ${err.message}`),
        }),
      );
    }
  }

  /** Bundles an interceptor again and swaps its function; the old one ends once its calls have. */
  async rebuild(point: InterceptionPoint): Promise<void> {
    const r = this.running.get(point);
    if (r === undefined) return;
    let build: InterceptorBuild;
    try {
      build = await bundleInterceptor(r.config, this.options.buildDir);
    } catch (err) {
      const message = `${(err as Error).message}; the last good build keeps running`;
      r.stats.lastError = { at: new Date().toISOString(), message };
      this.options.onCall?.(`  interceptor ${point}: ${message}`);
      return;
    }
    const old = r.fn;
    r.fn = this.makeFunction(r.config, build);
    r.build = build;
    this.options.onCall?.(`  interceptor ${point}: ${r.config.file} changed; rebuilt (${r.fn.name})`);
    await old.drained(r.config.timeout * 1000 + 1000);
    await old.shutdown();
  }

  /** The interceptor functions (tests read their environments). */
  get functions(): LocalFunction[] {
    return [...this.running.values()].map((r) => r.fn);
  }

  /** The handler of the gateway's /mcp with the interceptors in front of and behind it. */
  wrap(inner: MessageHandler): MessageHandler {
    return { handle: (message, ctx) => this.handle(inner, message, ctx) };
  }

  async handle(
    inner: MessageHandler,
    message: unknown,
    ctx: CallContext,
  ): Promise<JsonRpcResponse | undefined> {
    // Notifications get no answer and reach no interceptor (nothing to rewrite or answer).
    if (!isRequest(message)) return inner.handle(message, ctx);
    const original = message;
    const store = gatewayRequest.getStore();
    const raw = store?.body ?? JSON.stringify(message);
    let request: JsonRpcRequest = message;
    let response: JsonRpcResponse | undefined;
    const req = this.running.get('request');
    if (req !== undefined) {
      const event = this.event(req, raw, original);
      const out = await this.call(req, event, original);
      if ('error' in out) return out.error;
      const applied = this.applyRequestOutput(req, out.ok, original);
      if ('error' in applied) return applied.error;
      if ('response' in applied.ok) {
        req.stats.shortCircuits += 1;
        response = applied.ok.response;
        if (store !== undefined) store.statusCode = applied.ok.statusCode;
      } else {
        if (applied.ok.request !== original) req.stats.rewrites += 1;
        request = applied.ok.request;
      }
    }
    if (response === undefined) {
      response = await inner.handle(request, ctx);
      if (response === undefined) return undefined;
    }
    const res = this.running.get('response');
    if (res !== undefined) {
      const event = this.event(res, raw, original);
      (event['mcp'] as Record<string, unknown>)['gatewayResponse'] = {
        statusCode: store?.statusCode ?? 200,
        body: response,
      };
      const out = await this.call(res, event, original);
      if ('error' in out) return out.error;
      const applied = this.applyResponseOutput(res, out.ok, original);
      if ('error' in applied) return applied.error;
      if (JSON.stringify(applied.ok.response) !== JSON.stringify(response)) res.stats.rewrites += 1;
      response = applied.ok.response;
      if (store !== undefined) store.statusCode = applied.ok.statusCode;
    }
    return response;
  }

  /** AgentCore's interceptor input: the raw body, the parsed request, headers only when asked for. */
  private event(r: Running, raw: string, body: JsonRpcRequest): Record<string, unknown> {
    const gatewayReq: Record<string, unknown> = { path: '/mcp', httpMethod: 'POST' };
    if (r.config.passRequestHeaders) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(gatewayRequest.getStore()?.headers ?? {})) {
        if (!DEV_ONLY_HEADERS.has(k.toLowerCase())) headers[k] = v;
      }
      gatewayReq['headers'] = headers;
    }
    gatewayReq['body'] = body;
    return {
      interceptorInputVersion: INTERCEPTOR_VERSION,
      mcp: { rawGatewayRequest: { body: raw }, gatewayRequest: gatewayReq },
    };
  }

  /** Invokes the interceptor's function; its failures become the request's JSON-RPC error. */
  private async call(
    r: Running,
    event: unknown,
    original: JsonRpcRequest,
  ): Promise<Outcome<Record<string, unknown>>> {
    r.stats.calls += 1;
    let outcome;
    try {
      outcome = await r.fn.invoke(event);
    } catch (err) {
      // Throttled (its concurrency and queue full), or its environment could not start.
      return { error: this.fail(r, original, 'throttled', (err as Error).message) };
    }
    if (outcome.functionError !== undefined) {
      const payload = outcome.payload as { errorType?: unknown } | undefined;
      if (payload?.errorType === 'Sandbox.Timedout') {
        return {
          error: this.fail(r, original, 'timeout', `timed out after ${r.config.timeout} s (its timeout)`),
        };
      }
      return {
        error: this.fail(
          r,
          original,
          'error',
          `its handler failed: ${functionErrorMessage(outcome.payload) ?? 'function error'}`,
        ),
      };
    }
    const out = outcome.payload;
    if (!isObject(out)) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          `it returned ${describe(out)}, not an object with interceptorOutputVersion and mcp`,
        ),
      };
    }
    if (out['interceptorOutputVersion'] !== INTERCEPTOR_VERSION) {
      return {
        error: this.fail(
          r,
          original,
          'version',
          `interceptorOutputVersion is ${describe(out['interceptorOutputVersion'])}; AgentCore accepts "${INTERCEPTOR_VERSION}"`,
        ),
      };
    }
    if (!isObject(out['mcp'])) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          `its output has no "mcp" object (got ${describe(out['mcp'])})`,
        ),
      };
    }
    return { ok: out['mcp'] };
  }

  /** A request interceptor's output: a response (short-circuit, wins) or the request to serve. */
  private applyRequestOutput(
    r: Running,
    mcp: Record<string, unknown>,
    original: JsonRpcRequest,
  ): Outcome<{ response: JsonRpcResponse; statusCode: number } | { request: JsonRpcRequest }> {
    if (mcp['transformedGatewayResponse'] !== undefined) {
      const res = this.responseOf(r, mcp['transformedGatewayResponse'], original);
      return 'error' in res ? res : { ok: res.ok };
    }
    const t = mcp['transformedGatewayRequest'];
    if (t === undefined) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          'its output has neither mcp.transformedGatewayRequest nor mcp.transformedGatewayResponse',
        ),
      };
    }
    if (!isObject(t)) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          `mcp.transformedGatewayRequest is ${describe(t)}, not an object`,
        ),
      };
    }
    if (
      t['headers'] !== undefined &&
      (!isObject(t['headers']) || Object.values(t['headers']).some((v) => typeof v !== 'string'))
    ) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          'mcp.transformedGatewayRequest.headers is not a map of header name to text',
        ),
      };
    }
    const body = t['body'];
    if (!isRequest(body)) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          `mcp.transformedGatewayRequest.body is ${describe(body)}, not a JSON-RPC request`,
        ),
      };
    }
    if (body.id !== original.id) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          `mcp.transformedGatewayRequest.body has id ${JSON.stringify(body.id)}, the request's is ${JSON.stringify(original.id)}; the answer would not reach the caller`,
        ),
      };
    }
    // Rewritten headers reach a target only through AgentCore's header propagation (not modelled
    // here; Lambda targets get no headers): they are checked, not applied. The caller's identity
    // (policy) was settled before the interceptor ran, as AgentCore authorizes first.
    return { ok: { request: JSON.stringify(body) === JSON.stringify(original) ? original : body } };
  }

  private applyResponseOutput(
    r: Running,
    mcp: Record<string, unknown>,
    original: JsonRpcRequest,
  ): Outcome<{ response: JsonRpcResponse; statusCode: number }> {
    if (mcp['transformedGatewayResponse'] === undefined) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          'its output has no mcp.transformedGatewayResponse (a RESPONSE interceptor must give the response)',
        ),
      };
    }
    return this.responseOf(r, mcp['transformedGatewayResponse'], original);
  }

  /** A transformedGatewayResponse: { statusCode, body: the JSON-RPC response to the request }. */
  private responseOf(
    r: Running,
    t: unknown,
    original: JsonRpcRequest,
  ): Outcome<{ response: JsonRpcResponse; statusCode: number }> {
    if (!isObject(t)) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          `mcp.transformedGatewayResponse is ${describe(t)}, not an object`,
        ),
      };
    }
    const status = t['statusCode'] ?? 200;
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          `mcp.transformedGatewayResponse.statusCode is ${describe(status)}, not an HTTP status`,
        ),
      };
    }
    const body = t['body'];
    const isResponse =
      isObject(body) &&
      body['jsonrpc'] === '2.0' &&
      'id' in body &&
      (isObject(body['result']) || isObject(body['error']));
    if (!isResponse) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          `mcp.transformedGatewayResponse.body is ${describe(body)}, not a JSON-RPC response`,
        ),
      };
    }
    if (body['id'] !== original.id) {
      return {
        error: this.fail(
          r,
          original,
          'malformed',
          `mcp.transformedGatewayResponse.body has id ${JSON.stringify(body['id'])}, the request's is ${JSON.stringify(original.id)}; the answer would not reach the caller`,
        ),
      };
    }
    return { ok: { response: body as unknown as JsonRpcResponse, statusCode: status } };
  }

  private fail(
    r: Running,
    original: JsonRpcRequest,
    reason: InterceptorFailure,
    detail: string,
  ): JsonRpcResponse {
    const message = `${r.config.point.toUpperCase()} interceptor ${r.fn.name} (${r.config.file}#${r.config.export}) failed: ${detail}`;
    r.stats.failures[reason] = (r.stats.failures[reason] ?? 0) + 1;
    r.stats.lastError = { at: new Date().toISOString(), message };
    this.options.onCall?.(`  interceptor ${r.config.point} ${original.method}: ${message}`);
    return failure(original.id, {
      code: INTERCEPTOR_ERROR_CODE,
      message,
      data: { interceptor: r.config.point, functionName: r.fn.name, reason },
    });
  }

  /** For /status: each interceptor's function and what it did (never a header). */
  status(): Record<string, unknown>[] {
    return [...this.running.values()].map((r) => ({
      point: r.config.point,
      functionName: r.fn.name,
      handler: `${r.config.file}#${r.config.export}`,
      passRequestHeaders: r.config.passRequestHeaders,
      state: r.fn.state,
      environments: r.fn.environments,
      timeoutS: r.config.timeout,
      memorySizeMb: r.config.memory,
      invocations: r.fn.stats.calls,
      coldStarts: r.fn.stats.coldStarts,
      timeouts: r.fn.stats.timeouts,
      ...r.stats,
      log: path.join(this.options.workDir, `interceptor.${r.config.point}`, 'function.log'),
    }));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.watchers.splice(0).map((w) => w.close()));
    await Promise.all([...this.running.values()].map((r) => r.fn.shutdown()));
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}
