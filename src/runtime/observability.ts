import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger, LogLevelThreshold } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { METRIC, METRICS_NAMESPACE } from '../contract/metrics.js';
import { CallRecordWriter, metricsOff, type CallRecord } from './call-record.js';
import type { Redactor } from './redact.js';

export type { CallRecord } from './call-record.js';

/** What the runtime logs through: Powertools' Logger fits it, and so does a test's recorder. */
export interface RuntimeLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** One invocation: the keys every log line written for it carries, while it runs. */
interface InvocationScope {
  /** The Telemetry whose invocation this is. */
  readonly owner: Telemetry;
  readonly keys: Readonly<Record<string, unknown>>;
  open: boolean;
}

/**
 * The invocation an async call chain belongs to, for every Telemetry of the process. One store,
 * not one per Telemetry: on Node.js 20 an AsyncLocalStorage, once entered, stays in the list that
 * every new promise and async resource copies its stores from until it is disabled, so a store
 * per handler made each handler created (and closed) slow down every call of the ones after it
 * (bench:runtime: a warm call after 20 cold handlers took 1.5 × the time it took before them).
 */
const invocations = new AsyncLocalStorage<InvocationScope>();

/**
 * Structured logs and EMF metrics of one server's function: Powertools for AWS Lambda, with the
 * server id, tool, duration, cold start and request ids on every line.
 *
 * Several invocations may run at once on one handler (Lambda Managed Instances: a worker thread
 * takes many; a multi-call host): nothing of one invocation is kept on the shared Logger. Each
 * invocation's keys (its request id, front, cold start) live in its own async context
 * ({@link AsyncLocalStorage}, entered by {@link startInvocation}) and are added to each line as it
 * is written. A line written outside any invocation's context (the server's stderr, a process
 * exit) carries the keys of the one invocation running, when only one is. Metrics hold no
 * invocation state: each record is built and flushed in one synchronous step.
 */
export class Telemetry {
  /** Powertools' logger, as the runtime's {@link RuntimeLogger}. */
  readonly log: RuntimeLogger;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  /** Each call's record, as Powertools' two would be, in one line where it can (CallRecordWriter). */
  private readonly records: CallRecordWriter | undefined;
  private readonly redactor: Redactor | undefined;
  private coldStart = true;
  /** Invocations started and not yet ended. */
  private readonly running = new Set<InvocationScope>();

