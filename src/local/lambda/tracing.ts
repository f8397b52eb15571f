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
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { formatTraceparent, parseTraceparent, type TraceContext } from '../../contract/trace.js';

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

/** Keeps the spans of the last traces as they end. */
class RecentTraces implements SpanProcessor {
  readonly traces = new Map<string, SpanRecord[]>();

  onStart(): void {
    // Nothing to do: a span is kept when it ends.
  }

  onEnd(span: ReadableSpan): void {
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
    let spans = this.traces.get(ctx.traceId);
    if (spans === undefined) {
      spans = [];
      this.traces.set(ctx.traceId, spans);
      while (this.traces.size > RECENT_TRACES) {
        const oldest = this.traces.keys().next().value;
        if (oldest === undefined) break;
        this.traces.delete(oldest);
      }
    }
    if (spans.length < SPANS_PER_TRACE) spans.push(record);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** One span of a local trace: its context for the next hop, its children, its end. */
export class LocalSpan {
  constructor(
    private readonly tracer: Tracer,
    readonly span: Span,
    private readonly redact: (text: string) => string,
  ) {}

  /** The trace context a child hop continues from (this span its parent). */
  get context(): TraceContext {
    const c = this.span.spanContext();
    return { traceparent: formatTraceparent(c.traceId, c.spanId, (c.traceFlags & TraceFlags.SAMPLED) !== 0) };
  }

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  child(name: string, attributes: Attributes = {}, kind: SpanKind = SpanKind.INTERNAL): LocalSpan {
    const span = this.tracer.startSpan(name, { kind, attributes }, trace.setSpan(ROOT_CONTEXT, this.span));
    return new LocalSpan(this.tracer, span, this.redact);
  }

  /** A child that began at `startMs` (epoch ms), before it was known to be worth a span. */
  childFrom(name: string, startMs: number, attributes: Attributes = {}): LocalSpan {
    const span = this.tracer.startSpan(
      name,
      { attributes, startTime: startMs },
      trace.setSpan(ROOT_CONTEXT, this.span),
    );
    return new LocalSpan(this.tracer, span, this.redact);
  }

  /** A child that has already run: it ended now, after `durationMs`. */
  childEnded(name: string, durationMs: number, attributes: Attributes = {}): void {
    const now = Date.now();
    const span = this.tracer.startSpan(
      name,
      { attributes, startTime: now - durationMs },
      trace.setSpan(ROOT_CONTEXT, this.span),
    );
    span.end(now);
  }

  set(attributes: Attributes): this {
    this.span.setAttributes(attributes);
    return this;
  }

  /** Ends the span; with an error, marked failed with its message. */
  end(error?: string): void {
    if (error !== undefined) this.span.setStatus({ code: SpanStatusCode.ERROR, message: this.redact(error) });
    this.span.end();
  }
}

export interface TracingOptions {
  /** OTLP/HTTP traces endpoint (`--otlp`), e.g. http://127.0.0.1:4318/v1/traces. */
  otlp?: string;
  /** `service.name` of the spans (default mcp-fleet-dev). */
  serviceName?: string;
  /** Keeps secret values out of what a span says (its error message). */
  redact?: (text: string) => string;
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
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;
  private readonly recent = new RecentTraces();
  private readonly redact: (text: string) => string;

  constructor(options: TracingOptions = {}) {
    this.redact = options.redact ?? ((text) => text);
    const processors: SpanProcessor[] = [this.recent];
    if (options.otlp !== undefined) {
      processors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: options.otlp }) }));
    }
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'mcp-fleet-dev' }),
      spanProcessors: processors,
    });
    this.tracer = this.provider.getTracer('mcp-fleet');
  }

  /** A span continuing `parent` (a caller's trace context), or the root of a new trace. */
  start(
    name: string,
    opts: { parent?: TraceContext; kind?: SpanKind; attributes?: Attributes } = {},
  ): LocalSpan {
    const p = opts.parent === undefined ? undefined : parseTraceparent(opts.parent.traceparent);
    const ctx =
      p === undefined
        ? ROOT_CONTEXT
        : trace.setSpanContext(ROOT_CONTEXT, {
            traceId: p.traceId,
            spanId: p.spanId,
            traceFlags: p.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
            isRemote: true,
          });
    const span = this.tracer.startSpan(
      name,
      { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes ?? {} },
      ctx,
    );
    return new LocalSpan(this.tracer, span, this.redact);
  }

  /** The recent traces, newest first. */
  traces(limit = RECENT_TRACES): TraceRecord[] {
    return [...this.recent.traces.entries()]
      .reverse()
      .slice(0, limit)
      .map(([traceId, spans]) => {
        const sorted = treeOrder(spans);
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
    await this.provider.forceFlush();
  }

  /** Sends what is left to the collector (if any) and stops. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
