/**
 * Several invocations at once on one handler (Lambda Managed Instances: one worker thread takes
 * many; requests on it share the handler and its Telemetry): every log line and metric record of
 * an invocation carries its own request id, front and cold start, whatever the others do
 * meanwhile — one ending does not take the keys of another still running.
 */
import assert from 'node:assert/strict';
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { test } from 'node:test';
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Telemetry } from '../../src/runtime/observability.js';
import { lambdaContext } from '../support/lambda-context.js';

/** Powertools' Logger, its lines kept (as they would be printed) instead of printed. */
class CapturingLogger extends Logger {
  readonly lines: Record<string, unknown>[] = [];
  protected override printLog(_level: number, log: LogItem): void {
    log.prepareForPrint();
    this.lines.push(JSON.parse(JSON.stringify(log.getAttributes())) as Record<string, unknown>);
  }
}

/** Powertools' Metrics, each EMF record kept instead of printed. */
class CapturingMetrics extends Metrics {
  readonly records: Record<string, unknown>[] = [];
  /** Powertools' verdict: metrics turned off. */
  get off(): boolean {
    return this.isDisabled();
  }
  override publishStoredMetrics(): this {
    this.records.push(this.serializeMetrics());
    this.clearMetrics();
    this.clearDimensions();
    return this;
  }
}

/** A step the test lets happen when it chooses. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/**
 * One invocation as the handler runs it: start, then (after the test lets it) a log line and the
 * call's record, then the end.
 */
async function invocation(
  telemetry: Telemetry,
  requestId: string,
  tool: string,
  proceed: Promise<void>,
): Promise<void> {
  const context = { ...lambdaContext(), awsRequestId: requestId };
  telemetry.startInvocation(context, 'agentcore');
  try {
    await proceed;
    telemetry.log.info('working', { tool });
    telemetry.call({ tool, method: 'tools/call', front: 'agentcore', durationMs: 1 });
  } finally {
    telemetry.endInvocation();
  }
}

test('two overlapping invocations: each line and record carries its own request id', async () => {
  const logger = new CapturingLogger({ serviceName: 'mcp-server-t', persistentKeys: { serverId: 't' } });
  const metrics = new CapturingMetrics({ namespace: 'Test', serviceName: 'mcp-server-t' });
  const telemetry = new Telemetry('t', { logger, metrics });
  const [a, b] = [gate(), gate()];
  // A starts, then B; B finishes first, then A.
  const first = invocation(telemetry, 'req-a', 'tool-a', a.opened);
  const second = invocation(telemetry, 'req-b', 'tool-b', b.opened);
  b.open();
  await second;
  a.open();
  await first;

  const byMessage = (message: string) =>
    logger.lines.filter((l) => l['message'] === message).map((l) => [l['function_request_id'], l['tool']]);
  assert.deepEqual(byMessage('working'), [
    ['req-b', 'tool-b'],
    ['req-a', 'tool-a'],
  ]);
  assert.deepEqual(byMessage('tool call'), [
    ['req-b', 'tool-b'],
    ['req-a', 'tool-a'],
  ]);
  for (const line of logger.lines.filter((l) => l['message'] !== 'invocation started')) {
    assert.equal(line['front'], 'agentcore', JSON.stringify(line));
    assert.equal(line['serverId'], 't');
    assert.equal(line['function_name'], 'mcp-server-test');
    // The cold start is the first invocation's, and only its.
    assert.equal(line['coldStart'], line['function_request_id'] === 'req-a', JSON.stringify(line));
    assert.equal(line['cold_start'], line['coldStart']);
  }
  assert.deepEqual(
    metrics.records.map((r) => [r['tool'], r['server']]),
    [
      ['tool-b', 't'],
      ['tool-a', 't'],
    ],
  );
});

test('a line written outside every invocation: the keys of the one running, none when several are', async () => {
  const logger = new CapturingLogger({ serviceName: 'mcp-server-t' });
  const telemetry = new Telemetry('t', { logger, metrics: new CapturingMetrics({ namespace: 'Test' }) });
  // The server's stderr: a stream opened at init, its lines logged outside every invocation.
  const stderr = new AsyncResource('server-stderr');
  const write = (message: string): void => {
    stderr.runInAsyncScope(() => {
      telemetry.log.info(message);
    });
  };
  const [a, b] = [gate(), gate()];
  write('none running');
  const first = invocation(telemetry, 'req-a', 'x', a.opened);
  write('one running');
  const second = invocation(telemetry, 'req-b', 'x', b.opened);
  write('two running');
  b.open();
  await second;
  write('one left');
  a.open();
  await first;
  write('none left');
  const requestOf = (message: string): unknown =>
    logger.lines.find((l) => l['message'] === message)?.['function_request_id'];
  assert.equal(requestOf('none running'), undefined);
  assert.equal(requestOf('one running'), 'req-a');
  assert.equal(requestOf('two running'), undefined, 'which one wrote it is not known');
  assert.equal(requestOf('one left'), 'req-a');
  assert.equal(requestOf('none left'), undefined);
});

