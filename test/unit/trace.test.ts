import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import {
  daemonAddress,
  daemonDatagrams,
  functionTracer,
  OtelFunctionTracer,
} from '../../src/runtime/tracing.js';
import {
  formatTraceparent,
  fromXRayHeader,
  parseTraceparent,
  toXRayHeader,
  traceOfHeaders,
  traceOfMeta,
  withTraceMeta,
} from '../../src/contract/trace.js';

/* Trace context between the hops: W3C traceparent, Lambda's X-Ray header, the MCP request's _meta. */

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const PARENT = `00-${TRACE}-${SPAN}-01`;

test('traceparent: read and written; invalid ones refused', () => {
  assert.deepEqual(parseTraceparent(PARENT), { traceId: TRACE, spanId: SPAN, sampled: true });
  assert.deepEqual(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.sampled, false);
  for (const bad of [
    `ff-${TRACE}-${SPAN}-01`,
    `00-${'0'.repeat(32)}-${SPAN}-01`,
    `00-${TRACE}-${'0'.repeat(16)}-01`,
    `00-${TRACE}-${SPAN}`,
    // Upper-case hex is not W3C's (HEXDIGLC); version 00 has exactly four fields.
    `00-${TRACE.toUpperCase()}-${SPAN}-01`,
    `00-${TRACE}-${SPAN.toUpperCase()}-01`,
    `00-${TRACE}-${SPAN}-01-extra`,
    'nonsense',
    42,
    undefined,
  ])
    assert.equal(parseTraceparent(bad), undefined, String(bad));
  // A later version may carry more fields; its first four are read as version 00's.
  assert.deepEqual(parseTraceparent(`cc-${TRACE}-${SPAN}-01-what-the-future-holds`), {
    traceId: TRACE,
    spanId: SPAN,
    sampled: true,
  });
  assert.equal(formatTraceparent(TRACE, SPAN, true), PARENT);
});

