import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { LocalTracing } from '../../src/local/lambda/tracing.js';

test("dev's span ids: hex of the right length, never all zeros, distinct across many pools of random bytes", () => {
  const tracing = new LocalTracing();
  const traces = new Set<string>();
  const spans = new Set<string>();
  // 3,000 roots and their children: ids drawn from several 4 KiB pools.
  for (let i = 0; i < 3000; i++) {
    const root = tracing.start('root');
    const child = root.child('child');
    for (const id of [root.spanContext().spanId, child.spanContext().spanId]) {
      assert.match(id, /^[0-9a-f]{16}$/);
      assert.notEqual(id, '0'.repeat(16));
      spans.add(id);
    }
    assert.match(root.traceId, /^[0-9a-f]{32}$/);
    assert.equal(child.traceId, root.traceId);
    traces.add(root.traceId);
  }
  assert.equal(traces.size, 3000);
  assert.equal(spans.size, 6000);
});

test("dev's span times, as the SDK's processors read them: start, end and duration agree; none before the end", async () => {
  const exporter = new InMemorySpanExporter();
  // The ended spans read as an exporter reads them.
  const tracing = new LocalTracing({ processors: [new SimpleSpanProcessor({ exporter })] });
  const before = Date.now();
  const root = tracing.start('root', { kind: SpanKind.SERVER, attributes: { a: 1 } });
  assert.deepEqual(root.endTime, [0, 0], 'not ended: no end time');
  assert.deepEqual(root.duration, [0, 0], 'not ended: no duration');
  const past = root.childFrom('waited', before - 250);
  await new Promise((r) => setTimeout(r, 20));
  past.end();
  root.end();
  root.end('a second end changes nothing');
  const [waited, ended] = exporter.getFinishedSpans();
  assert.ok(waited !== undefined && ended !== undefined);
  assert.equal(ended.name, 'root');
  assert.equal(ended.status.code, 0, 'the second end did not mark it failed');
  for (const span of [waited, ended]) {
    const start = hrTimeToMilliseconds(span.startTime);
    const end = hrTimeToMilliseconds(span.endTime);
    const duration = hrTimeToMilliseconds(span.duration);
    assert.ok(Math.abs(end - start - duration) < 0.01, `${span.name}: end − start = duration`);
    assert.ok(span.startTime[1] >= 0 && span.startTime[1] < 1e9, 'nanoseconds within a second');
  }
  assert.ok(
    Math.abs(hrTimeToMilliseconds(waited.startTime) - (before - 250)) < 1,
    'began when it was said to',
  );
  assert.ok(hrTimeToMilliseconds(waited.duration) >= 269, 'its wait counted from then');
  const started = hrTimeToMilliseconds(ended.startTime);
  assert.ok(started >= before - 1 && started <= Date.now(), 'the root began now');
  assert.ok(hrTimeToMilliseconds(ended.duration) >= 19, 'and ran until it ended');
  // What /status shows is read from the same times.
  const [trace] = tracing.traces();
  assert.ok(trace !== undefined);
  const first = hrTimeToMilliseconds(waited.startTime);
  const last = Math.max(hrTimeToMilliseconds(waited.endTime), hrTimeToMilliseconds(ended.endTime));
  assert.ok(Math.abs(trace.startMs - first) < 0.01 && Math.abs(trace.durationMs - (last - first)) < 0.01);
});