  constructor(
    readonly serverId: string,
    opts: {
      logger?: Logger;
      metrics?: Metrics;
      /** Log through this instead (its lines as written: the invocation keys are the Logger's). */
      log?: RuntimeLogger;
      /** Secret values to keep out of every log line (message and fields). */
      redactor?: Redactor;
    } = {},
  ) {
    this.logger =
      opts.logger ?? new Logger({ serviceName: `mcp-server-${serverId}`, persistentKeys: { serverId } });
    const logger = this.logger;
    const at =
      (level: 'debug' | 'info' | 'warn' | 'error') =>
      (message: string, extra?: Record<string, unknown>): void => {
        const keys = this.currentKeys();
        const fields = keys === undefined ? extra : { ...keys, ...extra };
        if (fields === undefined) logger[level](message);
        else logger[level](message, fields);
      };
    const base = opts.log ?? { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    const redacted = opts.redactor ? redacting(base, opts.redactor) : base;
    // A line below the Logger's level is dropped before anything is built for it: its fields,
    // their redaction, and Powertools' own per-line work (it reads and parses the X-Ray trace
    // header of every line, printed or not), which a traced invocation pays twice per call.
    this.log = opts.log === undefined ? atLevel(redacted, () => logger.level) : redacted;
    this.metrics =
      opts.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: `mcp-server-${serverId}` });
    this.redactor = opts.redactor;
    // Only with the runtime's own Logger and Metrics: a caller's may be configured otherwise.
    this.records =
      opts.logger === undefined && opts.metrics === undefined && opts.log === undefined
        ? CallRecordWriter.create(serverId, this.logger, this.metrics)
        : undefined;
  }

  /**
   * Call at the start of each invocation, in its own async context (before its first `await`):
   * the rest of that invocation's call chain logs with its keys.
   */
  startInvocation(context: Context | undefined, front: string): void {
    const scope: InvocationScope = {
      owner: this,
      keys: invocationKeys(context, front, this.coldStart),
      open: true,
    };
    this.coldStart = false;
    this.running.add(scope);
    invocations.enterWith(scope);
    this.log.debug('invocation started');
  }

  call(record: CallRecord): void {
    if (this.records !== undefined) {
      this.records.write(record, this.currentKeys(), this.redactor);
      return;
    }
    const level = record.error === undefined ? 'info' : 'warn';
    this.log[level]('tool call', { ...record });
    // One EMF record per call, with its own dimensions (cleared again by the publish). Metrics
    // turned off (POWERTOOLS_METRICS_DISABLED, or Powertools' dev mode) print nothing: nothing is
    // built for them either (Powertools would validate, store and clear every value, and read the
    // environment for its invoke store, on each call).
    const m = this.metrics;
    if (metricsOff(m)) return;
    m.addDimensions({ server: this.serverId, tool: record.tool === '' ? record.method : record.tool });
    m.addMetric(METRIC.calls, MetricUnit.Count, 1);
    m.addMetric(METRIC.errors, MetricUnit.Count, record.error === undefined ? 0 : 1);
    m.addMetric(METRIC.latency, MetricUnit.Milliseconds, record.durationMs);
    m.publishStoredMetrics();
  }

  serverStarted(ms: number, pid: number | undefined): void {
    this.log.info('server started', { startMs: Math.round(ms), pid });
    this.serverMetric(METRIC.serverStarts, MetricUnit.Count, 1);
    this.serverMetric(METRIC.serverStartTime, MetricUnit.Milliseconds, ms);
  }

  serverCrashed(message: string): void {
    this.log.error('server crashed', { error: message });
    this.serverMetric(METRIC.serverCrashes, MetricUnit.Count, 1);
  }

  callTimedOut(message: string): void {
    this.log.error('call timed out', { error: message });
    this.serverMetric(METRIC.timeouts, MetricUnit.Count, 1);
  }

  /** Call at the end of each invocation, in its async context. */
  endInvocation(): void {
    const own = this.ownScope();
    // A caller that lost the async context ends the one invocation running, if only one is.
    const scope = own ?? (this.running.size === 1 ? [...this.running][0] : undefined);
    if (scope === undefined) return;
    scope.open = false;
    this.running.delete(scope);
  }

  /** The keys of the invocation a line is written for, if it is known. */
  private currentKeys(): Readonly<Record<string, unknown>> | undefined {
    const own = this.ownScope();
    if (own?.open === true) return own.keys;
    return this.running.size === 1 ? [...this.running][0]?.keys : undefined;
  }

  /** The invocation of this Telemetry that the current async call chain belongs to. */
  private ownScope(): InvocationScope | undefined {
    const scope = invocations.getStore();
    return scope?.owner === this ? scope : undefined;
  }

  private serverMetric(
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
  ): void {
    if (metricsOff(this.metrics)) return;
    this.metrics.addDimensions({ server: this.serverId });
    this.metrics.addMetric(name, unit, value);
    this.metrics.publishStoredMetrics();
  }
}

/**
 * An invocation's keys: the Lambda context's, named as Powertools' `addContext` names them, and
 * the front and cold start.
 */
function invocationKeys(
  context: Context | undefined,
  front: string,
  coldStart: boolean,
): Record<string, unknown> {
  if (context === undefined) return { front, coldStart };
  const tenant = context.tenantId;
  return {
    cold_start: coldStart,
    function_arn: context.invokedFunctionArn,
    function_memory_size: context.memoryLimitInMB,
    function_name: context.functionName,
    function_request_id: context.awsRequestId,
    ...(tenant !== undefined ? { tenant_id: tenant } : {}),
    front,
    coldStart,
  };
}

const THRESHOLD = {
  debug: LogLevelThreshold.DEBUG,
  info: LogLevelThreshold.INFO,
  warn: LogLevelThreshold.WARN,
  error: LogLevelThreshold.ERROR,
} as const;

/**
 * Lines at or above the level `threshold()` gives now (Powertools' numeric level, which may differ
 * per invocation), the others dropped at once. Powertools' log buffering, which keeps lines below
 * the level, is not used by the runtime.
 */
function atLevel(log: RuntimeLogger, threshold: () => number): RuntimeLogger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, extra?: Record<string, unknown>): void => {
      if (THRESHOLD[level] >= threshold()) log[level](message, extra);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that redacts secret values from each message and its fields before logging it. */
export function redacting(log: RuntimeLogger, redactor: Redactor): RuntimeLogger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, extra?: Record<string, unknown>): void => {
      if (!redactor.active) {
        log[level](message, extra);
        return;
      }
      if (extra === undefined) log[level](redactor.redact(message));
      else log[level](redactor.redact(message), redactor.redactDeep(extra));
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
