// The local Lambda function's life cycle in process: scripted environments and a manual clock
// drive the pool (warm reuse, concurrency limit, queue, throttle, a caller that gives up), the
// init phase (Lambda's 10 s, then init inside the invocation), the function timeout, memory and
// the report lines. No processes, no waiting on the machine's time.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { ServerConfig } from '../../src/config/model.js';
import {
  INIT_TIMEOUT_MS,
  LocalFunction,
  ThrottledError,
  type InvokeOutcome,
} from '../../src/local/lambda/function.js';
import { CallerGoneError, FREEZE_AFTER_IDLE_MS } from '../../src/local/lambda/pool.js';
import type { InvokeMessage, InvokeReply } from '../../src/local/lambda/worker-protocol.js';
import { ManualClock, settle } from '../support/clock.js';
import { splitIntegration } from '../support/integration.js';
import { result, scriptedEnvironments, type EnvironmentScript } from '../support/scripted-environment.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'mcp-fleet-unit-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
});

function server(extra = ''): ServerConfig {
  const { config, problems } = parseConfig(`scripted:\n  command: scripted-server\n${extra}`);
  const s = config?.servers[0];
  assert.ok(s, JSON.stringify(problems));
  return s;
}

let n = 0;
function fn(
  script: EnvironmentScript | ((i: number) => EnvironmentScript),
  opts: {
    extra?: string;
    concurrency?: number;
    queueLimit?: number;
    freeze?: boolean;
    initTimeoutMs?: number;
  } = {},
) {
  const clock = new ManualClock();
  const envs = scriptedEnvironments(script);
  const f = new LocalFunction(server(opts.extra), {
    workDir: path.join(work, String(++n)),
    cwd: work,
    region: 'us-east-1',
    environments: envs.factory,
    clock,
    freeze: opts.freeze ?? true,
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.queueLimit !== undefined ? { queueLimit: opts.queueLimit } : {}),
    ...(opts.initTimeoutMs !== undefined ? { initTimeoutMs: opts.initTimeoutMs } : {}),
  });
  const log = async (): Promise<string> => {
    await f.logFlushed();
    return readFileSync(path.join(work, String(n), 'scripted', 'function.log'), 'utf8');
  };
  return { f, clock, envs, log };
}

/** Answers held until the test releases them, per event. */
function held(): {
  script: EnvironmentScript;
  release: (event: unknown, payload?: unknown) => void;
  waiting: () => unknown[];
} {
  const open = new Map<string, (r: InvokeReply) => void>();
  const msgs = new Map<string, InvokeMessage>();
  return {
    script: {
      answer: (msg) =>
        new Promise<InvokeReply>((resolve) => {
          open.set(JSON.stringify(msg.event), resolve);
          msgs.set(JSON.stringify(msg.event), msg);
        }),
    },
    release: (event, payload = { ok: event }) => {
      const key = JSON.stringify(event);
      const msg = msgs.get(key);
      assert.ok(msg, `an invocation of ${key} is running`);
      open.get(key)?.(result(msg, payload));
      open.delete(key);
    },
    waiting: () => [...open.keys()].map((k) => JSON.parse(k) as unknown),
  };
}

/** An answer (the event) `ms` after the invocation reaches the environment, on the function's clock. */
const answerAfter =
  (ms: number): EnvironmentScript['answer'] =>
  (msg, env) =>
    new Promise<InvokeReply>((resolve) => {
      env.spec.clock.setTimeout(() => {
        resolve(result(msg, msg.event));
      }, ms);
    });

/**
 * Moves the clock `ms` forward: the call has no answer 1 ms before, and has one then (the test
 * moves the clock; nothing else waits).
 */
async function answeredAfter(
  call: Promise<InvokeOutcome>,
  clock: ManualClock,
  ms: number,
  what: string,
): Promise<InvokeOutcome> {
  const box: { outcome?: InvokeOutcome } = {};
  void call.then((o) => (box.outcome = o));
  await clock.advance(ms - 1);
  assert.equal(box.outcome, undefined, `not answered 1 ms before: ${what}`);
  await clock.advance(1);
  assert.ok(box.outcome, `answered: ${what}`);
  return box.outcome;
}

