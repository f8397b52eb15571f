/**
 * The runtime's spans inside a deployed function: the bundled handler in the local Lambda
 * service's environments, which set `_X_AMZN_TRACE_ID` for each invocation as Lambda's runtime
 * client does (the Runtime Interface Emulator cannot stand in here: its tracer drops the invoke's
 * X-Amzn-Trace-Id), with `AWS_XRAY_DAEMON_ADDRESS` naming a UDP socket of the test where
 * Lambda's X-Ray daemon would listen. The datagrams are read with OpenTelemetry's own protobuf
 * definitions (opentelemetry-proto, in the test tools), not with the encoder under test.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { PYTHON_TOOLS_DIR } from '../../scripts/python-tools.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { fromXRayHeader } from '../../src/contract/trace.js';
import { LocalLambda } from '../../src/local/lambda/service.js';
import { ROOT, tempDir } from '../helpers.js';
import { assertNoneLeft, FAULT_SERVER, marker } from '../runtime/support.js';
import { eventually } from '../support/eventually.js';

const DECODER = path.join(ROOT, 'test', 'fixtures', 'otlp', 'decode-daemon-datagrams.py');

interface DecodedSpan {
  prefix: string;
  resource: Record<string, string>;
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  name: string;
  kind: string;
  start_ns: number;
  end_ns: number;
  status: { code?: string; message?: string };
  attributes: Record<string, unknown>;
}

/** A fresh X-Ray trace header: `[root hex (32), parent (16), header]`. */
function xrayTrace(sampled: boolean): [string, string, string] {
  const hex = (n: number): string =>
    Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const traceId = hex(32);
  const parent = hex(16);
  const header = `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${parent};Sampled=${sampled ? 1 : 0}`;
  return [traceId, parent, header];
}

describe('the runtime records its spans in a deployed function (to the X-Ray daemon, as ADOT sends them)', () => {
  const mark = marker();
  const datagrams: Buffer[] = [];
  let daemon: dgram.Socket;
  let lambda: LocalLambda;
  let cleanup: () => Promise<void>;

  /** An AgentCore call of a fault tool in the trace of an X-Ray header; the tool's text. */
  async function call(
    tool: string,
    header: string,
    args: Record<string, unknown> = {},
  ): Promise<{ text: string; isError: boolean }> {
    const trace = fromXRayHeader(header);
    assert.ok(trace);
    const outcome = await lambda.invoke('mcp-server-fault', args, {
      clientContext: { custom: { bedrockAgentCoreToolName: `fault___${tool}` } },
      trace,
    });
    const payload = outcome.payload as { content?: { text?: string }[]; isError?: boolean };
    return {
      text: (payload.content ?? []).map((c) => c.text ?? '').join(''),
      isError: payload.isError === true,
    };
  }

  /** Every span the daemon has received so far, decoded. */
  async function received(): Promise<DecodedSpan[]> {
    if (datagrams.length === 0) return [];
    const child = execFile(path.join(PYTHON_TOOLS_DIR, 'bin', 'python'), [DECODER]);
    const out = new Promise<string>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => {
        if (code === 0) resolve(stdout);
        else reject(new Error(`the decoder failed (${String(code)}): ${stderr}`));
      });
    });
    child.stdin?.end(datagrams.map((d) => d.toString('base64')).join('\n') + '\n');
    return JSON.parse(await out) as DecodedSpan[];
  }

  const spansOf = async (traceId: string, count: number): Promise<DecodedSpan[]> =>
    eventually(
      async () => {
        const spans = (await received()).filter((s) => s.trace_id === traceId);
        return spans.length >= count ? spans : undefined;
      },
      { what: `${count} span(s) of trace ${traceId} at the daemon`, timeoutMs: 20_000 },
    );

  before(async () => {
    daemon = dgram.createSocket('udp4');
    daemon.on('message', (m) => datagrams.push(m));
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    const file = path.join(dir, 'servers.yaml');
    await writeFile(
      file,
      `servers:
  fault:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FAULT_SERVER)}]
    env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
`,
    );
    const config = await loadConfigOrThrow(file);
    lambda = new LocalLambda(config.servers, {
      workDir: path.join(dir, 'work'),
      cwd: dir,
      env: {
        ...process.env,
        ...mark.env,
        POWERTOOLS_METRICS_DISABLED: 'true',
        // What Lambda sets in a function with active tracing.
        AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
      },
    });
  });

  after(async () => {
    await lambda.shutdown();
    await assertNoneLeft(mark.value);
    daemon.close();
    await cleanup();
  });

  test('a sampled call: a span under Lambda’s, which the server gets as its parent; the cold start’s init', async () => {
    const [traceId, parent, header] = xrayTrace(true);
    const result = await call('info', header);
    const spans = await spansOf(traceId, 2);
    for (const s of spans) {
      assert.equal(s.prefix, 'T1S', 'sampled spans, as ADOT marks them');
      assert.equal(s.parent_span_id, parent, `${s.name} hangs under Lambda's segment`);
      assert.equal(s.resource['service.name'], 'mcp-server-fault');
      assert.equal(s.resource['cloud.platform'], 'aws_lambda');
      assert.equal(s.resource['mcp_fleet.server_id'], 'fault');
    }
    const span = spans.find((s) => s.name === 'tools/call info');
    assert.ok(span, JSON.stringify(spans.map((s) => s.name)));
    assert.equal(span.kind, 'SPAN_KIND_CLIENT');
    assert.equal(span.attributes['gen_ai.tool.name'], 'info');
    assert.equal(span.attributes['mcp.method.name'], 'tools/call');
    assert.ok(span.end_ns > span.start_ns);
    // The server joined the trace under the runtime's span.
    const meta = (JSON.parse(result.text) as { meta: { traceparent: string } }).meta;
    assert.equal(meta.traceparent, `00-${traceId}-${span.span_id}-01`);
    // The first invocation paid for the server's start: its init span ends before the call's.
    const init = spans.find((s) => s.name === 'init');
    assert.ok(init, 'a cold start has an init span');
    assert.ok(init.end_ns <= span.end_ns && init.start_ns < init.end_ns);
    assert.ok(Number(init.attributes['process.pid']) > 0);
  });

  test('a warm call has no init span; a failed call’s span carries the error', async () => {
    const [traceId, , header] = xrayTrace(true);
    const result = await call('nope', header);
    assert.equal(result.isError, true);
    const [span, ...more] = await spansOf(traceId, 1);
    assert.ok(span);
    assert.deepEqual(more, []);
    assert.equal(span.name, 'tools/call nope');
    assert.equal(span.status.code, 'STATUS_CODE_ERROR');
    assert.equal(span.attributes['error.type'], '-32602');
  });

  test('an unsampled trace records nothing, yet the server still joins it', async () => {
    const [unsampled, parent, header] = xrayTrace(false);
    const result = await call('info', header);
    const meta = (JSON.parse(result.text) as { meta: { traceparent: string } }).meta;
    assert.equal(meta.traceparent, `00-${unsampled}-${parent}-00`);
    // A sampled call after it is received; the unsampled one never was.
    const [sampled, , next] = xrayTrace(true);
    await call('echo', next, { text: 'x' });
    await spansOf(sampled, 1);
    assert.deepEqual(
      (await received()).filter((s) => s.trace_id === unsampled),
      [],
    );
  });
});
