import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { METRIC, METRICS_NAMESPACE } from '../contract/metrics.js';
import type { Redactor } from './redact.js';

/** What the runtime logs through: Powertools' Logger fits it, and so does a test's recorder. */
export interface RuntimeLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export interface CallRecord {
  tool: string;
  method: string;
  durationMs: number;
  error?: string;
  front: string;
}

/**
 * Structured logs and EMF metrics of one server's function: Powertools for AWS Lambda, with the
 * server id, tool, duration, cold start and request ids on every line.
 */
export class Telemetry {
  /** Powertools' logger, as the runtime's {@link RuntimeLogger}. */
  readonly log: RuntimeLogger;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private coldStart = true;

  constructor(
    readonly serverId: string,
    opts: {
      logger?: Logger;
      metrics?: Metrics;
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
        if (extra === undefined) logger[level](message);
        else logger[level](message, extra);
      };
    const base = opts.log ?? { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    this.log = opts.redactor ? redacting(base, opts.redactor) : base;
    this.metrics =
      opts.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: `mcp-server-${serverId}` });
  }

  /** Call at the start of each invocation. */
  startInvocation(context: Context | undefined, front: string): void {
    if (context) this.logger.addContext(context);
    this.logger.appendKeys({ front, coldStart: this.coldStart });
    this.coldStart = false;
  }

  call(record: CallRecord): void {
    const level = record.error === undefined ? 'info' : 'warn';
    this.log[level]('tool call', { ...record });
    // One EMF record per call, with its own dimensions (cleared again by the publish).
    const m = this.metrics;
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

  /** Call at the end of each invocation. */
  endInvocation(): void {
    this.logger.removeKeys(['front', 'coldStart']);
  }

  private serverMetric(
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
  ): void {
    this.metrics.addDimensions({ server: this.serverId });
    this.metrics.addMetric(name, unit, value);
    this.metrics.publishStoredMetrics();
  }
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
