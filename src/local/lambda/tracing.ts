/**
 * Every call through `mcp-fleet dev` is a trace (OpenTelemetry): the gateway's span for the MCP
 * request, the local Lambda service's for the invocation (the wait for an environment, a cold
 * start's init, the call in the environment), and, through the request's `_meta`, the server's own
 * spans when it traces. A trace continues the caller's (a W3C `traceparent` header, or the MCP
 * request's `_meta.traceparent`) or starts anew.
 *
 * The spans of the last traces are kept for `/status` (the waterfall), and with `--otlp <url>`
 * every span is exported to an OpenTelemetry collector (OTLP over HTTP, JSON).
 */
import { randomBytes } from 'node:crypto';
import {
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Attributes,
  type HrTime,
  type SpanContext,
  type SpanStatus,
} from '@opentelemetry/api';
import { ExportResultCode, TraceState } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { EXPIRED, withDeadline } from '../../platform/time.js';
import { formatTraceparent, parseTraceparent, xrayHeader, type TraceContext } from '../../contract/trace.js';

/** Traces kept for `/status`, the newest. */
export const RECENT_TRACES = 50;
/** Spans kept per trace at most (a long session of one trace keeps its first). */
const SPANS_PER_TRACE = 200;

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** Epoch ms. */
  startMs: number;
  durationMs: number;
  status: 'unset' | 'ok' | 'error';
  error?: string;
  attributes: Attributes;
}

export interface TraceRecord {
  traceId: string;
  /** Its first root span's name (the gateway's request, or an invocation). */
  name: string;
  startMs: number;
  durationMs: number;
  error: boolean;
  /** In tree order: each root by start, every span followed by its children (by start). */
  spans: SpanRecord[];
}

const KINDS: SpanRecord['kind'][] = ['internal', 'server', 'client', 'producer', 'consumer'];

/** What `/status` says of a span (made when asked for, not as each span ends). */
function recordOf(span: ReadableSpan): SpanRecord {
  const ctx = span.spanContext();
  const [secs, nanos] = span.startTime;
  const [dsecs, dnanos] = span.duration;
  const record: SpanRecord = {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    name: span.name,
    kind: KINDS[span.kind] ?? 'internal',
    startMs: secs * 1000 + nanos / 1e6,
    durationMs: dsecs * 1000 + dnanos / 1e6,
    status:
      span.status.code === SpanStatusCode.ERROR
        ? 'error'
        : span.status.code === SpanStatusCode.OK
          ? 'ok'
          : 'unset',
    attributes: { ...span.attributes },
  };
  const parent = span.parentSpanContext?.spanId;
  if (parent !== undefined) record.parentSpanId = parent;
  if (span.status.message !== undefined && span.status.message !== '') record.error = span.status.message;
  return record;
}

/**
 * Keeps the spans of the last traces as they end: the ended spans themselves (immutable once
 * ended), so that the hot path only appends; `/status` turns them into records when it asks.
 */
class RecentTraces implements SpanProcessor {
  readonly traces = new Map<string, ReadableSpan[]>();

  onStart(): void {
    // Nothing to do: a span is kept when it ends.
  }

