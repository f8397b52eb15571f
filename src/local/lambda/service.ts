/**
 * The local Lambda service: every server of the fleet as a function `mcp-server-<id>`, found by
 * name, `name:qualifier` or ARN, with idle environments reclaimed in the background.
 */
import { serverChanges } from '../../config/changes.js';
import type { ServerConfig } from '../../config/model.js';
import { agentCoreToolName } from '../../contract/function-call.js';
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../../platform/time.js';
import type { Guardian } from './environment.js';
import { GuardianProcess } from './guardian-process.js';
import { sweepOrphanTmp } from './own-tmp.js';
import {
  DEFAULT_IDLE_MS,
  LocalFunction,
  ThrottledError,
  type FunctionOptions,
  type InvocationRecord,
  type InvokeOptions,
  type InvokeOutcome,
} from './function.js';
import { FLEET_ERROR, FleetError } from '../../contract/errors.js';

export interface LocalLambdaOptions extends Omit<
  FunctionOptions,
  'region' | 'launchFile' | 'launchPath' | 'handler'
> {
  /** Idle environments are stopped after this long. */
  idleMs?: number;
  region?: string;
  /**
   * Launch files of staged servers by server id (`mcp-fleet build`'s host installs): those
   * functions run that launch spec instead of the config's command on PATH.
   */
  launchFiles?: Readonly<Record<string, string>>;
  /**
   * By server id: folders (absolute) put in front of PATH, where `mcp-fleet build` installed the
   * server on this machine. The launch spec still follows the config.
   */
  launchPaths?: Readonly<Record<string, readonly string[]>>;
  /** By server id: the handler module its environments load instead of mcp-fleet's runtime. */
  handlers?: Readonly<Record<string, string>>;
  /** Called after every invocation (for the dev log and status). */
  onInvoke?: (record: InvocationRecord) => void;
  /** An asynchronous invocation's event dropped (see {@link LocalLambda.invokeAsync}): the function, why. */
  onEventDropped?: (functionName: string, why: string) => void;
}

/** Lambda's unknown-function error (HTTP 404). */
/**
 * How Lambda names a function: its name, a partial ARN (`<account>:function:<name>`) or a full one
 * (`arn:<partition>:lambda:<region>:<account>:function:<name>`), each with an optional
 * `:<version or alias>`.
 */
const FUNCTION_REFERENCE =
  /^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?(?<name>[A-Za-z0-9_-]{1,140})(?::(?<qualifier>[A-Za-z0-9$_-]{1,128}))?$/;

/**
 * Lambda's asynchronous invocation: a throttled event is tried again, from 1 s apart up to 5
 * minutes, for 6 hours; a function error is tried twice more, 1 and then 2 minutes later.
 */
const ASYNC_RETRY_FIRST_MS = 1000;
const ASYNC_RETRY_MAX_MS = 5 * 60_000;
const ASYNC_EVENT_MAX_AGE_MS = 6 * 3_600_000;
const ASYNC_ERROR_RETRY_MS = [60_000, 120_000] as const;

export class FunctionNotFoundError extends FleetError {
  readonly errorType = 'ResourceNotFoundException';
  constructor(name: string) {
    super(FLEET_ERROR.functionNotFound, `Function not found: ${name}`);
    this.name = 'ResourceNotFoundException';
  }
}

export class LocalLambda {
  /** By function name, in the config's order. Changed only by the constructor and `apply`. */
  readonly functions = new Map<string, LocalFunction>();
  /** The same functions by server id and by gateway target (kept with `functions`). */
  private byId = new Map<string, LocalFunction>();
  private byTarget = new Map<string, LocalFunction>();
  private readonly reclaimer: NodeJS.Timeout;
  /** The service's own guardian process, unless the options bring a guardian. */
  private readonly ownGuardian?: GuardianProcess;
  /**
   * Kills every environment of the service's functions if this process dies without stopping
   * them (and of the functions that run beside them, such as `dev`'s interceptors).
   */
  readonly guardian: Guardian;
  /** Asynchronous events waiting to be tried again: each one's way to give up the wait. */
  private readonly retryWaits = new Set<() => void>();

  constructor(
    servers: readonly ServerConfig[],
    readonly options: LocalLambdaOptions,
  ) {
    // The /tmp folders of environments a dev process that died (SIGKILL) could not remove.
    sweepOrphanTmp();
    this.guardian = options.guardian ?? (this.ownGuardian = new GuardianProcess());
    for (const server of servers) {
      if (server.enabled) this.functions.set(server.functionName, this.make(server, {}));
    }
    this.reindex();
    const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.reclaimer = setInterval(
      () => {
        for (const fn of this.functions.values()) fn.reclaimIdle(idleMs);
      },
      Math.min(idleMs, 30_000),
    );
    this.reclaimer.unref();
  }