describe('the pool: warm reuse, the concurrency limit, the queue and throttling', () => {
  test('a second call reuses the warm environment; only the first is a cold start', async () => {
    const { f, envs } = fn({});
    const first = await f.invoke({ a: 1 });
    const second = await f.invoke({ a: 2 });
    assert.equal(first.coldStart, true);
    assert.equal(second.coldStart, false);
    assert.deepEqual(second.payload, { a: 2 });
    assert.equal(envs.started.length, 1);
    assert.equal(f.stats.calls, 2);
    assert.equal(f.stats.coldStarts, 1);
    await f.shutdown();
  });

  test('once shut down a function takes no call and starts no environment', async () => {
    const { f, envs } = fn({});
    await f.invoke({ a: 1 });
    await f.shutdown();
    await assert.rejects(f.invoke({ a: 2 }), /shutting down/);
    assert.equal(envs.started.length, 1);
    assert.equal(envs.started[0]?.state, 'stopped');
  });

  test('an environment whose start was under way when the function shut down is stopped too', async () => {
    const { f, envs, clock } = fn({ initMs: 500 });
    const call = f.invoke({ a: 1 });
    call.catch(() => undefined);
    await settle();
    assert.equal(envs.started.length, 1, 'the cold start began');
    await f.shutdown();
    await clock.advance(500);
    const outcome = await call.catch((err: unknown) => err);
    assert.ok(
      outcome instanceof Error || (outcome as InvokeOutcome).functionError !== undefined,
      `the call did not run: ${JSON.stringify(outcome)}`,
    );
    assert.ok(envs.started[0]?.events.includes('stop'), JSON.stringify(envs.started[0]?.events));
  });

  test('between calls the environment is frozen, and thawed for the next', async () => {
    const { f, envs, clock } = fn({});
    await f.invoke('one');
    await clock.advance(FREEZE_AFTER_IDLE_MS);
    await settle();
    await f.invoke('two');
    await clock.advance(FREEZE_AFTER_IDLE_MS);
    await settle();
    assert.deepEqual(envs.started[0]?.events, [
      'init',
      'invoke "one"',
      'freeze',
      'thaw',
      'invoke "two"',
      'freeze',
    ]);
    await f.shutdown();
  });

  test('a call that comes before the freeze takes the environment as it is; the freeze is for the last idle time', async () => {
    const { f, envs, clock } = fn({});
    await f.invoke('one');
    await clock.advance(FREEZE_AFTER_IDLE_MS - 1);
    await settle();
    assert.ok(!envs.started[0]?.isFrozen, 'not frozen before the delay');
    await f.invoke('two');
    // The first idle time's freeze comes due now: the environment has been idle for 1 ms only.
    await clock.advance(1);
    await settle();
    assert.deepEqual(envs.started[0]?.events, ['init', 'invoke "one"', 'invoke "two"']);
    await clock.advance(FREEZE_AFTER_IDLE_MS);
    await settle();
    assert.deepEqual(envs.started[0]?.events, ['init', 'invoke "one"', 'invoke "two"', 'freeze']);
    await f.shutdown();
  });

  test('of two idle environments a call takes the one used last: it pays no thaw while that one is still warm', async () => {
    const h = held();
    const { f, envs, clock } = fn(h.script, { concurrency: 2 });
    const a = f.invoke('a');
    const b = f.invoke('b');
    await settle();
    const envOf = (call: string) => envs.started.find((e) => e.events.includes(`invoke "${call}"`));
    const [first, last] = [envOf('a'), envOf('b')];
    assert.ok(first && last && first !== last, 'one environment each');
    h.release('a');
    await a;
    await clock.advance(5);
    h.release('b');
    await b;
    // The first has been idle for 12 ms (frozen), the last for 7 ms (not yet).
    await clock.advance(FREEZE_AFTER_IDLE_MS - 3);
    await settle();
    assert.equal(first.events.at(-1), 'freeze');
    assert.equal(last.events.at(-1), 'invoke "b"');
    const c = f.invoke('c');
    await settle();
    h.release('c');
    assert.equal((await c).coldStart, false);
    assert.deepEqual(last.events.slice(-2), ['invoke "b"', 'invoke "c"'], 'the warm one, without a thaw');
    assert.equal(first.events.at(-1), 'freeze', 'the frozen one left as it is');
    await f.shutdown();
  });

  test('with freezing off, an idle environment is never frozen', async () => {
    const { f, envs, clock } = fn({}, { freeze: false });
    await f.invoke('one');
    await clock.advance(FREEZE_AFTER_IDLE_MS);
    await settle();
    assert.ok(!envs.started[0]?.events.includes('freeze'));
    await f.shutdown();
  });

  test('at the limit calls queue; past the queue they are throttled; a freed environment goes to the next call warm', async () => {
    const h = held();
    const { f, envs } = fn(h.script, { concurrency: 2, queueLimit: 1 });
    const a = f.invoke('a');
    const b = f.invoke('b');
    await settle();
    const c = f.invoke('c');
    await settle();
    assert.equal(envs.started.length, 2, 'two environments at the limit');
    assert.equal(f.environments.queued, 1);
    await assert.rejects(f.invoke('d'), ThrottledError);
    assert.equal(f.stats.throttles, 1);
    h.release('a');
    assert.deepEqual((await a).payload, { ok: 'a' });
    await settle();
    assert.deepEqual(h.waiting().sort(), ['b', 'c']);
    h.release('c');
    const third: InvokeOutcome = await c;
    assert.equal(third.coldStart, false, 'the queued call got the freed environment, warm');
    assert.equal(envs.started.length, 2, 'no third environment');
    assert.ok(!envs.started[0]?.events.includes('freeze'), 'handed on, not frozen in between');
    h.release('b');
    await b;
    await f.shutdown();
  });

  test('a queued caller that gives up leaves the queue (CallerGoneError); the others are served', async () => {
    const h = held();
    const { f } = fn(h.script, { concurrency: 1, queueLimit: 4 });
    const a = f.invoke('a');
    await settle();
    const gaveUp = new AbortController();
    const b = f.invoke('b', { signal: gaveUp.signal });
    const c = f.invoke('c');
    await settle();
    assert.equal(f.environments.queued, 2);
    gaveUp.abort(new Error('its deadline passed'));
    await assert.rejects(
      b,
      (err: unknown) => err instanceof CallerGoneError && /deadline passed/.test(err.message),
    );
    assert.equal(f.environments.queued, 1);
    h.release('a');
    await a;
    await settle();
    h.release('c');
    assert.deepEqual((await c).payload, { ok: 'c' });
    await f.shutdown();
  });

  test('a reserved concurrency of 0 throttles every call', async () => {
    const { f } = fn({}, { extra: '  aws: { reservedConcurrency: 0 }\n' });
    await assert.rejects(f.invoke('x'), ThrottledError);
    await f.shutdown();
  });
});