test("a line below the Logger's level is dropped before the Logger is asked; the level is read per line", () => {
  /** Counts the lines Powertools' Logger is asked to write, printed or not. */
  class CountingLogger extends CapturingLogger {
    asked = 0;
    protected override processLogItem(...args: Parameters<Logger['processLogItem']>): void {
      this.asked += 1;
      super.processLogItem(...args);
    }
  }
  const logger = new CountingLogger({ serviceName: 'mcp-server-t', logLevel: 'WARN' });
  const telemetry = new Telemetry('t', { logger, metrics: new CapturingMetrics({ namespace: 'Test' }) });
  telemetry.startInvocation(lambdaContext(), 'agentcore');
  telemetry.call({ tool: 'x', method: 'tools/call', front: 'agentcore', durationMs: 1 });
  assert.equal(logger.asked, 0, 'debug and info lines at WARN');
  telemetry.call({ tool: 'x', method: 'tools/call', front: 'agentcore', durationMs: 1, error: 'boom' });
  assert.deepEqual(
    logger.lines.map((l) => [l['level'], l['message']]),
    [['WARN', 'tool call']],
  );
  logger.setLogLevel('DEBUG');
  telemetry.log.debug('now shown');
  telemetry.call({ tool: 'x', method: 'tools/call', front: 'agentcore', durationMs: 1 });
  assert.equal(logger.asked, 3, 'the WARN line, then the two at DEBUG');
  assert.deepEqual(
    logger.lines.slice(1).map((l) => [l['level'], l['message']]),
    [
      ['DEBUG', 'now shown'],
      ['INFO', 'tool call'],
    ],
  );
  telemetry.endInvocation();
});

test('metrics turned off (POWERTOOLS_METRICS_DISABLED): nothing is built for them, and the log lines are still written', () => {
  const saved = process.env['POWERTOOLS_METRICS_DISABLED'];
  const make = (disabled: boolean): CapturingMetrics => {
    process.env['POWERTOOLS_METRICS_DISABLED'] = String(disabled);
    try {
      return new CapturingMetrics({ namespace: 'Test', serviceName: 'mcp-server-t' });
    } finally {
      if (saved === undefined) delete process.env['POWERTOOLS_METRICS_DISABLED'];
      else process.env['POWERTOOLS_METRICS_DISABLED'] = saved;
    }
  };
  for (const disabled of [true, false]) {
    const logger = new CapturingLogger({ serviceName: 'mcp-server-t' });
    const metrics = make(disabled);
    assert.equal(metrics.off, disabled);
    const telemetry = new Telemetry('t', { logger, metrics });
    telemetry.startInvocation(lambdaContext(), 'agentcore');
    telemetry.call({ tool: 'echo', method: 'tools/call', front: 'agentcore', durationMs: 2 });
    telemetry.serverStarted(120, 42);
    telemetry.callTimedOut('took too long');
    telemetry.serverCrashed('exit 1');
    telemetry.endInvocation();
    // When metrics are on: the call's record, the start's two, the timeout's and the crash's; none
    // (not even an empty one) when they are off.
    assert.equal(metrics.records.length, disabled ? 0 : 5, `disabled: ${String(disabled)}`);
    assert.deepEqual(
      logger.lines.map((l) => l['message']),
      ['tool call', 'server started', 'call timed out', 'server crashed'],
    );
  }
});

test('every Telemetry of a process enters one async store, and sees only its own invocations in it', async () => {
  // On Node.js 20 each AsyncLocalStorage entered stays in the list every new promise copies its
  // stores from: one per handler made each handler created slow down the calls of later ones.
  const entered = new Set<AsyncLocalStorage<unknown>>();
  const proto = AsyncLocalStorage.prototype as {
    enterWith(this: AsyncLocalStorage<unknown>, store: unknown): void;
  };
  const enterWith = Object.getOwnPropertyDescriptor(proto, 'enterWith');
  assert.ok(enterWith !== undefined && typeof enterWith.value === 'function');
  const original = enterWith.value as (this: AsyncLocalStorage<unknown>, store: unknown) => void;
  proto.enterWith = function (this: AsyncLocalStorage<unknown>, store: unknown) {
    entered.add(this);
    original.call(this, store);
  };
  const loggers: CapturingLogger[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const logger = new CapturingLogger({ serviceName: `mcp-server-${i}` });
      loggers.push(logger);
      const telemetry = new Telemetry(String(i), {
        logger,
        metrics: new CapturingMetrics({ namespace: 'Test' }),
      });
      await invocation(telemetry, `req-${i}`, 'x', Promise.resolve());
    }
  } finally {
    Object.defineProperty(proto, 'enterWith', enterWith);
  }
  assert.equal(entered.size, 1, 'one store for all five');

  // Two at once in one async chain: each line carries its own Telemetry's invocation, or none.
  const [a, b] = [new CapturingLogger({ serviceName: 'a' }), new CapturingLogger({ serviceName: 'b' })];
  const ta = new Telemetry('a', { logger: a, metrics: new CapturingMetrics({ namespace: 'Test' }) });
  const tb = new Telemetry('b', { logger: b, metrics: new CapturingMetrics({ namespace: 'Test' }) });
  await (async () => {
    ta.startInvocation({ ...lambdaContext(), awsRequestId: 'req-a' }, 'agentcore');
    tb.startInvocation({ ...lambdaContext(), awsRequestId: 'req-b' }, 'agentcore');
    await Promise.resolve();
    ta.log.info('from a');
    tb.log.info('from b');
    ta.endInvocation();
    tb.endInvocation();
  })();
  assert.equal(a.lines.find((l) => l['message'] === 'from a')?.['function_request_id'], 'req-a');
  assert.equal(b.lines.find((l) => l['message'] === 'from b')?.['function_request_id'], 'req-b');
  for (const logger of loggers)
    assert.ok(
      logger.lines.some((l) => l['message'] === 'working' && typeof l['function_request_id'] === 'string'),
    );
});