  /** A local function for a server, from the service's options (and a reload's new ones). */
  private make(
    server: ServerConfig,
    next: Pick<LocalLambdaOptions, 'launchPaths' | 'launcher'>,
  ): LocalFunction {
    const {
      launchFiles,
      launchPaths: _paths,
      handlers,
      idleMs: _idle,
      onInvoke: _onInvoke,
      ...shared
    } = this.options;
    const region = shared.region ?? shared.env?.['AWS_REGION'] ?? process.env['AWS_REGION'] ?? 'us-east-1';
    const launchFile = launchFiles?.[server.id];
    const launchPath = (next.launchPaths ?? this.options.launchPaths)?.[server.id];
    const launcher = next.launcher ?? this.options.launcher;
    const handler = handlers?.[server.id];
    return new LocalFunction(server, {
      ...shared,
      region,
      guardian: this.guardian,
      ...(launcher !== undefined ? { launcher } : {}),
      ...(launchFile !== undefined ? { launchFile } : {}),
      ...(launchPath !== undefined ? { launchPath } : {}),
      ...(handler !== undefined ? { handler } : {}),
    });
  }

  /** The function of a server, by its id. */
  forServer(serverId: string): LocalFunction | undefined {
    return this.byId.get(serverId);
  }

  /** The function behind a gateway target. */
  forTarget(target: string): LocalFunction | undefined {
    return this.byTarget.get(target);
  }

  private reindex(): void {
    const fns = [...this.functions.values()];
    this.byId = new Map(fns.map((fn) => [fn.server.id, fn]));
    this.byTarget = new Map(fns.map((fn) => [fn.server.gateway.target, fn]));
  }

  /** By name, `name:qualifier`, or ARN. */
  resolve(nameOrArn: string, qualifier?: string): LocalFunction {
    const decoded = decodeURIComponent(nameOrArn);
    const named = FUNCTION_REFERENCE.exec(decoded);
    const fn = named?.groups?.['name'] !== undefined ? this.functions.get(named.groups['name']) : undefined;
    // Each local function has only its unpublished version: another version or an alias is not there.
    const version = named?.groups?.['qualifier'] ?? qualifier;
    if (!fn || (version !== undefined && version !== '$LATEST'))
      throw new FunctionNotFoundError(
        version !== undefined && named?.groups?.['qualifier'] === undefined
          ? `${decoded}:${version}`
          : decoded,
      );
    return fn;
  }

  /**
   * An asynchronous invocation (InvocationType Event) as Lambda's event queue runs it: an attempt
   * that is throttled is tried again (after 1 s, then twice as long each time, at most 5 minutes
   * apart), and an attempt that ends in a function error (the handler's, a timeout, the runtime
   * dying) is tried twice more, 1 minute and then 2 minutes later, every attempt with the event's
   * one request id. An event older than Lambda's default maximum age (6 hours) before its next
   * attempt, or failed three times, is dropped and told to `onEventDropped`, as is one still
   * waiting when the service stops. Resolves with the outcome that ended it (undefined when dropped).
   */
  async invokeAsync(
    nameOrArn: string,
    event: unknown,
    opts: InvokeOptions = {},
  ): Promise<InvokeOutcome | undefined> {
    const clock = this.options.clock ?? systemClock;
    const queued = clock.now();
    const attempt: InvokeOptions = { requestId: randomUUID(), ...opts, invocationType: 'Event' };
    let throttleDelayMs = ASYNC_RETRY_FIRST_MS;
    let errors = 0;
    for (;;) {
      let delayMs: number;
      let why: string;
      try {
        const outcome = await this.invoke(nameOrArn, event, attempt);
        if (outcome.functionError === undefined) return outcome;
        const retryIn = ASYNC_ERROR_RETRY_MS[errors++];
        const failure = describeFailure(outcome);
        if (retryIn === undefined) {
          this.options.onEventDropped?.(nameOrArn, `failed ${errors} times (the last: ${failure})`);
          return outcome;
        }
        delayMs = retryIn;
        why = `failed ${errors} time${errors === 1 ? '' : 's'} (the last: ${failure})`;
      } catch (err) {
        if (!(err instanceof ThrottledError)) throw err;
        delayMs = throttleDelayMs;
        throttleDelayMs = Math.min(throttleDelayMs * 2, ASYNC_RETRY_MAX_MS);
        why = 'throttled';
      }
      if (clock.now() + delayMs - queued > ASYNC_EVENT_MAX_AGE_MS) {
        this.options.onEventDropped?.(
          nameOrArn,
          `${why} until the event was ${ASYNC_EVENT_MAX_AGE_MS / 3_600_000} hours old`,
        );
        return undefined;
      }
      if (!(await this.waitToRetry(clock, delayMs))) {
        this.options.onEventDropped?.(nameOrArn, `${why}; the service stopped before it was tried again`);
        return undefined;
      }
    }
  }

