/**
 * A tool call's record is one line (CallRecordWriter): the `tool call` log line and the call's EMF
 * metrics together. Held field by field to what Powertools' Logger and Metrics print for the same
 * call (a Telemetry given its own Logger and Metrics, configured as the runtime configures them,
 * which writes through the two libraries): every field of both of their records, in the streams
 * they use, in every case the runtime meets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CallRecordWriter, type CallRecord } from '../../src/runtime/call-record.js';
import { Telemetry } from '../../src/runtime/observability.js';
import { Redactor } from '../../src/runtime/redact.js';
import { lambdaContext } from '../support/lambda-context.js';

interface Written {
  stream: 'stdout' | 'stderr';
  record: Record<string, unknown>;
}

/** What `fn` writes to stdout and stderr, each write a JSON line. */
function captured(fn: () => void): Written[] {
  const out: Written[] = [];
  const streams = { stdout: process.stdout, stderr: process.stderr } as const;
  const saved = {
    stdout: Object.getOwnPropertyDescriptor(streams.stdout, 'write'),
    stderr: Object.getOwnPropertyDescriptor(streams.stderr, 'write'),
  };
  for (const name of ['stdout', 'stderr'] as const) {
    Object.defineProperty(streams[name], 'write', {
      configurable: true,
      writable: true,
      value: (chunk: string | Uint8Array): boolean => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        for (const line of text.split('\n'))
          if (line !== '') out.push({ stream: name, record: JSON.parse(line) as Record<string, unknown> });
        return true;
      },
    });
  }
  try {
    fn();
  } finally {
    for (const name of ['stdout', 'stderr'] as const) {
      const d = saved[name];
      if (d === undefined) Reflect.deleteProperty(streams[name], 'write');
      else Object.defineProperty(streams[name], 'write', d);
    }
  }
  return out;
}

/** Runs `fn` with these environment variables set (undefined: unset), then restores them. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (values: Record<string, string | undefined>): void => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
    }
  };
  set(vars);
  try {
    return fn();
  } finally {
    set(before);
  }
}

const SERVER = 'everything';
const powertools = (): { logger: Logger; metrics: Metrics } => ({
  logger: new Logger({ serviceName: `mcp-server-${SERVER}`, persistentKeys: { serverId: SERVER } }),
  metrics: new Metrics({ namespace: 'McpFleet', serviceName: `mcp-server-${SERVER}` }),
});

interface Case {
  name: string;
  record: CallRecord;
  env?: Record<string, string | undefined>;
  /** Whether the call runs inside an invocation (with a Lambda context), and its tenant. */
  invocation?: { tenantId?: string };
  secrets?: Record<string, string>;
}

const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
const ok: CallRecord = { tool: 'echo', method: 'tools/call', durationMs: 0.4123, front: 'agentcore' };
const failed: CallRecord = { ...ok, error: 'tool returned isError' };

