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

/**
 * The EMF part of every call's record, as Powertools' Metrics serializes it for this server, as
 * JSON text: only the time, the tool and the three values change from call to call.
 */
interface EmfShape {
  /** `"_aws":{"Timestamp":` … then this: `,"CloudWatchMetrics":[…]}` (namespace, dimension and metric names, units). */
  readonly definitions: string;
  /** The default dimensions (Powertools' `service`), each `,"key":value`. */
  readonly defaults: string;
  /** `,"server":"<id>"`. */
  readonly server: string;
}

/**
 * Whether Powertools has turned these metrics off (POWERTOOLS_METRICS_DISABLED, or its dev mode):
 * its own verdict, `isDisabled()`, public in its JavaScript and protected in its type declarations.
 */
export const metricsOff = (metrics: Metrics): boolean =>
  (metrics as unknown as { isDisabled(): boolean }).isDisabled();

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
 * A record whose log field `tool` differs from its metric dimension `tool` (a record that is not a
 * tool call, such as a web function's per-request one, or a redacted tool name) is two lines, as
 * the two libraries write it.
 */
export class CallRecordWriter {
  /** The Logger's and the Metrics' `service`. */
  private readonly service: string;

  private constructor(
    private readonly serverId: string,
    private readonly logger: Logger,
    /** The EMF part; undefined when metrics are off (POWERTOOLS_METRICS_DISABLED, dev mode). */
    private readonly emf: EmfShape | undefined,
  ) {
    this.service = `mcp-server-${serverId}`;
  }

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
    if (metricsOff(metrics)) return new CallRecordWriter(serverId, logger, undefined);
    const emf = emfShape(serverId, metrics);
    return emf === undefined ? undefined : new CallRecordWriter(serverId, logger, emf);
  }

  /**
   * Writes the call's record: one line, or two where its log field `tool` and its metric
   * dimension `tool` differ; nothing if its line is below the Logger's level and metrics are off.
   * `keys`: the invocation's keys (request ids, front, cold start).
   */
  write(record: CallRecord, keys: Readonly<Record<string, unknown>> | undefined, redactor?: Redactor): void {
    const redacting = redactor?.active === true;
    const failed = record.error !== undefined;
    const logged = (failed ? LogLevelThreshold.WARN : LogLevelThreshold.INFO) >= this.logger.level;
    const emf = this.emf;
    // The metric dimension `tool`: the tool, or the method of a record that is not a tool call.
    const dimension = record.tool === '' ? record.method : record.tool;
    if (!logged) {
      if (emf !== undefined)
        process.stdout.write(`${this.metricsOnly(emf, Date.now(), dimension, record)}\n`);
      return;
    }
    const now = Date.now();
    const tool = redacting ? redactor.redact(record.tool) : record.tool;
    // As Powertools prints the line: its keys, in its order; no undefined, null or empty values
    // (JSON.stringify leaves out the undefined ones).
    const line = {
      level: failed ? 'WARN' : 'INFO',
      message: 'tool call',
      timestamp: new Date(now).toISOString(),
      service: this.service,
      cold_start: present(keys?.['cold_start']),
      function_arn: present(keys?.['function_arn']),
      function_memory_size: present(keys?.['function_memory_size']),
      function_name: present(keys?.['function_name']),
      function_request_id: present(keys?.['function_request_id']),
      sampling_rate: 0,
      xray_trace_id: present(getXRayTraceIdFromEnv()),
      tenant_id: present(keys?.['tenant_id']),
      serverId: this.serverId,
      coldStart: present(keys?.['coldStart']),
      tool: present(tool),
      method: present(redacting ? redactor.redact(record.method) : record.method),
      durationMs: record.durationMs,
      error: failed ? present(redacting ? redactor.redact(record.error ?? '') : record.error) : undefined,
      front: present(redacting ? redactor.redact(record.front) : record.front),
    };
    let text = JSON.stringify(line);
    // The metrics on the same line, where its `tool` is the dimension's (its `service` is).
    const merged = emf !== undefined && tool === dimension;
    if (merged)
      text = `${text.slice(0, -1)},"_aws":{"Timestamp":${now}${emf.definitions}${emf.server}${this.values(record)}}`;
    // Where each library writes: the Logger's WARN lines to stderr, its INFO lines and the
    // Metrics' records to stdout.
    if (failed) process.stderr.write(`${text}\n`);
    else process.stdout.write(`${text}\n`);
    // Otherwise the metrics on a line of their own, after the log line, as Powertools writes them.
    if (emf !== undefined && !merged)
      process.stdout.write(`${this.metricsOnly(emf, now, dimension, record)}\n`);
  }

  /** The call's EMF record alone, as Powertools' Metrics writes it. */
  private metricsOnly(e: EmfShape, now: number, tool: string, record: CallRecord): string {
    return `{"_aws":{"Timestamp":${now}${e.definitions}${e.defaults}${e.server},"tool":${JSON.stringify(tool)}${this.values(record)}}`;
  }

  /** The call's three metric values, each `,"name":value`. */
  private values(record: CallRecord): string {
    return `,"${METRIC.calls}":1,"${METRIC.errors}":${record.error === undefined ? 0 : 1},"${METRIC.latency}":${JSON.stringify(record.durationMs)}`;
  }
}

/** A value as Powertools keeps it on a line: undefined (left out) if null or empty. */
function present(value: unknown): unknown {
  return value === null || value === '' ? undefined : value;
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
  let defaults = '';
  for (const [k, v] of Object.entries(serialized)) {
    if (own.has(k)) continue;
    // The one default dimension Powertools adds is `service`, the Logger's service too.
    if (k !== 'service' || v !== `mcp-server-${serverId}`) return undefined;
    defaults += `,${JSON.stringify(k)}:${JSON.stringify(v)}`;
  }
  return {
    definitions: `,"CloudWatchMetrics":${JSON.stringify(aws.CloudWatchMetrics)}}`,
    defaults,
    server: `,"server":${JSON.stringify(serverId)}`,
  };
}
