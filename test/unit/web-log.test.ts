/**
 * A web function's platform log on its own (the test's clock): the schema's envelope on every
 * event, the spin-down's two events with its duration and status, and what each system log level
 * keeps.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WebPlatformLog, type SystemLogLevel } from '../../src/local/lambda/web-log.js';
import { ManualClock } from '../support/clock.js';

interface Logged {
  timestamp: string;
  level: string;
  type: string;
  region: string;
  record: Record<string, unknown>;
}

function logOf(level: SystemLogLevel): { log: WebPlatformLog; clock: ManualClock; lines: Logged[] } {
  const clock = new ManualClock();
  const lines: Logged[] = [];
  const log = new WebPlatformLog({
    write: (line) => lines.push(JSON.parse(line) as Logged),
    clock,
    level,
    functionName: 'mcp-server-web',
    region: 'eu-west-1',
  });
  return { log, clock, lines };
}

const env = { id: 'e1', peakBytes: 64 * 1024 * 1024 };

describe("a web function's platform log", () => {
  test('a shutdown: the serving report, then spinDownStart and spinDownReport with its duration and status', async () => {
    const { log, clock, lines } = logOf('INFO');
    log.initStart(env.id, 'mcp-fleet-local (Node.js v24)');
    log.initReport(env, { status: 'success', durationMs: 12 });
    log.spinDownStart(env.id);
    log.spinDownStart(env.id);
    await clock.advance(250);
    log.spinDownReport(env.id, 'success');
    log.spinDownReport(env.id, 'success');
    log.gone(env.id);
    assert.deepEqual(
      lines.map((l) => l.type),
      [
        'platform.initStart',
        'platform.initReport',
        'platform.invokeStart',
        'platform.invokeReport',
        'platform.spinDownStart',
        'platform.spinDownReport',
      ],
      'each once, in order; nothing after the spin-down',
    );
    const report = lines.at(-1);
    assert.deepEqual(report?.record, { instanceId: 'e1', status: 'success', durationMs: 250 });
    for (const l of lines) {
      assert.deepEqual(Object.keys(l), ['timestamp', 'level', 'type', 'region', 'record']);
      assert.equal(l.region, 'eu-west-1');
      assert.equal(l.level, 'INFO');
    }
    assert.equal(lines[0]?.record['functionName'], 'mcp-server-web');
    assert.match(String(lines[0]?.record['runtimeVersionArn']), /^arn:aws:lambda:eu-west-1::runtime:/);
  });

  test('WARN keeps only a failed init and a shutdown that had to kill; DEBUG adds each request', () => {
    const warn = logOf('WARN');
    warn.log.initStart('e1', 'v');
    warn.log.initReport({ id: 'e1', peakBytes: 0 }, { status: 'success', durationMs: 1 });
    warn.log.spinDownStart('e1');
    warn.log.spinDownReport('e1', 'success');
    warn.log.initStart('e2', 'v');
    warn.log.initReport({ id: 'e2', peakBytes: 0 }, { status: 'timeout', durationMs: 10_000 });
    warn.log.spinDownStart('e2');
    warn.log.spinDownReport('e2', 'timeout');
    assert.deepEqual(
      warn.lines.map((l) => [l.type, l.level, l.record['instanceId'], l.record['status']]),
      [
        ['platform.initReport', 'WARN', 'e2', 'timeout'],
        ['platform.spinDownReport', 'WARN', 'e2', 'timeout'],
      ],
    );
    const debug = logOf('DEBUG');
    debug.log.initReport(env, { status: 'success', durationMs: 1 });
    debug.log.requestStart(env.id);
    debug.log.requestEnd(env.id, 'r1', 3, 'success');
    assert.deepEqual(
      debug.lines.map((l) => [l.type, l.level]),
      [
        ['platform.initReport', 'INFO'],
        ['platform.invokeStart', 'INFO'],
        ['platform.requestComplete', 'DEBUG'],
      ],
    );
  });
});
