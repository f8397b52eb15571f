/**
 * A web function's platform log: Lambda Web Functions write JSON system events, not an event
 * function's START / END / REPORT lines. Per environment: `platform.initStart`,
 * `platform.initReport` (success or failure), `platform.invokeStart` when it starts serving,
 * `platform.invokeSummary` about every 60 s while it serves and `platform.invokeReport` when it
 * stops; per request only `platform.requestComplete`, and only at the DEBUG system log level
 * (AWS's system log event schema for Web Functions). The events' names, their levels and the
 * envelope (`time`, `type`, `record`) follow that page; the fields inside each record are ours
 * where it gives none (docs/hosts.md says which).
 */
import type { Clock, ClockTimer } from '../../platform/time.js';
import type { InitOutcome } from './environment.js';
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
}

export class WebPlatformLog {
  private readonly serving = new Map<string, Serving>();

  constructor(private readonly opts: WebLogOptions) {}

  initStart(envId: string, runtimeVersion: string): void {
    this.event('INFO', 'platform.initStart', { environment: envId, runtimeVersion });
  }

  /** The end of init; a success starts the environment's serving (and its summaries). */
  initReport(env: LoggedEnvironment, init: InitOutcome): void {
    const failed = init.status !== 'success';
    this.event(failed ? 'WARN' : 'INFO', 'platform.initReport', {
      environment: env.id,
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
    this.event('INFO', 'platform.invokeStart', { environment: env.id });
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
      environment: envId,
      durationMs: round(durationMs),
      status,
    });
  }

  /** The environment stopped serving: its report, and no more summaries. */
  gone(envId: string): void {
    const s = this.serving.get(envId);
    if (s === undefined) return;
    this.serving.delete(envId);
    if (s.timer !== undefined) this.opts.clock.clearTimeout(s.timer);
    this.event('INFO', 'platform.invokeReport', {
      environment: envId,
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
        environment: s.env.id,
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
    this.opts.write(JSON.stringify({ time: new Date(this.opts.clock.now()).toISOString(), type, record }));
  }
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