describe('the function timeout', () => {
  test('a call that does not answer is cut at exactly its timeout: Sandbox.Timedout, the environment killed', async () => {
    const { f, clock, envs, log } = fn({ answer: () => undefined }, { extra: '  timeout: 3\n' });
    const outcome = await answeredAfter(f.invoke('hang'), clock, 3_000, 'at its timeout, 3 s');
    assert.equal(outcome.functionError, 'Unhandled');
    const payload = outcome.payload as { errorType: string; errorMessage: string };
    assert.equal(payload.errorType, 'Sandbox.Timedout');
    assert.match(payload.errorMessage, /Task timed out after 3\.00 seconds/);
    assert.equal(envs.started[0]?.killedBecause, 'timeout');
    assert.equal(f.stats.timeouts, 1);
    assert.match(await log(), /REPORT RequestId: \S+\tDuration: 3000\.00 ms\t.*\tStatus: timeout/);
    await f.shutdown();
  });

  test('a call answered 1 ms before its timeout is not cut: its answer, its environment kept warm', async () => {
    const { f, clock, envs } = fn({ answer: answerAfter(2_999) }, { extra: '  timeout: 3\n' });
    const outcome = await answeredAfter(f.invoke('late'), clock, 2_999, 'at 2.999 s, its own time');
    assert.equal(outcome.functionError, undefined);
    assert.equal(outcome.payload, 'late');
    assert.equal(outcome.report.status, undefined);
    assert.equal(outcome.report.durationMs, 2_999);
    assert.equal(f.stats.timeouts, 0);
    assert.equal(envs.started[0]?.killedBecause, undefined);
    assert.equal(f.environments.total, 1, 'the environment lives on');
    await f.shutdown();
  });

  test('the next call after a timeout gets a new environment (a cold start)', async () => {
    const { f, clock, envs } = fn((i) => (i === 0 ? { answer: () => undefined } : {}), {
      extra: '  timeout: 1\n',
    });
    const hung = f.invoke('hang');
    await clock.advance(1_000);
    await hung;
    const next = await f.invoke('next');
    assert.equal(next.coldStart, true);
    assert.deepEqual(next.payload, 'next');
    assert.equal(envs.started.length, 2);
    await f.shutdown();
  });
});

