/**
 * The runtime's own spans inside a deployed function, sent the way AWS's OpenTelemetry
 * distribution (ADOT) sends spans from Lambda: OTLP (protobuf) in a UDP datagram to the X-Ray
 * daemon Lambda runs beside a function with active tracing (`AWS_XRAY_DAEMON_ADDRESS`), which
 * hands them on to X-Ray, where CloudWatch (Transaction Search, AgentCore Observability) reads
 * them. Each datagram is the daemon's header line, then `T1S` (sampled spans), then the
 * ExportTraceServiceRequest in base64.
 *
 * The spans join Lambda's trace of the invocation (`_X_AMZN_TRACE_ID`): one per request to the
 * stdio server (its `_meta.traceparent` names that span, so a server that traces hangs its spans
 * under it), and on a cold start the server's start (`init`). Only sampled traces are recorded;
 * without a daemon (a Web Function, a local run) nothing is.
 */
import dgram from 'node:dgram';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Tracer,
} from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { formatTraceparent, parseTraceparent, type TraceContext } from '../contract/trace.js';

/** The X-Ray daemon's datagram header (its "format, version" line). */
const DAEMON_HEADER = '{"format":"json","version":1}\n';
/** ADOT's prefix for a datagram of sampled OTLP spans. */
const SAMPLED_SPANS_PREFIX = 'T1S';
/** The daemon's largest datagram; a batch over it is sent a span at a time. */
const MAX_DATAGRAM_BYTES = 64 * 1024;

/** `host:port` of the daemon (Lambda sets `AWS_XRAY_DAEMON_ADDRESS` so, with active tracing). */
export function daemonAddress(value: string | undefined): { host: string; port: number } | undefined {
  const address = (value ?? '').trim();
  if (address === '') return undefined;
  // `host:port`, or Lambda's long form `udp:host:port tcp:host:port`.
  const udp = address.split(/\s+/).find((part) => part.startsWith('udp:')) ?? address;
  const m = /^(?:udp:)?([^\s:]+):(\d{1,5})$/.exec(udp);
  const port = Number(m?.[2]);
  if (m === null || !(port > 0 && port < 65536)) return undefined;
  return { host: m[1] ?? '127.0.0.1', port };
}

/** The daemon's datagram(s) for a batch of spans. */
export function daemonDatagrams(spans: readonly ReadableSpan[]): Buffer[] {
  const encode = (batch: readonly ReadableSpan[]): Buffer => {
    const body = ProtobufTraceSerializer.serializeRequest([...batch]);
    return Buffer.from(
      `${DAEMON_HEADER}${SAMPLED_SPANS_PREFIX}${Buffer.from(body ?? new Uint8Array()).toString('base64')}`,
    );
  };
  const whole = encode(spans);
  if (whole.length <= MAX_DATAGRAM_BYTES || spans.length === 1) return [whole];
  return spans.map((span) => encode([span]));
}

/** Sends spans to the X-Ray daemon over UDP, as ADOT does in Lambda. */
export class DaemonSpanExporter implements SpanExporter {
  private readonly socket: dgram.Socket;

  constructor(private readonly daemon: { host: string; port: number }) {
    this.socket = dgram.createSocket(daemon.host.includes(':') ? 'udp6' : 'udp4');
    // A lost datagram is a lost span, never a failed call.
    this.socket.on('error', () => undefined);
    this.socket.unref();
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const datagrams = daemonDatagrams(spans);
    let left = datagrams.length;
    let failed: Error | undefined;
    for (const datagram of datagrams) {
      this.socket.send(datagram, this.daemon.port, this.daemon.host, (err) => {
        if (err) failed = err;
        if (--left === 0)
          done(
            failed ? { code: ExportResultCode.FAILED, error: failed } : { code: ExportResultCode.SUCCESS },
          );
      });
    }
  }

  shutdown(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => {
          resolve();
        });
      } catch {
        resolve();
      }
    });
  }
}

/** A span of the runtime's, open: its context (the parent of what it calls), and its end. */
export interface OpenSpan {
  readonly trace: TraceContext;
  /** Ends it now, or at `endMs` (epoch ms); with `error`, as failed. */
  end(error?: string, endMs?: number): void;
}

/** What the runtime records its spans through. */
export interface FunctionTracer {
  /** A span under `parent` (a sampled trace), or undefined when the trace is not recorded. */
  start(
    name: string,
    parent: TraceContext | undefined,
    attributes: Attributes,
    startMs?: number,
  ): OpenSpan | undefined;
  /** Waits until the spans ended so far are sent (before Lambda may freeze the environment). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Records spans with OpenTelemetry's SDK, each sent as it ends. */
export class OtelFunctionTracer implements FunctionTracer {
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;

  constructor(exporter: SpanExporter, resource: Attributes) {
    this.provider = new TracerProvider({
      resource: resourceFromAttributes(resource),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    this.tracer = this.provider.getTracer('mcp-fleet-runtime');
  }

  start(
    name: string,
    parent: TraceContext | undefined,
    attributes: Attributes,
    startMs?: number,
  ): OpenSpan | undefined {
    const p = parent === undefined ? undefined : parseTraceparent(parent.traceparent);
    if (p === undefined || !p.sampled) return undefined;
    const ctx = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: p.traceId,
      spanId: p.spanId,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    const span = this.tracer.startSpan(
      name,
      { kind: SpanKind.CLIENT, attributes, ...(startMs === undefined ? {} : { startTime: startMs }) },
      ctx,
    );
    const own = span.spanContext();
    const traceparent = formatTraceparent(own.traceId, own.spanId, true);
    return {
      trace:
        parent?.tracestate === undefined ? { traceparent } : { traceparent, tracestate: parent.tracestate },
      end: (error, endMs) => {
        if (error !== undefined) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: error });
          span.setAttribute('error.type', error);
        }
        span.end(endMs);
      },
    };
  }

  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

/**
 * The tracer of a function whose environment has an X-Ray daemon (active tracing), else
 * undefined: nothing is recorded where nothing would receive it.
 */
export function functionTracer(
  serverId: string,
  env: NodeJS.ProcessEnv = process.env,
): FunctionTracer | undefined {
  const daemon = daemonAddress(env['AWS_XRAY_DAEMON_ADDRESS']);
  if (daemon === undefined) return undefined;
  const functionName = env['AWS_LAMBDA_FUNCTION_NAME'];
  return new OtelFunctionTracer(new DaemonSpanExporter(daemon), {
    'service.name': functionName ?? `mcp-server-${serverId}`,
    'cloud.provider': 'aws',
    'cloud.platform': 'aws_lambda',
    ...(env['AWS_REGION'] ? { 'cloud.region': env['AWS_REGION'] } : {}),
    ...(functionName ? { 'faas.name': functionName } : {}),
    'mcp_fleet.server_id': serverId,
  });
}
