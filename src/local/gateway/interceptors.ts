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
import { answerOf, type Answer, type CallContext, type MessageHandler } from '../../protocol/bridge.js';
import {
  ErrorCode,
  failure,
  isRequest,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.js';
import { watchFile, type FileWatcher } from '../../platform/watch.js';
import { LocalFunction, type FunctionOptions } from '../lambda/function.js';
import {
  interceptorEvent,
  interceptorFunctionConfig,
  readOutcome,
  readRequestOutput,
  readResponseOutput,
  type GivenResponse,
  type InterceptorFailure,
  type Read,
} from './interceptor-contract.js';

export { INTERCEPTOR_VERSION, type InterceptorFailure } from './interceptor-contract.js';

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
  /**
   * Bundles a handler file into its function folder (default esbuild's {@link bundleInterceptor});
   * a test over scripted environments, which load no file, passes one that writes nothing.
   */
  bundle?: (interceptor: InterceptorConfig, buildDir: string) => Promise<InterceptorBuild>;
  /** Each interceptor call, for the terminal (never with headers). */
  onCall?: (line: string) => void;
}

type Outcome<T> = { ok: T } | { error: JsonRpcResponse };

/** The dev gateway's interceptors. */
export class GatewayInterceptors {
  private readonly running = new Map<InterceptionPoint, Running>();
  private readonly watchers: FileWatcher[] = [];

  private constructor(private readonly options: InterceptorOptions) {}

  /** Bundles each interceptor into its function folder (as `mcp-fleet build` does) and starts its function. */
  static async start(config: FleetInterceptors, options: InterceptorOptions): Promise<GatewayInterceptors> {
    const self = new GatewayInterceptors(options);
    for (const i of Object.values(config)) {
      const build = await self.bundle(i);
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

  private bundle(i: InterceptorConfig): Promise<InterceptorBuild> {
    return (this.options.bundle ?? bundleInterceptor)(i, this.options.buildDir);
  }

  private makeFunction(i: InterceptorConfig, build: InterceptorBuild): LocalFunction {
    const { buildDir: _b, onCall: _o, bundle: _u, ...fnOptions } = this.options;
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
      build = await this.bundle(r.config);
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

  /**
   * One message through the interceptors: the REQUEST interceptor may rewrite the request or
   * answer it (its status code goes with the answer), then the inner handler (the bridge) serves
   * it, then the RESPONSE interceptor may rewrite the response. Notifications reach no interceptor.
   */
  async handle(
    inner: MessageHandler,
    message: unknown,
    ctx: CallContext,
  ): Promise<JsonRpcResponse | Answer | undefined> {
    if (!isRequest(message)) return inner.handle(message, ctx);
    const original = message;
    let request: JsonRpcRequest = message;
    let given: GivenResponse | undefined;
    const req = this.running.get('request');
    if (req !== undefined) {
      const out = await this.call(req, interceptorEvent(req.config, original, ctx.caller), original, ctx);
      if ('error' in out) return out.error;
      const applied = this.check(req, readRequestOutput(out.ok, original), original);
      if ('error' in applied) return applied.error;
      if ('response' in applied.ok) {
        req.stats.shortCircuits += 1;
        given = applied.ok;
      } else {
        if (applied.ok.request !== original) req.stats.rewrites += 1;
        request = applied.ok.request;
      }
    }
    if (given === undefined) {
      const served = answerOf(await inner.handle(request, ctx));
      if (served === undefined) return undefined;
      given = { response: served.response, statusCode: served.httpStatus ?? 200 };
    }
    const res = this.running.get('response');
    if (res !== undefined) {
      const out = await this.call(
        res,
        interceptorEvent(res.config, original, ctx.caller, given),
        original,
        ctx,
      );
      if ('error' in out) return out.error;
      const applied = this.check(res, readResponseOutput(out.ok, original), original);
      if ('error' in applied) return applied.error;
      if (JSON.stringify(applied.ok.response) !== JSON.stringify(given.response)) res.stats.rewrites += 1;
      given = applied.ok;
    }
    return { response: given.response, httpStatus: given.statusCode };
  }

  /** Invokes the interceptor's function; what it gave, or the request's JSON-RPC error. */
  private async call(
    r: Running,
    event: unknown,
    original: JsonRpcRequest,
    ctx: CallContext,
  ): Promise<Outcome<Record<string, unknown>>> {
    r.stats.calls += 1;
    let outcome;
    try {
      outcome = await r.fn.invoke(event, ctx.trace === undefined ? {} : { trace: ctx.trace });
    } catch (err) {
      // Throttled (its concurrency and queue full), or its environment could not start.
      return { error: this.fail(r, original, 'throttled', (err as Error).message) };
    }
    return this.check(r, readOutcome(outcome, r.config.timeout), original);
  }

  /** A read output, or its problem as the request's JSON-RPC error (counted and reported). */
  private check<T>(r: Running, read: Read<T>, original: JsonRpcRequest): Outcome<T> {
    return 'ok' in read ? { ok: read.ok } : { error: this.fail(r, original, read.failure, read.detail) };
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
