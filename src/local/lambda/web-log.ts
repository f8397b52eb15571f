/**
 * A web function's platform log: Lambda Web Functions write JSON system events, not an event
 * function's START / END / REPORT lines. Per environment: `platform.initStart`,
 * `platform.initReport` (success or failure), `platform.invokeStart` when it starts serving,
 * `platform.invokeSummary` about every 60 s while it serves and `platform.invokeReport` when it
 * stops serving; when it is shut down (scaled to zero, or the function stops),
 * `platform.spinDownStart` and `platform.spinDownReport`; per request only
 * `platform.requestComplete`, and only at the DEBUG system log level (AWS's system log event
 * schema for Web Functions). The events' names, the envelope (`timestamp`, `level`, `type`,
 * `region`, `record`) and `initStart`'s record follow that page; the other records' fields are
 * ours where it could not be read (docs/hosts.md says which).
 */
import type { Clock, ClockTimer } from '../../platform/time.js';
import type { InitOutcome, ShutdownStatus } from './environment.js';
import { toMb } from './report.js';

export type SystemLogLevel = 'DEBUG' | 'INFO' | 'WARN';

/** Lambda's interval between two summaries of one environment. */
export const INVOKE_SUMMARY_MS = 60_000;

const RANK: Record<SystemLogLevel, number> = { DEBUG: 0, INFO: 1, WARN: 2 };

/** What the log reads of an environment (its id and memory high-water mark). */
export interface LoggedEnvironment {
  readonly id: string;
  readonly peakBytes: number;
}

/** One environment's serving, as its summaries and its report count it. */
interface Serving {
  env: LoggedEnvironment;
  started: number;
  inFlight: number;
  requests: number;
  peakConcurrency: number;
  /** Since the last summary. */
  window: { started: number; requests: number; peakConcurrency: number };
  timer?: ClockTimer;
}

export interface WebLogOptions {
  /** Writes one line to the function's log. */
  write: (line: string) => void;
  clock: Clock;
  level: SystemLogLevel;
  /** The function's name and region, as every event names them. */
  functionName: string;
  region: string;
}

/**
 * The revision a local environment runs (AWS: the endpoint's revision id): the code in front of
 * `dev` has no revision of its own.
 */
export const LOCAL_REVISION = '$LOCAL';

/** A web function environment's `AWS_LAMBDA_INITIALIZATION_TYPE` (aws-hosts-2026.md). */
export const WEB_INITIALIZATION_TYPE = 'native-http';

export class WebPlatformLog {
  private readonly serving = new Map<string, Serving>();
  /** Environments shutting down: when each began (monotonic ms). */
  private readonly spinningDown = new Map<string, number>();

  constructor(private readonly opts: WebLogOptions) {}

  /** An environment's init begins (the record's fields are the schema's). */
  initStart(envId: string, runtimeVersion: string): void {
    this.event('INFO', 'platform.initStart', {
      functionName: this.opts.functionName,
      revisionId: LOCAL_REVISION,
      instanceId: envId,
      // As the environment's AWS_LAMBDA_INITIALIZATION_TYPE (classic Lambda's two agree).
      initializationType: WEB_INITIALIZATION_TYPE,
      runtimeVersion,
      runtimeVersionArn: `arn:aws:lambda:${this.opts.region}::runtime:mcp-fleet-local`,
    });
  }

  /** The end of init; a success starts the environment's serving (and its summaries). */
  initReport(env: LoggedEnvironment, init: InitOutcome): void {
    const failed = init.status !== 'success';
    this.event(failed ? 'WARN' : 'INFO', 'platform.initReport', {
      instanceId: env.id,
      status: init.status,
      durationMs: round(init.durationMs),
      ...(init.status === 'error' ? { errorType: init.errorType } : {}),
    });
    if (failed || this.serving.has(env.id)) return;
    const now = this.opts.clock.monotonic();
    const s: Serving = {
      env,
      started: now,
      inFlight: 0,
      requests: 0,
      peakConcurrency: 0,
      window: { started: now, requests: 0, peakConcurrency: 0 },
    };
    this.serving.set(env.id, s);
    this.event('INFO', 'platform.invokeStart', { instanceId: env.id });
    this.schedule(s);
  }