describe("the init phase: Lambda's 10 s, then init inside the invocation", () => {
  test('an init that ends before 10 s is the cold start; its duration is reported once', async () => {
    const { f, clock, log } = fn({ initMs: 7_000 });
    const call = f.invoke('x');
    await clock.advance(7_000);
    const outcome = await call;
    assert.equal(outcome.coldStart, true);
    assert.equal(outcome.report.initDurationMs, 7_000);
    assert.equal(f.stats.initTimeouts, 0);
    const second = await f.invoke('y');
    assert.equal(second.report.initDurationMs, undefined);
    assert.doesNotMatch(await log(), /INIT_REPORT/);
    await f.shutdown();
  });

  test('an init past 10 s is cut at exactly 10 s (INIT_REPORT timeout), then run again inside the invocation', async () => {
    const { f, clock, envs, log } = fn({ initMs: 12_000 }, { extra: '  timeout: 30\n' });
    const call = f.invoke('x');
    await clock.advance(INIT_TIMEOUT_MS - 1);
    assert.equal(envs.started.length, 1, 'the first init still runs at 9.999 s');
    await clock.advance(1);
    assert.equal(envs.started[0]?.killedBecause, 'init', 'cut at 10 s');
    assert.equal(envs.started.length, 2, 'init runs again, inside the invocation');
    assert.equal(f.stats.initTimeouts, 1);
    await clock.advance(12_000);
    const outcome = await call;
    assert.deepEqual(outcome.payload, 'x');
    assert.equal(outcome.report.initDurationMs, 12_000);
    const text = await log();
    assert.match(text, /INIT_REPORT Init Duration: 10000\.00 ms\tPhase: init\tStatus: timeout/);
    assert.match(text, /REPORT RequestId: .*\tInit Duration: 12000\.00 ms/);
    await f.shutdown();
  });

  test('an init inside the invocation that outlives the function timeout ends it: Sandbox.Timedout', async () => {
    const { f, clock, log } = fn({ initMs: 60_000 }, { extra: '  timeout: 15\n' });
    const call = f.invoke('x');
    await clock.advance(INIT_TIMEOUT_MS);
    await clock.advance(15_000);
    const outcome = await call;
    assert.equal((outcome.payload as { errorType: string }).errorType, 'Sandbox.Timedout');
    assert.match(await log(), /INIT_REPORT Init Duration: 15000\.00 ms\tPhase: invoke\tStatus: timeout/);
    await f.shutdown();
  });

  test("an init that ends at the runtime's budget (8 s) is not cut; the call then waits inside the invocation for the server still starting", async () => {
    // The runtime lets init end at its budget while the server goes on starting (11 s in all);
    // the first call waits for that same start.
    const { f, clock, envs, log } = fn(
      { initMs: 8_000, answer: answerAfter(3_000) },
      { extra: '  timeout: 30\n' },
    );
    const outcome = await answeredAfter(f.invoke('x'), clock, 11_000, 'once the start is done, at 11 s');
    assert.deepEqual(outcome.payload, 'x');
    assert.equal(outcome.coldStart, true);
    assert.equal(outcome.report.initDurationMs, 8_000, 'Init Duration: the init phase, below 10 s');
    assert.equal(outcome.report.durationMs, 3_000, 'Duration: the wait for the start, inside the invocation');
    assert.equal(outcome.report.billedDurationMs, 11_000);
    assert.equal(outcome.durationMs, 11_000, 'the caller waited for the whole start');
    assert.equal(envs.started.length, 1, 'one environment, one start');
    assert.equal(f.stats.initTimeouts, 0);
    const text = await log();
    assert.doesNotMatch(text, /INIT_REPORT/);
    assert.match(
      text,
      /REPORT RequestId: \S+\tDuration: 3000\.00 ms\tBilled Duration: 11000 ms\t.*\tInit Duration: 8000\.00 ms/,
    );
    await f.shutdown();
  });

  test('an init run again inside the invocation is part of its Duration, billed once', async () => {
    // As the life-cycle test runs it with processes: an init limit of 1 s, an init of 2.5 s.
    const { f, clock, envs, log } = fn(
      { initMs: 2_500, answer: answerAfter(500) },
      { extra: '  timeout: 10\n', initTimeoutMs: 1_000 },
    );
    const call = f.invoke('x');
    await clock.advance(999);
    assert.equal(envs.started[0]?.killedBecause, undefined, 'the first init still runs at 0.999 s');
    await clock.advance(1);
    assert.equal(envs.started[0]?.killedBecause, 'init', 'cut at the init limit');
    const outcome = await answeredAfter(
      call,
      clock,
      3_000,
      'at 4 s: 1 s of init cut, 2.5 s of init again, 0.5 s of call',
    );
    assert.deepEqual(outcome.payload, 'x');
    assert.equal(outcome.report.initDurationMs, 2_500, 'the init inside the invocation took its 2.5 s');
    assert.equal(outcome.report.durationMs, 3_000, "the invocation's Duration includes that init");
    assert.equal(outcome.report.billedDurationMs, 3_000, 'billed once: the init is not added again');
    assert.equal(outcome.durationMs, 4_000);
    const text = await log();
    assert.match(text, /INIT_REPORT Init Duration: 1000\.00 ms\tPhase: init\tStatus: timeout/);
    assert.match(
      text,
      /REPORT RequestId: \S+\tDuration: 3000\.00 ms\tBilled Duration: 3000 ms\t.*\tInit Duration: 2500\.00 ms/,
    );
    await f.shutdown();
  });

  test('an init that fails is reported, and the invocation answers with its error', async () => {
    const { f } = fn({ initError: { errorType: 'Runtime.ImportModuleError', errorMessage: 'no handler' } });
    const outcome = await f.invoke('x');
    assert.equal(outcome.functionError, 'Unhandled');
    assert.equal((outcome.payload as { errorType: string }).errorType, 'Runtime.ImportModuleError');
    assert.equal(f.state, 'failed');
    await f.shutdown();
  });
});

