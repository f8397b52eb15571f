/**
 * Trace context as it travels between the hops of a call, without a tracing SDK (the contract
 * imports nothing): W3C Trace Context (`traceparent`, `tracestate`),
 * the X-Ray trace header Lambda gives each invocation (`_X_AMZN_TRACE_ID`,
 * `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`), and the MCP request's `_meta`, where
 * the OpenTelemetry conventions for MCP carry it to a server (`params._meta.traceparent`).
 *
 * An X-Ray trace id is a W3C one cut in two (its first 8 hex digits, the time, then 24), so the
 * two name the same trace; ADOT converts them the same way.
 */

export interface TraceContext {
  /** `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`. */
  traceparent: string;
  tracestate?: string;
}

/**
 * W3C Trace Context: lower-case hex only (upper case makes a traceparent invalid); version 00 is
 * exactly these four fields, a later version may add fields after a dash.
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * A traceparent's parts, or undefined when it is not a valid one (upper-case hex, version ff,
 * all-zero ids, fields after version 00's four): the receiver then starts a trace of its own.
 */
export function parseTraceparent(
  value: unknown,
): { traceId: string; spanId: string; sampled: boolean } | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (m === null || m[1] === 'ff' || m[2] === ZERO_TRACE || m[3] === ZERO_SPAN) return undefined;
  if (m[5] !== undefined && m[1] === '00') return undefined;
  return { traceId: m[2] ?? '', spanId: m[3] ?? '', sampled: (parseInt(m[4] ?? '0', 16) & 1) === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/** The X-Ray trace header for a W3C trace context (Lambda's `_X_AMZN_TRACE_ID`). */
export function toXRayHeader(trace: TraceContext): string | undefined {
  const p = parseTraceparent(trace.traceparent);
  return p === undefined ? undefined : xrayHeader(p.traceId, p.spanId, p.sampled);
}

/** The X-Ray trace header of a trace id and a parent span id (both valid, lower-case hex). */
export function xrayHeader(traceId: string, spanId: string, sampled: boolean): string {
  return `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${spanId};Sampled=${sampled ? 1 : 0}`;
}

/** The W3C trace context of an X-Ray trace header; undefined without a Root and a Parent. */
export function fromXRayHeader(header: string | undefined): TraceContext | undefined {
  if (header === undefined || header === '') return undefined;
  // Read on every invocation of a traced function: Lambda's own form in one match, any other
  // order or spacing in one pass, and no second parse of what it makes.
  const exact = XRAY_LAMBDA.exec(header);
  if (exact !== null) {
    const traceId = `${exact[1] ?? ''}${exact[2] ?? ''}`;
    const spanId = exact[3] ?? '';
    if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
    return { traceparent: formatTraceparent(traceId, spanId, exact[4] === '1') };
  }
  let root = '';
  let parent = '';
  let sampled = false;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    if (key === 'Root') root = part.slice(eq + 1).trim();
    else if (key === 'Parent') parent = part.slice(eq + 1).trim();
    else if (key === 'Sampled') sampled = part.slice(eq + 1).trim() === '1';
  }
  const r = XRAY_ROOT.exec(root);
  if (r === null || !XRAY_PARENT.test(parent)) return undefined;
  const traceId = `${r[1] ?? ''}${r[2] ?? ''}`.toLowerCase();
  const spanId = parent.toLowerCase();
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceparent: formatTraceparent(traceId, spanId, sampled) };
}

const XRAY_ROOT = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/i;
/** The header as Lambda writes it (lower-case hex, Root, Parent, Sampled in turn, maybe more after). */
const XRAY_LAMBDA = /^Root=1-([0-9a-f]{8})-([0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])(?:;|$)/;
const XRAY_PARENT = /^[0-9a-f]{16}$/i;

/**
 * The trace context of an HTTP request (lower-case header names): AWS's X-Ray header
 * (`X-Amzn-Trace-Id`, as Lambda and AgentCore hand it on), else W3C `traceparent`/`tracestate`.
 */
export function traceOfHeaders(headers: Readonly<Record<string, string>>): TraceContext | undefined {
  const xray = fromXRayHeader(headers['x-amzn-trace-id']);
  if (xray !== undefined) return xray;
  const traceparent = headers['traceparent'];
  if (parseTraceparent(traceparent) === undefined || traceparent === undefined) return undefined;
  const tracestate = headers['tracestate'];
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

/** The trace context a request's `params._meta` carries, if any. */
export function traceOfMeta(params: Record<string, unknown> | undefined): TraceContext | undefined {
  const meta = params?.['_meta'];
  if (typeof meta !== 'object' || meta === null) return undefined;
  const { traceparent, tracestate } = meta as Record<string, unknown>;
  if (parseTraceparent(traceparent) === undefined) return undefined;
  return {
    traceparent: traceparent as string,
    ...(typeof tracestate === 'string' ? { tracestate } : {}),
  };
}

/**
 * The request's params with `trace` in `_meta`, so that a server that traces joins the trace.
 * A caller's own traceparent of another trace is kept: the server joins the trace its caller
 * started, not one it cannot connect to.
 */
export function withTraceMeta(
  params: Record<string, unknown> | undefined,
  trace: TraceContext | undefined,
): Record<string, unknown> | undefined {
  if (trace === undefined) return params;
  const meta = params?.['_meta'];
  const own = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>) : undefined;
  if (own === undefined) {
    // The common case (a request without `_meta`): one object for it, none to take apart.
    const fresh: Record<string, unknown> =
      trace.tracestate === undefined
        ? { traceparent: trace.traceparent }
        : { traceparent: trace.traceparent, tracestate: trace.tracestate };
    return { ...params, _meta: fresh };
  }
  if (own['traceparent'] !== undefined) {
    const theirs = traceOfMeta(params);
    if (
      theirs !== undefined &&
      parseTraceparent(theirs.traceparent)?.traceId !== parseTraceparent(trace.traceparent)?.traceId
    )
      return params;
  }
  // A caller's tracestate goes with its traceparent (built without `delete`: the object stays fast).
  const { tracestate: _, ...rest } = own;
  const next: Record<string, unknown> =
    trace.tracestate === undefined
      ? { ...rest, traceparent: trace.traceparent }
      : { ...rest, traceparent: trace.traceparent, tracestate: trace.tracestate };
  return { ...(params ?? {}), _meta: next };
}
