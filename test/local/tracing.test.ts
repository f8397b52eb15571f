import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { chromium } from 'playwright-core';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import type { SpanRecord, TraceRecord } from '../../src/local/lambda/tracing.js';
import { parseTraceparent } from '../../src/contract/trace.js';
import { eventually } from '../support/eventually.js';
import { assertNoneLeft, FAULT_SERVER, marker, text } from '../runtime/support.js';
import { rpc } from './support.js';

/*
 * Every call through the dev gateway is a trace: a real MCP SDK client sends a W3C traceparent,
 * and the same trace comes back with the gateway's span, the invocation's (the wait for an
 * environment, a cold start's init, the call in the environment), and the server seeing the trace
 * in the request's _meta, its parent the invocation.
 */

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const mark = marker();
/** The cold call's trace (first test), and a failed one (the failures test), for the page's test. */
const seenTraces: { cold?: string; failed?: string } = {};
let dir: string;
let fleet: RunningFleet;
/** An OTLP/HTTP receiver: what the fleet exports with --otlp (JSON, as the exporter sends it). */
let collector: Server;
const exported: {
  resourceSpans?: { scopeSpans?: { spans?: { traceId: string; name: string; traceState?: string }[] }[] }[];
}[] = [];

before(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type']?.includes('json'))
        exported.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as (typeof exported)[number]);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-tracing-'));
  await writeFile(
    path.join(dir, 'servers.yaml'),
    `defaults:
  env:
    MCP_FLEET_TEST_MARKER: "${mark.value}"
servers:
  fault:
    command: node
    args: [${JSON.stringify(FAULT_SERVER)}]
    timeout: 4
  webfault:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FAULT_SERVER)}]
    host: web-function
`,
  );
  const config = await loadConfigOrThrow(path.join(dir, 'servers.yaml'));
  fleet = await startFleet(config, {
    port: 0,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    buildDir: false,
    // One environment: the second call finds it warm.
    concurrency: 1,
    otlp: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`,
  });
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(mark.value);
  await rm(dir, { recursive: true, force: true });
  await new Promise((r) => collector.close(r));
});

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** A trace the fleet kept, once its gateway span has ended. */
async function traceOf(traceId: string, root: string): Promise<TraceRecord> {
  return eventually(
    () => {
      const t = fleet.status().traces?.find((x) => x.traceId === traceId);
      return t?.spans.some((s) => s.name === root) === true ? t : undefined;
    },
    { what: `trace ${traceId} with span ${root}`, seen: () => JSON.stringify(fleet.status().traces?.[0]) },
  );
}

function span(t: TraceRecord, name: string, parent?: SpanRecord): SpanRecord {
  const found = t.spans.find(
    (s) => s.name === name && (parent === undefined || s.parentSpanId === parent.spanId),
  );
  assert.ok(
    found,
    `no span ${name}${parent ? ` under ${parent.name}` : ''} in ${t.spans.map((s) => s.name).join(', ')}`,
  );
  return found;
}

describe('traces through the dev gateway', () => {
  test("a client's traceparent: one trace through gateway, invocation and server, a cold start's init in it", async () => {
    // A cold start: the environment the gateway listed the tools with is gone.
    const fn = fleet.lambda.forServer('fault');
    assert.ok(fn);
    fn.killEnvironments();
    await eventually(() => fn.environments.total === 0, { what: 'the environments gone' });
    const traceId = hex(16);
    const clientSpan = hex(8);
    const client = new Client({ name: 'tracing-test', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`), {
        requestInit: { headers: { traceparent: `00-${traceId}-${clientSpan}-01` } },
      }),
    );
    const result = await client.callTool({ name: 'fault___info', arguments: {} });
    const seen = JSON.parse(text(result)) as { meta: Record<string, unknown> | null };
    const t = await traceOf(traceId, 'tools/call fault___info');
    seenTraces.cold = traceId;
    const gateway = span(t, 'tools/call fault___info');
    assert.equal(gateway.parentSpanId, clientSpan, "the gateway's span continues the client's");
    assert.equal(gateway.kind, 'server');
    assert.equal(gateway.attributes['mcp.method.name'], 'tools/call');
    assert.equal(gateway.attributes['gen_ai.tool.name'], 'fault___info');
    const invoke = span(t, 'invoke mcp-server-fault', gateway);
    assert.equal(invoke.attributes['faas.coldstart'], true);
    const waiting = span(t, 'environment', invoke);
    const init = span(t, 'init', waiting);
    assert.ok(init.durationMs > 0, 'the cold start took time');
    const invocation = span(t, 'invocation', invoke);
    // The server got the trace in _meta, its parent the invocation's span.
    const got = parseTraceparent(seen.meta?.['traceparent']);
    assert.deepEqual(got, { traceId, spanId: invocation.spanId, sampled: true });
    for (const s of [gateway, invoke, invocation]) assert.equal(s.status === 'error', false, s.name);
    // Spans nest in time: the invocation within the invoke, the invoke within the gateway's.
    assert.ok(invocation.startMs >= invoke.startMs && invoke.startMs >= gateway.startMs);
    assert.ok(
      gateway.startMs + gateway.durationMs + 1 >= invoke.startMs + invoke.durationMs,
      'the gateway span ends after the invocation',
    );
    await client.close();
  });

  test('a web function: the invocation reaches the server over HTTP (X-Amzn-Trace-Id), the same trace in _meta', async () => {
    const traceId = hex(16);
    const r = await rpc(
      `${fleet.url}/mcp`,
      { id: 2, method: 'tools/call', params: { name: 'webfault___info', arguments: {} } },
      { traceparent: `00-${traceId}-${hex(8)}-01` },
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const seen = JSON.parse(text(r.body['result'])) as { meta: Record<string, unknown> | null };
    const t = await traceOf(traceId, 'tools/call webfault___info');
    const gateway = span(t, 'tools/call webfault___info');
    const invocation = span(t, 'invocation', span(t, 'invoke mcp-server-webfault', gateway));
    assert.deepEqual(parseTraceparent(seen.meta?.['traceparent']), {
      traceId,
      spanId: invocation.spanId,
      sampled: true,
    });
  });

  test('a warm call has no init; a traceparent in _meta is continued; without one, a new trace', async () => {
    const traceId = hex(16);
    const parent = hex(8);
    const r = await rpc(`${fleet.url}/mcp`, {
      id: 3,
      method: 'tools/call',
      params: { name: 'fault___info', arguments: {}, _meta: { traceparent: `00-${traceId}-${parent}-01` } },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const t = await traceOf(traceId, 'tools/call fault___info');
    const gateway = span(t, 'tools/call fault___info');
    assert.equal(gateway.parentSpanId, parent);
    const invoke = span(t, 'invoke mcp-server-fault', gateway);
    assert.equal(invoke.attributes['faas.coldstart'], false);
    assert.equal(
      t.spans.some((s) => s.name === 'init'),
      false,
      'a warm environment has no init',
    );

    const before = new Set(fleet.status().traces?.map((x) => x.traceId));
    const plain = await rpc(`${fleet.url}/mcp`, {
      id: 4,
      method: 'tools/call',
      params: { name: 'fault___echo', arguments: { text: 'x' } },
    });
    assert.equal(plain.status, 200);
    const fresh = await eventually(
      () =>
        fleet.status().traces?.find((x) => !before.has(x.traceId) && x.name === 'tools/call fault___echo'),
      { what: 'a new trace for the call without traceparent' },
    );
    assert.equal(span(fresh, 'tools/call fault___echo').parentSpanId, undefined, 'a root span');
  });

  test("a client's unsampled traceparent: nothing recorded, and the server still joins its trace", async () => {
    const traceId = hex(16);
    const parent = hex(8);
    const r = await rpc(`${fleet.url}/mcp`, {
      id: 5,
      method: 'tools/call',
      params: { name: 'fault___info', arguments: {}, _meta: { traceparent: `00-${traceId}-${parent}-00` } },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const result = (r.body as { result?: { content?: { text?: string }[] } }).result;
    const seen = JSON.parse(result?.content?.[0]?.text ?? 'null') as { meta: Record<string, unknown> | null };
    const got = parseTraceparent(seen.meta?.['traceparent']);
    assert.equal(got?.traceId, traceId, 'the server is in the caller’s trace');
    assert.equal(got?.sampled, false, 'and told it is not sampled');
    // A sampled call after it is recorded; the unsampled one never was.
    const after = hex(16);
    await rpc(`${fleet.url}/mcp`, {
      id: 6,
      method: 'tools/call',
      params: { name: 'fault___info', arguments: {}, _meta: { traceparent: `00-${after}-${parent}-01` } },
    });
    await traceOf(after, 'tools/call fault___info');
    assert.equal(
      fleet.status().traces?.some((t) => t.traceId === traceId),
      false,
      'no span of the unsampled trace',
    );
  });

  test("a failed call's span carries the error: a tool that does not exist, a tool that never answers", async () => {
    const unknownTrace = hex(16);
    const unknown = await rpc(
      `${fleet.url}/mcp`,
      { id: 6, method: 'tools/call', params: { name: 'fault___nope_not_here', arguments: {} } },
      { traceparent: `00-${unknownTrace}-${hex(8)}-01` },
    );
    assert.ok(unknown.body['result'] !== undefined || unknown.body['error'] !== undefined);
    const u = await traceOf(unknownTrace, 'tools/call fault___nope_not_here');
    const uSpan = span(u, 'tools/call fault___nope_not_here');
    assert.equal(uSpan.status, 'error');
    assert.match(uSpan.error ?? '', /nope_not_here/);

    const traceId = hex(16);
    const r = await rpc(
      `${fleet.url}/mcp`,
      { id: 5, method: 'tools/call', params: { name: 'fault___hang', arguments: {} } },
      { traceparent: `00-${traceId}-${hex(8)}-01` },
    );
    assert.equal((r.body['result'] as { isError?: boolean }).isError, true, JSON.stringify(r.body));
    const t = await traceOf(traceId, 'tools/call fault___hang');
    seenTraces.failed = traceId;
    assert.equal(t.error, true);
    const gateway = span(t, 'tools/call fault___hang');
    assert.equal(gateway.status, 'error');
    assert.equal(gateway.attributes['error.type'], 'tool_error');
    assert.match(gateway.error ?? '', /did not answer within/);
    // The function itself answered (the tool's failure is in its result).
    const invocation = span(t, 'invocation', span(t, 'invoke mcp-server-fault', gateway));
    assert.notEqual(invocation.status, 'error');
  });

  test("--otlp: the spans reach an OpenTelemetry collector over OTLP/HTTP, the caller's tracestate with them", async () => {
    const traceId = hex(16);
    const r = await rpc(
      `${fleet.url}/mcp`,
      { id: 8, method: 'tools/call', params: { name: 'fault___echo', arguments: { text: 'otlp' } } },
      { traceparent: `00-${traceId}-${hex(8)}-01`, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' },
    );
    assert.equal(r.status, 200);
    await traceOf(traceId, 'tools/call fault___echo');
    await fleet.gateway.tracing?.flush();
    const spans = exported
      .flatMap((e) => e.resourceSpans ?? [])
      .flatMap((rs) => rs.scopeSpans ?? [])
      .flatMap((ss) => ss.spans ?? [])
      .filter((sp) => sp.traceId.toLowerCase() === traceId);
    // W3C: the vendors' state travels with the trace, unchanged, on the gateway's spans and below.
    for (const sp of spans) assert.equal(sp.traceState, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7', sp.name);
    const names = spans.map((sp) => sp.name).sort();
    // The wait for the environment is a span only when there was a wait (a thaw, a queue).
    assert.deepEqual(
      names.filter((n) => n !== 'environment'),
      ['invocation', 'invoke mcp-server-fault', 'tools/call fault___echo'],
    );
  });

  test(
    'the status page draws each recent call as a waterfall (headless Chromium)',
    { skip: CHROMIUM === undefined ? 'Chromium is not installed (Debian package chromium)' : false },
    async () => {
      const { cold, failed } = seenTraces;
      assert.ok(cold !== undefined && failed !== undefined, 'the earlier tests made their traces');
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu'],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await page.goto(`${fleet.url}/`);
        const trace = page.locator(`details.trace[data-trace="${cold}"]`);
        await trace.waitFor();
        if ((await trace.getAttribute('open')) === null) await trace.locator('summary').click();
        const bars = trace.locator('.bar');
        const names = await Promise.all(
          Array.from({ length: await bars.count() }, (_, i) => bars.nth(i).getAttribute('data-span')),
        );
        // The client's initialize came first in the same trace (it sent the same traceparent), then the call.
        assert.deepEqual(names, [
          'initialize',
          'tools/call fault___info',
          'invoke mcp-server-fault',
          'environment',
          'init',
          'invocation',
        ]);
        const box = async (name: string): Promise<{ left: number; width: number }> => {
          const style = (await trace.locator(`.bar[data-span="${name}"]`).getAttribute('style')) ?? '';
          const num = (prop: string): number =>
            parseFloat(new RegExp(`${prop}:\\s*([\\d.e-]+)%`).exec(style)?.[1] ?? 'NaN');
          return { left: num('left'), width: num('width') };
        };
        assert.equal((await box('initialize')).left, 0, 'the first span starts the trace');
        const call = await box('tools/call fault___info');
        assert.ok(call.left > 0 && call.left + call.width <= 100.5, JSON.stringify(call));
        assert.ok(
          (await box('invocation')).left >= (await box('init')).left,
          'the call comes after the cold start',
        );
        assert.match((await trace.locator('summary').textContent()) ?? '', /^initialize · [\d.]+ ms/);
        const bad = page.locator(`details.trace[data-trace="${failed}"]`);
        assert.match((await bad.getAttribute('class')) ?? '', /\bfailed\b/);
        await trace.screenshot({ path: path.join(dir, 'waterfall.png') });
        assert.ok(existsSync(path.join(dir, 'waterfall.png')));
      } finally {
        await browser.close();
      }
    },
  );
});