describe('memory, idle environments and reports', () => {
  test('an environment over its memory is killed: Runtime.OutOfMemory, counted, replaced on the next call', async () => {
    const { f, envs } = fn({
      answer: (msg, env) => {
        env.overMemory = true;
        return env.kill('out-of-memory').then(() => undefined);
      },
    });
    const outcome = await f.invoke('big');
    assert.equal((outcome.payload as { errorType: string }).errorType, 'Runtime.OutOfMemory');
    assert.equal(f.stats.outOfMemory, 1);
    await f.invoke('again');
    assert.equal(envs.started.length, 2);
    await f.shutdown();
  });

  test('environments idle for longer than idleMs are stopped; a later call is a cold start', async () => {
    const { f, clock, envs } = fn({});
    await f.invoke('x');
    await clock.advance(60_000);
    f.reclaimIdle(60_001);
    await settle();
    assert.equal(envs.started[0]?.state, 'idle', 'not idle long enough');
    await clock.advance(2);
    f.reclaimIdle(60_001);
    await settle();
    assert.equal(envs.started[0]?.state, 'stopped');
    assert.equal((await f.invoke('y')).coldStart, true);
    await f.shutdown();
  });

  test('START, END and REPORT per invocation, with the configured memory size', async () => {
    const { f, log } = fn({}, { extra: '  memory: 512\n' });
    const outcome = await f.invoke('x');
    const text = await log();
    assert.match(text, new RegExp(`START RequestId: ${outcome.requestId} Version: \\$LATEST`));
    assert.match(text, new RegExp(`END RequestId: ${outcome.requestId}`));
    assert.match(text, new RegExp(`REPORT RequestId: ${outcome.requestId}\\t.*Memory Size: 512 MB`));
    await f.shutdown();
  });

  test('an error result is counted as an error, with its message kept for /status', async () => {
    const { f } = fn({
      answer: (msg) => result(msg, { isError: true, content: [{ type: 'text', text: 'bad input' }] }),
    });
    await f.invoke('x');
    assert.equal(f.stats.errors, 1);
    assert.equal(f.stats.lastError?.message, 'bad input');
    await f.shutdown();
  });
});