const CASES: Case[] = [
  { name: 'a call in an invocation', record: ok, invocation: {} },
  { name: 'a failed call', record: failed, invocation: {} },
  { name: 'a call with an X-Ray trace header', record: ok, invocation: {}, env: { _X_AMZN_TRACE_ID: TRACE } },
  { name: 'a tenant', record: ok, invocation: { tenantId: 'tenant-a' } },
  { name: 'a call outside any invocation', record: ok },
  {
    name: 'log level WARN: the EMF record alone',
    record: ok,
    invocation: {},
    env: { POWERTOOLS_LOG_LEVEL: 'WARN' },
  },
  {
    name: 'log level WARN, a failed call',
    record: failed,
    invocation: {},
    env: { POWERTOOLS_LOG_LEVEL: 'WARN' },
  },
  {
    name: 'log level ERROR, metrics off: nothing',
    record: failed,
    env: { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' },
  },
  {
    name: 'metrics off: the log line alone',
    record: failed,
    invocation: {},
    env: { POWERTOOLS_METRICS_DISABLED: 'true' },
  },
  {
    name: "a function's environment, as Lambda and the stack set it",
    record: ok,
    invocation: {},
    env: {
      TZ: ':UTC',
      POWERTOOLS_SERVICE_NAME: 'mcp-fleet-everything',
      POWERTOOLS_METRICS_NAMESPACE: 'Other',
      AWS_LAMBDA_FUNCTION_NAME: 'mcp-fleet-everything',
      _X_AMZN_TRACE_ID: TRACE,
    },
  },
  { name: 'TZ=:UTC, as Lambda sets it', record: ok, invocation: {}, env: { TZ: ':UTC' } },
  {
    name: 'a secret in the error',
    record: { ...failed, error: 'token s3cr3t-value rejected' },
    invocation: {},
    secrets: { TOKEN: 's3cr3t-value' },
  },
  // Two lines, as the two libraries write them: the log's tool ('' is left out) and the dimension differ.
  {
    name: 'not a tool call',
    record: { tool: '', method: 'tools/list', durationMs: 2, front: 'mcp' },
    invocation: {},
  },
  {
    name: "a web function's request that failed",
    record: { tool: '', method: 'http', durationMs: 3, front: 'web', error: 'HTTP 500' },
    invocation: {},
  },
  {
    name: 'not a tool call, metrics off: the log line alone',
    record: { tool: '', method: 'http', durationMs: 3, front: 'web' },
    env: { POWERTOOLS_METRICS_DISABLED: 'true' },
  },
  {
    name: 'not a tool call, log level WARN: the EMF record alone',
    record: { tool: '', method: 'http', durationMs: 3, front: 'web' },
    env: { POWERTOOLS_LOG_LEVEL: 'WARN' },
  },
  {
    name: 'a redacted tool name',
    record: { ...ok, tool: 'run-s3cr3t-value' },
    invocation: {},
    secrets: { TOKEN: 's3cr3t-value' },
  },
];

/** What a Telemetry writes for the case's call: its own (one line) or Powertools' (given them). */
function written(c: Case, own: boolean): Written[] {
  return withEnv({ _X_AMZN_TRACE_ID: undefined, POWERTOOLS_DEV: undefined, ...c.env }, () => {
    const redactor = new Redactor();
    redactor.add(c.secrets ?? {});
    const telemetry = new Telemetry(SERVER, own ? { redactor } : { ...powertools(), redactor });
    if (c.invocation !== undefined) {
      const context = { ...lambdaContext(), awsRequestId: 'req-1' };
      if (c.invocation.tenantId !== undefined) context.tenantId = c.invocation.tenantId;
      captured(() => {
        telemetry.startInvocation(context, 'agentcore');
      });
    }
    const lines = captured(() => {
      telemetry.call({ ...c.record });
    });
    telemetry.endInvocation();
    return lines;
  });
}

/** A record without its times (the two writers make them a moment apart). */
function timeless(r: Record<string, unknown>): Record<string, unknown> {
  const { timestamp: _t, ...copy } = r;
  const aws = copy['_aws'];
  if (typeof aws === 'object' && aws !== null) {
    const { Timestamp: _at, ...rest } = aws as Record<string, unknown>;
    copy['_aws'] = rest;
  }
  return copy;
}

for (const c of CASES) {
  test(`the call's record matches Powertools' own: ${c.name}`, () => {
    const theirs = written(c, false);
    const ours = written(c, true);
    const merges = c.record.tool !== '' && !(c.secrets !== undefined && c.record.tool.includes('s3cr3t'));
    if (!merges) {
      // Each line as its library writes it, in the same order and streams.
      assert.ok(theirs.length > 0);
      assert.deepEqual(
        ours.map((w) => ({ stream: w.stream, record: timeless(w.record) })),
        theirs.map((w) => ({ stream: w.stream, record: timeless(w.record) })),
      );
      return;
    }
    assert.ok(ours.length <= 1, `one line at most: ${JSON.stringify(ours)}`);
    assert.ok(theirs.length <= 2);
    // Powertools' line and record, as one: every field of each, with the same values.
    const union = Object.assign({}, ...theirs.map((w) => timeless(w.record))) as Record<string, unknown>;
    assert.deepEqual(ours.length === 0 ? {} : timeless(ours[0]?.record ?? {}), union);
    for (const w of theirs)
      for (const [k, v] of Object.entries(timeless(w.record)))
        assert.deepEqual(union[k], v, `${k}: the log line and the EMF record disagree`);
    if (ours.length === 0) return;
    const [line] = ours;
    assert.ok(line);
    // The stream: a WARN line where the Logger writes it (stderr), otherwise stdout.
    const logLine = theirs.find((w) => w.record['message'] === 'tool call');
    assert.equal(line.stream, logLine?.stream ?? 'stdout');
    // The times: an ISO timestamp (UTC) and an EMF epoch-millisecond Timestamp, of the same moment.
    const aws = line.record['_aws'] as { Timestamp: number } | undefined;
    const iso = line.record['timestamp'];
    if (logLine !== undefined) {
      assert.equal(typeof iso, 'string');
      assert.match(iso as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    if (aws !== undefined) {
      assert.ok(Math.abs(aws.Timestamp - Date.now()) < 60_000);
      if (typeof iso === 'string') assert.equal(new Date(iso).getTime(), aws.Timestamp);
    }
  });
}

test('the line is a valid EMF record: each metric a number and each dimension a string at its top', () => {
  const [line] = written(CASES[1] as Case, true);
  assert.ok(line);
  const aws = line.record['_aws'] as {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  const [directive] = aws.CloudWatchMetrics;
  assert.ok(directive);
  assert.equal(directive.Namespace, 'McpFleet');
  assert.deepEqual([...(directive.Dimensions[0] ?? [])].sort(), ['server', 'service', 'tool']);
  for (const name of directive.Dimensions.flat()) assert.equal(typeof line.record[name], 'string', name);
  assert.deepEqual(
    directive.Metrics.map((m) => m.Name),
    ['ToolCalls', 'ToolErrors', 'ToolLatency'],
  );
  for (const m of directive.Metrics) assert.equal(typeof line.record[m.Name], 'number', m.Name);
  assert.equal(line.record['ToolErrors'], 1);
  assert.equal(line.record['error'], 'tool returned isError');
});

test("where its line could differ from Powertools', the writer is not used", () => {
  const { logger, metrics } = powertools();
  const make = (env: Record<string, string | undefined>): CallRecordWriter | undefined =>
    withEnv(env, () => CallRecordWriter.create(SERVER, logger, metrics, { ...process.env, ...env }));
  assert.ok(make({ TZ: undefined, POWERTOOLS_DEV: undefined }), 'the plain case');
  assert.equal(make({ TZ: 'Europe/Paris' }), undefined, 'another time zone: an offset timestamp');
  assert.equal(make({ POWERTOOLS_LOGGER_SAMPLE_RATE: '0.5' }), undefined, 'log sampling');
  assert.equal(make({ POWERTOOLS_DEV: 'true' }), undefined, 'dev mode: pretty-printed lines');
  // A Telemetry given another Logger or Metrics writes through them.
  const custom = new Logger({ serviceName: 'custom' });
  const lines = withEnv({ _X_AMZN_TRACE_ID: undefined }, () =>
    captured(() => {
      new Telemetry(SERVER, { logger: custom }).call({ ...ok });
    }),
  );
  assert.deepEqual(
    lines.map((l) => [l.record['message'] ?? 'emf', l.record['service']]),
    [
      ['tool call', 'custom'],
      ['emf', `mcp-server-${SERVER}`],
    ],
  );
});
