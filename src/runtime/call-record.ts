import { getXRayTraceIdFromEnv, isDevMode } from '@aws-lambda-powertools/commons/utils/env';
import { LogLevelThreshold, type Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { METRIC } from '../contract/metrics.js';
import type { Redactor } from './redact.js';

/** What a tool call's record says (the runtime's `tool call` line and its EMF metrics). */
export interface CallRecord {
  tool: string;
  method: string;
  durationMs: number;
  error?: string;
  front: string;
}

/** The EMF part of every call's record, as Powertools' Metrics serializes it for this server. */
interface EmfShape {
  /** `_aws.CloudWatchMetrics`: namespace, dimension names, metric names and units. */
  readonly definitions: unknown;
  /** Default dimensions (Powertools' `service`), with their values. */
  readonly defaults: Readonly<Record<string, unknown>>;
}

/**
 * A tool call's record, written as one JSON line: the `tool call` log line as Powertools' Logger
 * writes it, and, on the same line, the call's EMF metrics as Powertools' Metrics writes them
 * (CloudWatch takes the metrics from any log event that has `_aws`, and keeps its other fields
 * as the event's fields). One write per call instead of two, and none of the two libraries'
 * per-record work: each builds a general record every time (option merging, validation, stores,
 * environment reads, a JSON replacer) where a call's record always has the same shape, which is
 * taken from Powertools itself when the environment starts (the EMF definitions from its
 * Metrics' own serialization). test/unit/call-record.test.ts holds every field of the line to
 * what the two libraries print for the same call.
 *
 * Used only where the line is certain to match theirs: the runtime's own Logger and Metrics (not
 * a caller's), no Powertools dev mode (pretty-printed lines), no log sampling, UTC timestamps.
 * A call whose log field `tool` would differ from its metric dimension `tool` (a call that is not
 * a tool call, or a redacted tool name) is written by Powertools as two records, as before.
 */
export class CallRecordWriter {
  private constructor(
    private readonly serverId: string,
    private readonly logger: Logger,
    /** The EMF part; undefined when metrics are off (POWERTOOLS_METRICS_DISABLED, dev mode). */
    private readonly emf: EmfShape | undefined,
  ) {}

  /**
   * The writer for a server's telemetry, or undefined where its lines could differ from
   * Powertools' own (the caller then uses Powertools for every record).
   */
  static create(
    serverId: string,
    logger: Logger,
    metrics: Metrics,
    env: NodeJS.ProcessEnv = process.env,
  ): CallRecordWriter | undefined {
    if (isDevMode()) return undefined;
    // Powertools writes an offset timestamp for any zone but UTC (Lambda sets TZ=:UTC).
    const tz = env['TZ'];
    if (tz !== undefined && tz !== '' && !tz.includes('UTC')) return undefined;
    // With sampling, Powertools changes the level per invocation and prints its rate on each line.
    if ((env['POWERTOOLS_LOGGER_SAMPLE_RATE'] ?? '') !== '') return undefined;
    const off = (metrics as unknown as { isDisabled(): boolean }).isDisabled();
    if (off) return new CallRecordWriter(serverId, logger, undefined);
    const emf = emfShape(serverId, metrics);
    return emf === undefined ? undefined : new CallRecordWriter(serverId, logger, emf);
  }

  /**
   * Writes the call's record (nothing if its line is below the Logger's level and metrics are
   * off); false, having written nothing, when this call's record must be Powertools' two.
   * `keys`: the invocation's keys (request ids, front, cold start).
   */
  write(
    record: CallRecord,
    keys: Readonly<Record<string, unknown>> | undefined,
    redactor?: Redactor,
  ): boolean {
    if (record.tool === '') return false;
    const redacting = redactor?.active === true;
    if (redacting && redactor.redact(record.tool) !== record.tool) return false;
    const failed = record.error !== undefined;
    const logged = (failed ? LogLevelThreshold.WARN : LogLevelThreshold.INFO) >= this.logger.level;
    const emf = this.emf;
    if (!logged && emf === undefined) return true;
    const now = Date.now();
    const line: Record<string, unknown> = {};
    if (logged) {
      const fields: Record<string, unknown> = {
        level: failed ? 'WARN' : 'INFO',
        message: 'tool call',
        timestamp: new Date(now).toISOString(),
        service: `mcp-server-${this.serverId}`,
        cold_start: undefined,
        function_arn: undefined,
        function_memory_size: undefined,
        function_name: undefined,
        function_request_id: undefined,
        sampling_rate: 0,
        xray_trace_id: getXRayTraceIdFromEnv(),
        tenant_id: undefined,
        serverId: this.serverId,
      };
      if (keys !== undefined) for (const k in keys) fields[k] = keys[k];
      fields['tool'] = record.tool;
      fields['method'] = redacting ? redactor.redact(record.method) : record.method;
      fields['durationMs'] = record.durationMs;
      if (failed) fields['error'] = redacting ? redactor.redact(record.error ?? '') : record.error;
      fields['front'] = redacting ? redactor.redact(record.front) : record.front;
      // As Powertools prints a line: without undefined, null or empty values.
      for (const k in fields) {
        const v = fields[k];
        if (v !== undefined && v !== null && v !== '') line[k] = v;
      }
    }
    if (emf !== undefined) {
      line['_aws'] = { Timestamp: now, CloudWatchMetrics: emf.definitions };
      for (const k in emf.defaults) line[k] = emf.defaults[k];
      line['server'] = this.serverId;
      line['tool'] = record.tool;
      line[METRIC.calls] = 1;
      line[METRIC.errors] = failed ? 1 : 0;
      line[METRIC.latency] = record.durationMs;
    }
    // Where each library writes: the Logger's WARN lines to stderr, its INFO lines and the
    // Metrics' records to stdout.
    const text = `${JSON.stringify(line)}\n`;
    if (logged && failed) process.stderr.write(text);
    else process.stdout.write(text);
    return true;
  }
}

/**
 * The EMF part of a call's record, from Powertools' own serialization of one (then cleared): its
 * definitions, and its default dimensions. Undefined if a default dimension would collide with a
 * field of the log line with another value (the record is then Powertools' two).
 */
function emfShape(serverId: string, metrics: Metrics): EmfShape | undefined {
  metrics.addDimensions({ server: serverId, tool: 'tool' });
  metrics.addMetric(METRIC.calls, MetricUnit.Count, 1);
  metrics.addMetric(METRIC.errors, MetricUnit.Count, 0);
  metrics.addMetric(METRIC.latency, MetricUnit.Milliseconds, 0);
  let serialized: Record<string, unknown>;
  try {
    serialized = metrics.serializeMetrics();
  } finally {
    metrics.clearMetrics();
    metrics.clearDimensions();
    metrics.clearMetadata();
  }
  const aws = serialized['_aws'] as { CloudWatchMetrics?: unknown } | undefined;
  if (aws?.CloudWatchMetrics === undefined) return undefined;
  const own = new Set(['_aws', 'server', 'tool', METRIC.calls, METRIC.errors, METRIC.latency]);
  const defaults: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(serialized)) if (!own.has(k)) defaults[k] = v;
  // The one default dimension Powertools adds is `service`, the Logger's service too.
  for (const [k, v] of Object.entries(defaults))
    if (k !== 'service' || v !== `mcp-server-${serverId}`) return undefined;
  return { definitions: aws.CloudWatchMetrics, defaults };
}