  /** A request begins in the environment. */
  requestStart(envId: string): void {
    const s = this.serving.get(envId);
    if (s === undefined) return;
    s.inFlight += 1;
    s.peakConcurrency = Math.max(s.peakConcurrency, s.inFlight);
    s.window.peakConcurrency = Math.max(s.window.peakConcurrency, s.inFlight);
  }

  /** A request ended (answered, cut or failed); `status` is `success` or the platform's error type. */
  requestEnd(envId: string, requestId: string, durationMs: number, status: string): void {
    const s = this.serving.get(envId);
    if (s !== undefined) {
      s.inFlight = Math.max(0, s.inFlight - 1);
      s.requests += 1;
      s.window.requests += 1;
    }
    if (RANK[this.opts.level] > RANK.DEBUG) return;
    this.event('DEBUG', 'platform.requestComplete', {
      requestId,
      instanceId: envId,
      durationMs: round(durationMs),
      status,
    });
  }

  /**
   * The environment's shutdown begins (SIGTERM): it has stopped serving (its report), and its
   * spin-down starts.
   */
  spinDownStart(envId: string): void {
    if (this.spinningDown.has(envId)) return;
    this.gone(envId);
    this.spinningDown.set(envId, this.opts.clock.monotonic());
    this.event('INFO', 'platform.spinDownStart', { instanceId: envId });
  }

  /** The environment's shutdown ended: every process of it is gone. */
  spinDownReport(envId: string, status: ShutdownStatus): void {
    const started = this.spinningDown.get(envId);
    if (started === undefined) return;
    this.spinningDown.delete(envId);
    this.event(status === 'success' ? 'INFO' : 'WARN', 'platform.spinDownReport', {
      instanceId: envId,
      status,
      durationMs: round(this.opts.clock.monotonic() - started),
    });
  }

  /** The environment stopped serving (shut down, or its process ended): its report, and no more summaries. */
  gone(envId: string): void {
    const s = this.serving.get(envId);
    if (s === undefined) return;
    this.serving.delete(envId);
    if (s.timer !== undefined) this.opts.clock.clearTimeout(s.timer);
    this.event('INFO', 'platform.invokeReport', {
      instanceId: envId,
      requests: s.requests,
      peakConcurrency: s.peakConcurrency,
      maxMemoryUsedMB: toMb(s.env.peakBytes),
      durationMs: round(this.opts.clock.monotonic() - s.started),
    });
  }

  /** Stops every summary (the function is shutting down; each environment still reports). */
  close(): void {
    for (const s of this.serving.values()) if (s.timer !== undefined) this.opts.clock.clearTimeout(s.timer);
  }

  private schedule(s: Serving): void {
    s.timer = this.opts.clock.setTimeout(() => {
      if (this.serving.get(s.env.id) !== s) return;
      const now = this.opts.clock.monotonic();
      this.event('INFO', 'platform.invokeSummary', {
        instanceId: s.env.id,
        requests: s.window.requests,
        peakConcurrency: s.window.peakConcurrency,
        maxMemoryUsedMB: toMb(s.env.peakBytes),
        durationMs: round(now - s.window.started),
      });
      s.window = { started: now, requests: 0, peakConcurrency: s.inFlight };
      this.schedule(s);
    }, INVOKE_SUMMARY_MS);
    s.timer.unref?.();
  }

  private event(level: SystemLogLevel, type: string, record: Record<string, unknown>): void {
    if (RANK[level] < RANK[this.opts.level]) return;
    this.opts.write(
      JSON.stringify({
        timestamp: new Date(this.opts.clock.now()).toISOString(),
        level,
        type,
        region: this.opts.region,
        record,
      }),
    );
  }
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