describe('hosts that take many calls per environment (web-function, managed-instances)', () => {
  const web = '  host: web-function\n  environmentConcurrency: 4\n  maxEnvironments: 2\n';
  const managed =
    '  host: managed-instances\n  environmentConcurrency: 3\n  maxEnvironments: 1\n  timeout: 5\n';

  test('calls share an environment up to its concurrency, then a second starts; past the maximum they are throttled, not queued', async () => {
    const h = held();
    const { f, envs } = fn(h.script, { extra: web, queueLimit: 10 });
    const calls = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((e) => f.invoke(e));
    await settle();
    assert.equal(envs.started.length, 2, 'eight calls at four per environment: two environments');
    assert.deepEqual(
      f.environmentList.map((e) => e.state),
      ['busy', 'busy'],
    );
    assert.equal(f.environments.calls, 8);
    assert.equal(f.environments.queued, 0);
    await assert.rejects(
      f.invoke('i'),
      (err: unknown) =>
        err instanceof ThrottledError &&
        err.message ===
          'Rate Exceeded. mcp-server-scripted has every environment busy (2 environments × 4 calls at once; calls are not queued).',
      'both full: throttled at once, and the message names what is full (no queue)',
    );
    assert.equal(f.stats.throttles, 1);
    for (const e of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) h.release(e);
    const outcomes = await Promise.all(calls);
    assert.deepEqual(
      outcomes.map((o) => o.payload),
      ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((e) => ({ ok: e })),
      'every answer is its own call’s',
    );
    assert.equal(outcomes.filter((o) => o.coldStart).length, 8, 'all waited for a cold start');
    await f.shutdown();
  });

  test('calls that come while an environment starts wait for it instead of each starting their own', async () => {
    const h = held();
    const { f, envs, clock } = fn({ ...h.script, initMs: 500 }, { extra: web });
    const calls = ['a', 'b', 'c'].map((e) => f.invoke(e));
    await settle();
    assert.equal(envs.started.length, 1, 'one start for three calls');
    await clock.advance(500);
    await settle();
    assert.deepEqual(h.waiting().sort(), ['a', 'b', 'c']);
    for (const e of ['a', 'b', 'c']) h.release(e);
    await Promise.all(calls);
    const d = f.invoke('d');
    await settle();
    h.release('d');
    assert.equal((await d).coldStart, false);
    assert.equal(envs.started.length, 1);
    await f.shutdown();
  });

  test('never frozen; a web function scales to zero when idle, and the next call starts a new environment', async () => {
    const { f, envs, clock } = fn({}, { extra: web });
    await f.invoke('one');
    await clock.advance(FREEZE_AFTER_IDLE_MS);
    await settle();
    assert.ok(!envs.started[0]?.events.includes('freeze'), 'not frozen between calls');
    await clock.advance(60_000);
    f.reclaimIdle(30_000);
    await settle();
    assert.equal(f.environments.total, 0, 'scaled to zero');
    const again = await f.invoke('two');
    assert.equal(again.coldStart, true);
    assert.equal(envs.started.length, 2);
    await f.shutdown();
  });

  test('managed instances: a timed-out call is reported and the environment goes on serving the others; no scale to zero', async () => {
    const h = held();
    const { f, envs, clock } = fn(h.script, { extra: managed });
    const slow = f.invoke('slow');
    await settle();
    await clock.advance(3_000);
    const other = f.invoke('other');
    await settle();
    assert.equal(envs.started.length, 1, 'both calls in one environment');
    await clock.advance(2_000);
    const timedOut = await slow;
    assert.equal(timedOut.functionError, 'Unhandled');
    assert.match(JSON.stringify(timedOut.payload), /Task timed out after 5\.00 seconds/);
    assert.equal(envs.started[0]?.killedBecause, undefined, 'the environment was not killed');
    h.release('other');
    assert.deepEqual((await other).payload, { ok: 'other' });
    await clock.advance(3_600_000);
    f.reclaimIdle(1_000);
    await settle();
    assert.equal(f.environments.total, 1, 'managed instances keep their environment');
    await f.shutdown();
  });

  /** A web function's system event: the schema's envelope. */
  interface SystemEvent {
    timestamp: string;
    level: string;
    type: string;
    region: string;
    record: Record<string, unknown>;
  }
  /** The platform events of a web function's log, in order. */
  const events = (text: string): SystemEvent[] =>
    text
      .split('\n')
      .filter((l) => l.startsWith('{"timestamp"'))
      .map((l) => JSON.parse(l) as SystemEvent);

  test("a web function's log has Lambda's system events, not START / END / REPORT; a summary each minute, a report when it stops serving, its spin-down", async () => {
    const h = held();
    const { f, clock, envs, log } = fn(h.script, { extra: web });
    const calls = ['a', 'b', 'c'].map((e) => f.invoke(e));
    await settle();
    for (const e of ['a', 'b', 'c']) h.release(e);
    await Promise.all(calls);
    const first = await log();
    assert.doesNotMatch(first, /^(START|END|REPORT|INIT_START) /m);
    const id = envs.started[0]?.id;
    assert.ok(id !== undefined);
    assert.deepEqual(
      events(first).map((e) => [e.type, e.level, e.region, e.record['instanceId']]),
      [
        ['platform.initStart', 'INFO', 'us-east-1', id],
        ['platform.initReport', 'INFO', 'us-east-1', id],
        ['platform.invokeStart', 'INFO', 'us-east-1', id],
      ],
    );
    assert.equal(events(first)[0]?.timestamp, new Date(clock.now()).toISOString());
    assert.equal(events(first)[1]?.record['status'], 'success');
    // initStart's record has the schema's fields.
    const init = events(first)[0]?.record ?? {};
    assert.deepEqual(Object.keys(init).sort(), [
      'functionName',
      'initializationType',
      'instanceId',
      'revisionId',
      'runtimeVersion',
      'runtimeVersionArn',
    ]);
    assert.equal(init['functionName'], f.name);
    assert.equal(init['initializationType'], f.workerEnv()['AWS_LAMBDA_INITIALIZATION_TYPE']);
    assert.match(String(init['runtimeVersion']), /^mcp-fleet-local \(Node\.js v\d+/);
    // A minute on: the summary of that minute (three requests, three at once).
    await clock.advance(60_000);
    const d = f.invoke('d');
    await settle();
    h.release('d');
    await d;
    await clock.advance(60_000);
    const summaries = events(await log()).filter((e) => e.type === 'platform.invokeSummary');
    assert.deepEqual(
      summaries.map((e) => [e.record['requests'], e.record['peakConcurrency'], e.record['durationMs']]),
      [
        [3, 3, 60_000],
        [1, 1, 60_000],
      ],
    );
    f.reclaimIdle(0);
    await settle();
    const all = events(await log());
    const report = all.find((e) => e.type === 'platform.invokeReport');
    assert.deepEqual(
      [report?.record['instanceId'], report?.record['requests'], report?.record['peakConcurrency']],
      [id, 4, 3],
    );
    assert.equal(report?.record['durationMs'], 120_000);
    // Scaled to zero: it stopped serving, then its shutdown began and ended (within its grace).
    assert.deepEqual(
      all.slice(-3).map((e) => [e.type, e.record['instanceId'], e.record['status']]),
      [
        ['platform.invokeReport', id, undefined],
        ['platform.spinDownStart', id, undefined],
        ['platform.spinDownReport', id, 'success'],
      ],
    );
    // Stopped: no more summaries.
    await clock.advance(180_000);
    assert.equal(events(await log()).filter((e) => e.type === 'platform.invokeSummary').length, 2);
    assert.equal(all.filter((e) => e.type === 'platform.requestComplete').length, 0, 'none at INFO');
    await f.shutdown();
  });

  test('at systemLogLevel DEBUG a web function logs platform.requestComplete for each request', async () => {
    const { f, log } = fn(
      {
        answer: (msg) =>
          msg.event === 'bad'
            ? {
                type: 'error',
                requestId: msg.requestId,
                errorType: 'Runtime.ExitError',
                errorMessage: 'gone',
              }
            : result(msg, msg.event),
      },
      { extra: `${web}  aws: { systemLogLevel: DEBUG }\n` },
    );
    const ok = await f.invoke('x');
    const bad = await f.invoke('bad');
    const done = events(await log()).filter((e) => e.type === 'platform.requestComplete');
    assert.deepEqual(
      done.map((e) => [e.record['requestId'], e.record['status']]),
      [
        [ok.requestId, 'success'],
        [bad.requestId, 'Runtime.ExitError'],
      ],
    );
    await f.shutdown();
    // The function's shutdown spins its environment down, and the log has it before it closes.
    assert.deepEqual(
      events(await log())
        .slice(-2)
        .map((e) => [e.type, e.record['status']]),
      [
        ['platform.spinDownStart', undefined],
        ['platform.spinDownReport', 'success'],
      ],
    );
  });

  test("a web function's failed init is a platform.initReport with its status, and no invokeStart", async () => {
    const { f, log } = fn(
      {
        initError: {
          errorType: 'Runtime.ExitError',
          errorMessage: 'Runtime exited with error: exit status 1',
        },
      },
      { extra: web },
    );
    const out = await f.invoke('x');
    assert.equal(out.functionError, 'Unhandled');
    const types = events(await log()).map((e) => [e.type, e.record['status'], e.record['errorType']]);
    assert.deepEqual(types, [
      ['platform.initStart', undefined, undefined],
      ['platform.initReport', 'error', 'Runtime.ExitError'],
    ]);
    await f.shutdown();
  });

  test("a web function endpoint's rateLimit throttles the requests of a second past it, before any environment; 0 throttles all", async () => {
    const { f, clock, envs } = fn({}, { extra: `${web}  rateLimit: 100\n` });
    for (let i = 0; i < 100; i++) await f.invoke(i);
    await assert.rejects(
      f.invoke('over'),
      (err: unknown) =>
        err instanceof ThrottledError &&
        /^Rate Exceeded\. mcp-server-scripted is at its endpoint's rate limit \(100 requests per second\)\.$/.test(
          err.message,
        ),
    );
    assert.equal(f.stats.throttles, 1);
    assert.ok(
      !envs.started[0]?.events.includes('invoke "over"'),
      'the throttled request reached no environment',
    );
    await clock.advance(1_000);
    assert.equal((await f.invoke('next second')).payload, 'next second');
    await f.shutdown();
    const closed = fn({}, { extra: `${web}  rateLimit: 0\n` });
    await assert.rejects(closed.f.invoke('x'), ThrottledError);
    assert.equal(closed.envs.started.length, 0, 'no environment was started');
    await closed.f.shutdown();
  });

  test('a web function endpoint answers HTTP/1.0 with 505 and a method it does not pass on with 400, before any environment', async () => {
    const { f, envs } = fn({}, { extra: web });
    const answer = async (http: Record<string, string>) => {
      const out = await f.invoke({ rawPath: '/mcp', requestContext: { http } });
      assert.ok(out.streamed?.body, 'a streamed answer');
      return splitIntegration(out.streamed.body);
    };
    for (const method of ['TRACE', 'CONNECT', 'get', 'PROPFIND'])
      assert.equal((await answer({ method, protocol: 'HTTP/1.1' })).prelude.statusCode, 400, method);
    assert.equal((await answer({ method: 'POST', protocol: 'HTTP/1.0' })).prelude.statusCode, 505);
    assert.equal(envs.started.length, 0, 'no environment was started');
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'OPTIONS', 'DELETE']) {
      const out = await f.invoke({ requestContext: { http: { method, protocol: 'HTTP/1.1' } } });
      assert.equal(out.streamed, undefined, `${method} reached the function`);
    }
    assert.equal(envs.started.length, 1);
    await f.shutdown();
  });

  test('managed instances: the runtime is told its initialization type', async () => {
    const { f } = fn({}, { extra: managed });
    const env = f.workerEnv();
    assert.equal(env['AWS_LAMBDA_INITIALIZATION_TYPE'], 'lambda-managed-instances');
    // Set only where aws-lambda-ric runs (Powertools then needs its per-call store).
    assert.equal(env['AWS_LAMBDA_MAX_CONCURRENCY'], undefined);
    await f.shutdown();
  });
});