  onEnd(span: ReadableSpan): void {
    const traceId = span.spanContext().traceId;
    let spans = this.traces.get(traceId);
    if (spans === undefined) {
      spans = [];
      this.traces.set(traceId, spans);
      if (this.traces.size > RECENT_TRACES) {
        const oldest = this.traces.keys().next().value;
        if (oldest !== undefined) this.traces.delete(oldest);
      }
    }
    if (spans.length < SPANS_PER_TRACE) spans.push(span);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** What the spans of one `LocalTracing` share. */
interface Home {
  readonly processors: readonly SpanProcessor[];
  readonly resource: Resource;
  readonly redact: (text: string) => string;
}

/**
 * The trace context a span hands to the next hop, which knows its span: a span that starts from
 * it in this process (the gateway's call to the local Lambda service) finds its parent without
 * parsing it. The span is a private field: the context spreads and serializes as a plain one.
 */
class HandedOut implements TraceContext {
  readonly #span: LocalSpan;
  /** The caller's `tracestate`, handed on unchanged with every hop of its trace (W3C). */
  readonly tracestate?: string;

  constructor(
    readonly traceparent: string,
    span: LocalSpan,
    tracestate: string | undefined,
  ) {
    this.#span = span;
    if (tracestate !== undefined) this.tracestate = tracestate;
  }

  spanOf(home: Home): SpanContext | undefined {
    return this.#span.belongsTo(home) ? this.#span.spanContext() : undefined;
  }
}

const SCOPE = { name: 'mcp-fleet' };
/** What every span without links or events shares (read-only for the processors). */
const NONE: readonly never[] = Object.freeze([]);
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const NO_TIME = Object.freeze([0, 0]) as unknown as HrTime;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * Random ids, drawn a pool at a time: 4 KiB of random bytes (one system call per 512 span ids),
 * turned into hex once, each id a slice of it (no conversion per id).
 */
const POOL_BYTES = 4096;
let idHex = '';
let idAt = POOL_BYTES * 2;

function randomId(bytes: 8 | 16): string {
  const chars = bytes * 2;
  for (;;) {
    if (idAt + chars > idHex.length) {
      idHex = randomBytes(POOL_BYTES).toString('hex');
      idAt = 0;
    }
    const id = idHex.slice(idAt, idAt + chars);
    idAt += chars;
    if (id !== ZERO_TRACE && id !== ZERO_SPAN) return id;
  }
}

/**
 * Wall-clock time in epoch ms with sub-millisecond resolution: the monotonic clock, anchored to
 * `Date.now()` again every ten seconds (so that it does not drift from the wall clock).
 */
let anchorWall = 0;
let anchorMono = -Infinity;
function epochMs(mono: number): number {
  if (mono - anchorMono > 10_000) {
    anchorWall = Date.now();
    anchorMono = performance.now();
  }
  return anchorWall + (mono - anchorMono);
}

const hrTime = (ms: number): HrTime => {
  const secs = Math.floor(ms / 1000);
  return [secs, Math.min(999_999_999, Math.round((ms - secs * 1000) * 1e6))];
};

/**
 * One span of a local trace: its context for the next hop, its children, its end.
 *
 * A span is recorded here rather than by the OpenTelemetry SDK's tracer: every call through `dev`
 * makes three, and the SDK's general-purpose span (sampler, limits, attribute checks, span
 * metrics, its context objects) cost about 13 µs each under load, most of tracing's cost per call
 * (docs/benchmarks.md). An ended span is an SDK `ReadableSpan`, handed to the SDK's span
 * processors (the OTLP exporter's batch processor), so what reaches a collector is the SDK's own
 * encoding. As the SDK's parent-based sampling does, a span whose parent is not sampled records
 * nothing and passes the context on.
 */
export class LocalSpan implements ReadableSpan {
  readonly kind: SpanKind;
  readonly attributes: Attributes;
  readonly parentSpanContext: SpanContext | undefined;
  status: SpanStatus = UNSET;
  ended = false;
  readonly links = NONE as [];
  readonly events = NONE as [];
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly instrumentationScope = SCOPE;
  private readonly own: SpanContext;
  private readonly startMono: number;
  /** When it began, epoch ms; how long it ran (ms), once ended. */
  private readonly startMs: number;
  private durationMs = 0;
  private handedOut: HandedOut | undefined;

  constructor(
    private readonly home: Home,
    readonly name: string,
    parent: SpanContext | undefined,
    kind: SpanKind,
    attributes: Attributes,
    /** When it began, epoch ms (default now). */
    startMs?: number,
  ) {
    this.kind = kind;
    // Kept as given (every caller hands a new object): the span's own from now on.
    this.attributes = attributes;
    this.parentSpanContext = parent;
    this.own = {
      traceId: parent?.traceId ?? randomId(16),
      spanId: randomId(8),
      traceFlags: parent === undefined ? TraceFlags.SAMPLED : parent.traceFlags & TraceFlags.SAMPLED,
    };
    // The trace's vendor state goes with it, from the caller's span through every span below.
    if (parent?.traceState !== undefined) this.own.traceState = parent.traceState;
    const mono = performance.now();
    this.startMono = startMs === undefined ? mono : mono - (epochMs(mono) - startMs);
    this.startMs = startMs ?? epochMs(mono);
  }

  // The SDK's times, made when a processor or `/status` reads them (not on every span's path).
  get startTime(): HrTime {
    return hrTime(this.startMs);
  }

  get endTime(): HrTime {
    return this.ended ? hrTime(this.startMs + this.durationMs) : NO_TIME;
  }

  get duration(): HrTime {
    return this.ended ? hrTime(this.durationMs) : NO_TIME;
  }

  get resource(): Resource {
    return this.home.resource;
  }

  spanContext(): SpanContext {
    return this.own;
  }

  private get sampled(): boolean {
    return (this.own.traceFlags & TraceFlags.SAMPLED) !== 0;
  }

  /** The trace context a child hop continues from (this span its parent). */
  get context(): TraceContext {
    this.handedOut ??= new HandedOut(
      formatTraceparent(this.own.traceId, this.own.spanId, this.sampled),
      this,
      this.own.traceState?.serialize(),
    );
    return this.handedOut;
  }

  belongsTo(home: Home): boolean {
    return this.home === home;
  }

  /** Lambda's trace header (`_X_AMZN_TRACE_ID`) for what runs under this span. */
  get xrayHeader(): string {
    return xrayHeader(this.own.traceId, this.own.spanId, this.sampled);
  }

  get traceId(): string {
    return this.own.traceId;
  }

  child(name: string, attributes: Attributes = {}, kind: SpanKind = SpanKind.INTERNAL): LocalSpan {
    return new LocalSpan(this.home, name, this.own, kind, attributes);
  }

  /** A child that began at `startMs` (epoch ms), before it was known to be worth a span. */
  childFrom(name: string, startMs: number, attributes: Attributes = {}): LocalSpan {
    return new LocalSpan(this.home, name, this.own, SpanKind.INTERNAL, attributes, startMs);
  }

  /** A child that has already run: it ended now, after `durationMs`. */
  childEnded(name: string, durationMs: number, attributes: Attributes = {}): void {
    new LocalSpan(
      this.home,
      name,
      this.own,
      SpanKind.INTERNAL,
      attributes,
      epochMs(performance.now()) - durationMs,
    ).end();
  }

  set(attributes: Attributes): this {
    if (this.ended) return this;
    for (const key in attributes) {
      const value = attributes[key];
      if (value !== undefined) this.attributes[key] = value;
    }
    return this;
  }

  /** Ends the span; with an error, marked failed with its message. */
  end(error?: string): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.status = { code: SpanStatusCode.ERROR, message: this.home.redact(error) };
    this.durationMs = Math.max(0, performance.now() - this.startMono);
    if (!this.sampled) return;
    for (const p of this.home.processors) p.onEnd(this);
  }
}

export interface TracingOptions {
  /** OTLP/HTTP traces endpoint (`--otlp`), e.g. http://127.0.0.1:4318/v1/traces. */
  otlp?: string;
  /** `service.name` of the spans (default mcp-fleet-dev). */
  serviceName?: string;
  /** Keeps secret values out of what a span says (its error message). */
  redact?: (text: string) => string;
  /** More span processors, each given every ended span (an embedder's own exporter). */
  processors?: SpanProcessor[];
  /**
   * The OTLP export failed (`ok` false: why; spans of that batch are dropped) or works again after
   * failing (`ok` true). Told once per change, not per batch.
   */
  onExport?: (ok: boolean, message: string) => void;
}

/** How long `shutdown` waits for the last spans to reach the collector. */
export const TRACING_SHUTDOWN_MS = 2000;

/** The OTLP exporter, saying when its exports start failing and when they work again. */
function reportingExporter(url: string, onExport: TracingOptions['onExport']): SpanExporter {
  const inner = new OTLPTraceExporter({ url });
  let failing = false;
  return {
    export: (spans, done) => {
      inner.export(spans, (result) => {
        const ok = result.code === ExportResultCode.SUCCESS;
        if (ok === failing) {
          failing = !ok;
          onExport?.(
            ok,
            ok
              ? `OTLP export to ${url} works again`
              : `OTLP export to ${url} failed (${result.error?.message ?? 'no reason given'}); spans are dropped until it answers`,
          );
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush(),
  };
}

/**
 * Spans as a waterfall lists them: each root (a span whose parent is not in the trace) by start,
 * every span followed by its children, by start.
 */
function treeOrder(spans: readonly SpanRecord[]): SpanRecord[] {
  const byStart = [...spans].sort((a, b) => a.startMs - b.startMs);
  const ids = new Set(byStart.map((s) => s.spanId));
  const children = new Map<string, SpanRecord[]>();
  for (const s of byStart) {
    if (s.parentSpanId === undefined || !ids.has(s.parentSpanId)) continue;
    const list = children.get(s.parentSpanId) ?? [];
    list.push(s);
    children.set(s.parentSpanId, list);
  }
  const out: SpanRecord[] = [];
  const visit = (s: SpanRecord): void => {
    out.push(s);
    for (const c of children.get(s.spanId) ?? []) visit(c);
  };
  for (const s of byStart) if (s.parentSpanId === undefined || !ids.has(s.parentSpanId)) visit(s);
  return out;
}

export class LocalTracing {
  private readonly home: Home;
  private readonly recent = new RecentTraces();
  private readonly onExport: TracingOptions['onExport'];

  constructor(options: TracingOptions = {}) {
    this.onExport = options.onExport;
    const processors: SpanProcessor[] = [this.recent, ...(options.processors ?? [])];
    if (options.otlp !== undefined) {
      processors.push(
        new BatchSpanProcessor({ exporter: reportingExporter(options.otlp, options.onExport) }),
      );
    }
    this.home = {
      processors,
      resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'mcp-fleet-dev' }),
      redact: options.redact ?? ((text) => text),
    };
  }

  /** A span continuing `parent` (a caller's trace context), or the root of a new trace. */
  start(
    name: string,
    opts: { parent?: TraceContext | undefined; kind?: SpanKind; attributes?: Attributes } = {},
  ): LocalSpan {
    return new LocalSpan(
      this.home,
      name,
      this.parentOf(opts.parent),
      opts.kind ?? SpanKind.INTERNAL,
      opts.attributes ?? {},
    );
  }

  /** A span's parent: its span when this tracing made it, else the caller's (a remote one). */
  private parentOf(parent: TraceContext | undefined): SpanContext | undefined {
    if (parent === undefined) return undefined;
    const local = parent instanceof HandedOut ? parent.spanOf(this.home) : undefined;
    if (local !== undefined) return local;
    const p = parseTraceparent(parent.traceparent);
    if (p === undefined) return undefined;
    const remote: SpanContext = {
      traceId: p.traceId,
      spanId: p.spanId,
      traceFlags: p.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
      isRemote: true,
    };
    // W3C: a tracestate is kept as the caller sent it (TraceState drops what is malformed in it).
    if (parent.tracestate !== undefined && parent.tracestate !== '') {
      const state = new TraceState(parent.tracestate);
      if (state.serialize() !== '') remote.traceState = state;
    }
    return remote;
  }

  /** The recent traces, newest first. */
  traces(limit = RECENT_TRACES): TraceRecord[] {
    return [...this.recent.traces.entries()]
      .reverse()
      .slice(0, limit)
      .map(([traceId, spans]) => {
        const sorted = treeOrder(spans.map(recordOf));
        const start = Math.min(...sorted.map((s) => s.startMs));
        const end = Math.max(...sorted.map((s) => s.startMs + s.durationMs));
        return {
          traceId,
          name: sorted[0]?.name ?? '',
          startMs: start,
          durationMs: end - start,
          error: sorted.some((s) => s.status === 'error'),
          spans: sorted,
        };
      });
  }

  /** The spans of one trace, if it is still kept. */
  trace(traceId: string): TraceRecord | undefined {
    return this.traces().find((t) => t.traceId === traceId);
  }

  /** Sends the spans ended so far to the collector (if any) now. */
  async flush(): Promise<void> {
    await Promise.all(this.home.processors.map((p) => p.forceFlush()));
  }

  /**
   * Sends what is left to the collector (if any) and stops: within {@link TRACING_SHUTDOWN_MS}
   * (a collector that is down or does not answer costs no more), never failing (a failure is told
   * to `onExport`).
   */
  async shutdown(): Promise<void> {
    const all = Promise.allSettled(this.home.processors.map((p) => p.shutdown()));
    const settled = await withDeadline(all, Date.now() + TRACING_SHUTDOWN_MS, { unref: true });
    if (settled === EXPIRED) {
      this.onExport?.(false, `the last spans did not reach the collector within ${TRACING_SHUTDOWN_MS} ms`);
      return;
    }
    for (const r of settled)
      if (r.status === 'rejected')
        this.onExport?.(
          false,
          `the last spans did not reach the collector (${r.reason instanceof Error ? r.reason.message : String(r.reason)})`,
        );
  }
}