test("Lambda's X-Ray header and W3C name the same trace, both ways", () => {
  const xray = toXRayHeader({ traceparent: PARENT });
  assert.equal(xray, `Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=${SPAN};Sampled=1`);
  assert.deepEqual(fromXRayHeader(xray), { traceparent: PARENT });
  // Lambda's own form, with a Lineage field and without Parent (nothing to be a child of).
  assert.deepEqual(
    fromXRayHeader(`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1`),
    { traceparent: '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00' },
  );
  assert.equal(fromXRayHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1'), undefined);
  // Other orders, spacing, upper-case hex and deferred sampling (`?`) read as well as Lambda's form.
  const expected = { traceparent: '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01' };
  for (const header of [
    'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1',
    'Parent=53995c3f42cd8ad8;Sampled=1;Root=1-5759e988-bd862e3fe1be46a994272793',
    'Root=1-5759E988-BD862E3FE1BE46A994272793; Parent=53995C3F42CD8AD8; Sampled=1',
  ])
    assert.deepEqual(fromXRayHeader(header), expected, header);
  assert.deepEqual(
    fromXRayHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?'),
    { traceparent: '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00' },
  );
  // All-zero ids name no trace, in Lambda's form too.
  assert.equal(
    fromXRayHeader(`Root=1-00000000-${'0'.repeat(24)};Parent=53995c3f42cd8ad8;Sampled=1`),
    undefined,
  );
  assert.equal(
    fromXRayHeader(`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${'0'.repeat(16)};Sampled=1`),
    undefined,
  );
  assert.equal(fromXRayHeader(''), undefined);
  assert.equal(fromXRayHeader(undefined), undefined);
  fc.assert(
    fc.property(
      fc.stringMatching(/^[0-9a-f]{32}$/),
      fc.stringMatching(/^[0-9a-f]{16}$/),
      fc.boolean(),
      (traceId, spanId, sampled) => {
        const traceparent = formatTraceparent(traceId, spanId, sampled);
        if (parseTraceparent(traceparent) === undefined) return; // the all-zero ids
        assert.deepEqual(fromXRayHeader(toXRayHeader({ traceparent })), { traceparent });
      },
    ),
  );
});

test('an HTTP request: X-Amzn-Trace-Id first, else traceparent and tracestate', () => {
  const xray = toXRayHeader({ traceparent: PARENT }) ?? '';
  const other = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
  assert.deepEqual(traceOfHeaders({ 'x-amzn-trace-id': xray, traceparent: other }), { traceparent: PARENT });
  assert.deepEqual(traceOfHeaders({ traceparent: other, tracestate: 'v=1' }), {
    traceparent: other,
    tracestate: 'v=1',
  });
  assert.equal(traceOfHeaders({ traceparent: 'junk' }), undefined);
  assert.equal(traceOfHeaders({}), undefined);
});

test("_meta: the trace goes in beside the request's other keys; a caller's own trace of another trace is kept", () => {
  const params = { name: 'echo', arguments: {}, _meta: { progressToken: 7 } };
  assert.deepEqual(withTraceMeta(params, { traceparent: PARENT, tracestate: 'k=v' }), {
    name: 'echo',
    arguments: {},
    _meta: { progressToken: 7, traceparent: PARENT, tracestate: 'k=v' },
  });
  assert.deepEqual(withTraceMeta(undefined, { traceparent: PARENT }), { _meta: { traceparent: PARENT } });
  assert.equal(withTraceMeta(params, undefined), params);
  // The caller's span of the same trace is replaced by ours (we are the hop in between).
  const caller = `00-${TRACE}-${'1'.repeat(16)}-01`;
  assert.deepEqual(
    withTraceMeta({ _meta: { traceparent: caller, tracestate: 'old' } }, { traceparent: PARENT }),
    {
      _meta: { traceparent: PARENT },
    },
  );
  // A caller's traceparent of another trace stays: the server joins the trace its caller began.
  const foreign = { _meta: { traceparent: `00-${'c'.repeat(32)}-${SPAN}-01` } };
  assert.equal(withTraceMeta(foreign, { traceparent: PARENT }), foreign);
  assert.deepEqual(traceOfMeta(foreign), foreign._meta);
  assert.equal(traceOfMeta({ _meta: { traceparent: 'x' } }), undefined);
});

test("the X-Ray daemon's address as Lambda gives it; anything else, no daemon", () => {
  assert.deepEqual(daemonAddress('169.254.79.129:2000'), { host: '169.254.79.129', port: 2000 });
  assert.deepEqual(daemonAddress(' udp:127.0.0.1:2000 tcp:127.0.0.1:2000 '), {
    host: '127.0.0.1',
    port: 2000,
  });
  for (const bad of [
    undefined,
    '',
    '   ',
    'localhost',
    '127.0.0.1:0',
    '127.0.0.1:70000',
    'tcp:127.0.0.1:2000',
  ])
    assert.equal(daemonAddress(bad), undefined, String(bad));
  assert.equal(functionTracer('s', {}), undefined, 'no daemon, no tracer');
});

test("the daemon's datagrams: header line, T1S, base64 OTLP; a batch over 64 KiB is sent a span at a time", async () => {
  const memory = new InMemorySpanExporter();
  const tracer = new OtelFunctionTracer(memory, { 'service.name': 's' });
  const parent = { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` };
  for (let i = 0; i < 40; i++) tracer.start(`tools/call t${i}`, parent, { big: 'x'.repeat(2000) })?.end();
  await tracer.flush();
  const spans = memory.getFinishedSpans();
  assert.equal(spans.length, 40);
  const [one] = daemonDatagrams(spans.slice(0, 1));
  assert.ok(one);
  const text = one.toString();
  assert.ok(text.startsWith('{"format":"json","version":1}\nT1S'));
  assert.ok(Buffer.from(text.slice(text.indexOf('\n') + 4), 'base64').length > 0);
  const all = daemonDatagrams(spans);
  assert.equal(all.length, 40, 'split a span at a time');
  for (const d of all) assert.ok(d.length <= 64 * 1024);
  assert.equal(
    tracer.start('x', { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-00` }, {}),
    undefined,
    'unsampled',
  );
  await tracer.shutdown();
});