  /** Waits `ms` on the clock: true, or false when the service stopped first. */
  private waitToRetry(clock: Clock, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const done = (tried: boolean) => {
        this.retryWaits.delete(stop);
        clock.clearTimeout(timer);
        resolve(tried);
      };
      const stop = () => {
        done(false);
      };
      const timer = clock.setTimeout(() => {
        done(true);
      }, ms);
      this.retryWaits.add(stop);
    });
  }

  async invoke(nameOrArn: string, event: unknown, opts: InvokeOptions = {}): Promise<InvokeOutcome> {
    const fn = this.resolve(nameOrArn);
    const outcome = await fn.invoke(event, opts);
    const record: InvocationRecord = { ...outcome, functionName: fn.name, serverId: fn.server.id };
    const toolName = agentCoreToolName(opts.clientContext) ?? opts.toolName;
    if (toolName !== undefined) record.toolName = toolName;
    this.options.onInvoke?.(record);
    return outcome;
  }

  /**
   * Applies a new set of servers while the service runs (hot reload): a new server gets its
   * function, a changed one (its config, its launch folders, or named in `replace` because its
   * install was rebuilt) a new function whose environments start on the next call, and a removed
   * one is taken away. Calls already running in a replaced or removed function finish there
   * (bounded by its timeout); then its environments are stopped. Unchanged functions and their
   * warm environments are not touched.
   */
  async apply(
    servers: readonly ServerConfig[],
    opts: {
      launchPaths?: Readonly<Record<string, readonly string[]>>;
      replace?: readonly string[];
      /** A new way to start workers (a sandbox planned for the new config). */
      launcher?: LocalLambdaOptions['launcher'];
    } = {},
  ): Promise<{ added: string[]; replaced: string[]; removed: string[]; unchanged: string[] }> {
    const launchPaths = opts.launchPaths ?? this.options.launchPaths;
    const byId = new Map([...this.functions.values()].map((fn) => [fn.server.id, fn]));
    const changes = serverChanges(
      [...byId.values()].map((fn) => fn.server),
      servers,
      (server) =>
        (opts.replace ?? []).includes(server.id) ||
        JSON.stringify(byId.get(server.id)?.options.launchPath ?? null) !==
          JSON.stringify(launchPaths?.[server.id] ?? null),
    );
    const fresh = new Set([...changes.added, ...changes.changed]);
    const retired = [...changes.changed, ...changes.removed].flatMap((id) => byId.get(id) ?? []);
    // The config's order (the status page and the catalog follow it).
    this.functions.clear();
    for (const server of servers.filter((s) => s.enabled)) {
      const fn = fresh.has(server.id)
        ? this.make(server, {
            ...(opts.launchPaths !== undefined ? { launchPaths: opts.launchPaths } : {}),
            ...(opts.launcher !== undefined ? { launcher: opts.launcher } : {}),
          })
        : byId.get(server.id);
      if (fn) this.functions.set(fn.name, fn);
    }
    this.reindex();
    await Promise.all(retired.map((fn) => retire(fn)));
    const { added, changed: replaced, removed, unchanged } = changes;
    return { added, replaced, removed, unchanged };
  }

  async shutdown(): Promise<void> {
    clearInterval(this.reclaimer);
    for (const stop of [...this.retryWaits]) stop();
    await Promise.all([...this.functions.values()].map((f) => f.shutdown()));
    await this.ownGuardian?.close();
  }
}

/** A function error's outcome in a few words: its type (Lambda's `errorType`) or its kind. */
function describeFailure(outcome: InvokeOutcome): string {
  const payload = outcome.payload as { errorType?: unknown } | null;
  const type = typeof payload === 'object' && payload !== null ? payload.errorType : undefined;
  return typeof type === 'string' ? type : `${outcome.functionError ?? 'Unhandled'} error`;
}

/** Lets the calls running in a function that left the service finish (bounded by its timeout), then stops it. */
async function retire(fn: LocalFunction): Promise<void> {
  await fn.drained(fn.server.timeout * 1000 + 1000);
  await fn.shutdown();
}
