// Many calls on one environment's warm servers (hosts web-function and managed-instances), in
// process over scripted transports and a manual clock: our ids and tokens per call, a timeout that
// cancels only its request, the caller's abort, and the pool's slots, queue and processes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { McpBridge } from '../../src/protocol/bridge.js';
import type { JsonRpcMessage, JsonRpcNotification, JsonRpcResponse } from '../../src/protocol/jsonrpc.js';
import { SupervisorBackend } from '../../src/runtime/backend.js';
import { CallCancelledError, CallTimeoutError } from '../../src/runtime/connection.js';
import { createHandler, normalizeLaunch, type LaunchInput } from '../../src/runtime/handler.js';
import { PoolBusyError, ServerPool, serversFor } from '../../src/runtime/pool.js';
import { ServerSupervisor } from '../../src/runtime/supervisor.js';
import { ManualClock, settle } from '../support/clock.js';
import { lambdaContext } from '../support/lambda-context.js';
import { echoServer, observe, recorder, ScriptedTransport, type Script } from './scripted.js';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

const CLIENT = { name: 'unit', version: '1' };

/**
 * The echo server, plus `hold`: answered only when the test releases it by its text (and `log`:
 * a log message, then held like `hold`). Every transport it runs on is kept.
 */
function heldServers(opts: { holdStarts?: boolean } = {}): {
  transports: ScriptedTransport[];
  transport: () => ScriptedTransport;
  release: (text: string) => void;
  held: () => string[];
  /** With `holdStarts`: transport `i` answers its `initialize` now. */
  started: (i: number) => void;
} {
  const waiting = new Map<string, () => void>();
  const starts = new Map<ScriptedTransport, () => void>();
  const script: Script = (m, server) => {
    if (opts.holdStarts === true && 'method' in m && m.method === 'initialize') {
      starts.set(server, () => {
        echoServer(m, server);
      });
      return;
    }
    if ('method' in m && m.method === 'tools/call' && 'id' in m) {
      const name = m.params?.['name'];
      const text = String((m.params?.['arguments'] as Record<string, unknown> | undefined)?.['text']);
      if (name === 'hold' || name === 'log') {
        if (name === 'log')
          server.write({ method: 'notifications/message', params: { level: 'info', data: `log ${text}` } });
        waiting.set(text, () => {
          server.write({ id: m.id, result: { content: [{ type: 'text', text: `held ${text}` }] } });
        });
        return;
      }
    }
    echoServer(m, server);
  };
  const transports: ScriptedTransport[] = [];
  return {
    transports,
    transport: () => {
      const t = new ScriptedTransport(script);
      transports.push(t);
      return t;
    },
    release: (text) => {
      const go = waiting.get(text);
      assert.ok(go, `a held call "${text}"`);
      waiting.delete(text);
      go();
    },
    held: () => [...waiting.keys()],
    started: (i) => {
      const t = transports[i];
      const go = t && starts.get(t);
      assert.ok(go, `process ${i} is starting`);
      if (t) starts.delete(t);
      go();
    },
  };
}

function poolOf(
  launch: Partial<LaunchInput>,
  clock: ManualClock,
  opts: { holdStarts?: boolean } = {},
): ReturnType<typeof heldServers> & { pool: ServerPool; log: ReturnType<typeof recorder> } {
  const servers = heldServers(opts);
  const log = recorder();
  const spec = normalizeLaunch({ id: 'shared', command: 'scripted', host: 'web-function', ...launch });
  const pool = serversFor(spec, { log, clientInfo: CLIENT, clock, transport: servers.transport });
  assert.ok(pool instanceof ServerPool);
  return { ...servers, pool, log };
}

/** A tools/call through the pool: the tool, its text, by `deadline`, with an optional signal. */
function call(
  pool: ServerPool,
  deadline: number,
  name: string,
  text: string,
  extra: { signal?: AbortSignal; onNotification?: (n: JsonRpcNotification) => void } = {},
): Promise<JsonRpcResponse> {
  return pool.use(
    deadline,
    (conn, left) =>
      conn.request('tools/call', { name, arguments: { text } }, { timeoutMs: left(), ...extra }),
    extra.signal ? { signal: extra.signal } : {},
  );
}

const textOf = (r: unknown): string =>
  ((r as { result?: { content?: { text?: string }[] } }).result?.content ?? []).map((c) => c.text).join('');

/** What a transport was sent, of one method. */
const sentOf = (t: ScriptedTransport | undefined, method: string): JsonRpcMessage[] =>
  (t?.sent ?? []).filter((m) => 'method' in m && m.method === method);

/** The stdio id of the tools/call whose text is `text`. */
function stdioId(t: ScriptedTransport | undefined, text: string): unknown {
  const m = sentOf(t, 'tools/call').find(
    (s) => 'params' in s && (s.params?.['arguments'] as Record<string, unknown>)['text'] === text,
  );
  return m && 'id' in m ? m.id : undefined;
}

describe('one process, many calls', () => {
  test('a timeout while another call is in flight cancels only its request: notifications/cancelled with our id, the process goes on, the other call is answered', async () => {
    const clock = new ManualClock();
    const p = poolOf({}, clock);
    const hung = observe(call(p.pool, clock.now() + 1_000, 'hang', 'a'));
    const other = observe(call(p.pool, clock.now() + 5_000, 'hold', 'b'));
    await settle();
    await clock.advance(1_000);
    assert.ok(hung.error instanceof CallTimeoutError);
    assert.equal(hung.error.stopped, false);
    assert.doesNotMatch(hung.error.message, /stopped|replaced/);
    assert.match(hung.error.message, /cancelled.*other calls in flight/);
    assert.deepEqual(hung.error.rpcData(), {
      reason: 'timeout',
      method: 'tools/call',
      ms: 1_000,
      stopped: false,
    });
    const t = p.transports[0];
    assert.deepEqual(
      sentOf(t, 'notifications/cancelled').map((m) => ('params' in m ? m.params : undefined)),
      [{ requestId: stdioId(t, 'a'), reason: 'timed out after 1000 ms' }],
    );
    assert.equal(t?.killedBecause, undefined, 'the process was not stopped');
    p.release('b');
    await settle();
    assert.equal(textOf(other.value), 'held b');
    assert.equal(textOf(await call(p.pool, clock.now() + 1_000, 'echo', 'after')), 'after');
    assert.equal(p.transports.length, 1, 'one process served every call');
    await p.pool.shutdown();
  });

  test('the last call in flight on a shared process stops the process at its timeout; the next call gets a new one', async () => {
    const clock = new ManualClock();
    const p = poolOf({}, clock);
    const hung = observe(call(p.pool, clock.now() + 1_000, 'hang', 'alone'));
    await clock.advance(1_000);
    assert.ok(hung.error instanceof CallTimeoutError);
    assert.equal(hung.error.stopped, true);
    assert.match(hung.error.message, /the server process was stopped/);
    assert.match(p.transports[0]?.killedBecause ?? '', /timed out after 1000 ms/);
    assert.equal(textOf(await call(p.pool, clock.now() + 1_000, 'echo', 'next')), 'next');
    assert.equal(p.transports.length, 2);
    await p.pool.shutdown();
  });

  test("a caller's abort sends notifications/cancelled for its request and fails it at once; the late answer is dropped quietly", async () => {
    const clock = new ManualClock();
    const p = poolOf({}, clock);
    const controller = new AbortController();
    const gone = observe(call(p.pool, clock.now() + 5_000, 'hold', 'x', { signal: controller.signal }));
    const other = observe(call(p.pool, clock.now() + 5_000, 'hold', 'y'));
    await settle();
    controller.abort('the client closed the connection');
    await settle();
    assert.ok(gone.error instanceof CallCancelledError);
    assert.match(gone.error.message, /the client closed the connection/);
    const t = p.transports[0];
    assert.deepEqual(
      sentOf(t, 'notifications/cancelled').map((m) => ('params' in m ? m.params : undefined)),
      [{ requestId: stdioId(t, 'x'), reason: 'the client closed the connection' }],
    );
    p.release('x');
    p.release('y');
    await settle();
    assert.equal(textOf(other.value), 'held y');
    assert.ok(!p.log.lines.some((l) => l.includes('response to no pending request')), p.log.lines.join('\n'));
    assert.ok(p.log.lines.some((l) => l.includes('answer to a cancelled request dropped')));
    assert.equal(t?.killedBecause, undefined);
    await p.pool.shutdown();
  });

  test('a call whose caller is already gone is not sent', async () => {
    const clock = new ManualClock();
    const p = poolOf({}, clock);
    await call(p.pool, clock.now() + 1_000, 'echo', 'warm');
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      call(p.pool, clock.now() + 1_000, 'echo', 'never', { signal: controller.signal }),
      CallCancelledError,
    );
    assert.equal(stdioId(p.transports[0], 'never'), undefined);
    await p.pool.shutdown();
  });

  test('two callers with the same JSON-RPC id and progress token each get their own answer and progress', async () => {
    const clock = new ManualClock();
    const p = poolOf({}, clock);
    const bridge = new McpBridge(new SupervisorBackend(p.pool));
    const seen: Record<string, unknown[]> = { one: [], two: [] };
    const ask = (text: string) =>
      bridge.handle(
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'echo', arguments: { text }, _meta: { progressToken: 'p' } },
        },
        {
          deadline: clock.now() + 1_000,
          onNotification: (n) => seen[text]?.push(n.params?.['progressToken']),
        },
      );
    const [one, two] = await Promise.all([ask('one'), ask('two')]);
    assert.deepEqual([one?.id, textOf(one)], [1, 'one']);
    assert.deepEqual([two?.id, textOf(two)], [1, 'two']);
    assert.deepEqual(seen, { one: ['p'], two: ['p'] });
    const t = p.transports[0];
    assert.notEqual(stdioId(t, 'one'), stdioId(t, 'two'), 'distinct ids on the stdio side');
    await p.pool.shutdown();
  });

  test('a log message goes to the call when it is the only one in flight on its process, else to the log', async () => {
    const clock = new ManualClock();
    const p = poolOf({}, clock);
    const got: string[] = [];
    const onNotification = (n: JsonRpcNotification): void => void got.push(String(n.params?.['data']));
    const alone = call(p.pool, clock.now() + 5_000, 'log', 'alone', { onNotification });
    await settle();
    p.release('alone');
    await alone;
    assert.deepEqual(got, ['log alone']);
    const a = call(p.pool, clock.now() + 5_000, 'hold', 'a', { onNotification });
    const b = call(p.pool, clock.now() + 5_000, 'log', 'b', { onNotification });
    await settle();
    p.release('a');
    p.release('b');
    await Promise.all([a, b]);
    assert.deepEqual(got, ['log alone'], 'not given to either of two calls');
    assert.ok(p.log.lines.some((l) => l === 'info server notification'));
    await p.pool.shutdown();
  });
});

describe('the pool', () => {
  test('without concurrency every call of the environment shares one process', async () => {
    const clock = new ManualClock();
    const p = poolOf({}, clock);
    const calls = Array.from({ length: 20 }, (_, i) => call(p.pool, clock.now() + 5_000, 'hold', `c${i}`));
    await settle();
    assert.deepEqual(p.pool.load, [20]);
    for (let i = 0; i < 20; i++) p.release(`c${i}`);
    assert.deepEqual(
      (await Promise.all(calls)).map(textOf),
      Array.from({ length: 20 }, (_, i) => `held c${i}`),
    );
    assert.equal(p.transports.length, 1);
    await p.pool.shutdown();
  });

  test('concurrency 2, processes 2: processes start on demand; a fifth call waits and takes the first slot freed', async () => {
    const clock = new ManualClock();
    const p = poolOf({ concurrency: 2, processes: 2 }, clock);
    const first = call(p.pool, clock.now() + 5_000, 'hold', 'c0');
    await settle();
    assert.equal(p.transports.length, 1, 'one process for one call');
    const more = [1, 2, 3].map((i) => call(p.pool, clock.now() + 5_000, 'hold', `c${i}`));
    await settle();
    assert.equal(p.transports.length, 2, 'a second process once the first is full');
    assert.deepEqual(p.pool.load, [2, 2]);
    const fifth = observe(call(p.pool, clock.now() + 5_000, 'hold', 'c4'));
    await settle();
    assert.deepEqual(
      p.held().sort(),
      ['c0', 'c1', 'c2', 'c3'],
      'the fifth is not sent while every slot is taken',
    );
    p.release('c0');
    await first;
    await settle();
    assert.deepEqual(p.pool.load, [2, 2]);
    assert.ok(p.held().includes('c4'), 'the fifth is sent once a slot is free');
    for (const t of ['c1', 'c2', 'c3', 'c4']) p.release(t);
    await Promise.all(more);
    await settle();
    assert.equal(textOf(fifth.value), 'held c4');
    await p.pool.shutdown();
  });

  test('a burst on a cold pool starts one process at a time: the next only once the one starting has started and is full', async () => {
    const clock = new ManualClock();
    const p = poolOf({ concurrency: 2, processes: 3 }, clock, { holdStarts: true });
    const calls = Array.from({ length: 5 }, (_, i) => call(p.pool, clock.now() + 9_000, 'hold', `c${i}`));
    await settle();
    assert.equal(p.transports.length, 1, 'five calls on a cold pool start one process');
    p.started(0);
    await settle();
    assert.equal(p.transports.length, 2, 'started and full: one more process');
    assert.deepEqual(p.held().sort(), ['c0', 'c1'], 'the first process took its two calls');
    assert.deepEqual(p.pool.load, [2, 2], 'the second is given two while it starts');
    p.started(1);
    await settle();
    assert.equal(p.transports.length, 3, 'both started and full: the third');
    assert.deepEqual(p.held().sort(), ['c0', 'c1', 'c2', 'c3']);
    p.started(2);
    await settle();
    assert.deepEqual(p.pool.load, [2, 2, 1]);
    for (let i = 0; i < 5; i++) p.release(`c${i}`);
    assert.deepEqual((await Promise.all(calls)).map(textOf), [
      'held c0',
      'held c1',
      'held c2',
      'held c3',
      'held c4',
    ]);
    await p.pool.shutdown();
  });

  test('a process whose start fails lets the calls waiting behind it start another', async () => {
    const clock = new ManualClock();
    const p = poolOf({ concurrency: 1, processes: 2 }, clock, { holdStarts: true });
    const first = observe(call(p.pool, clock.now() + 9_000, 'echo', 'first'));
    const second = observe(call(p.pool, clock.now() + 9_000, 'echo', 'second'));
    await settle();
    assert.equal(p.transports.length, 1);
    p.transports[0]?.end({ code: 3, signal: null });
    await settle();
    assert.ok(first.error, 'the call on the process that failed to start fails');
    assert.equal(second.settled, false);
    assert.equal(p.transports.length, 2, 'the waiting call started a process of its own');
    p.started(1);
    await settle();
    assert.equal(textOf(second.value), 'second');
    await p.pool.shutdown();
  });

  test('a call that waits for a free slot past its deadline fails naming the server, the limits and the wait, and is never sent', async () => {
    const clock = new ManualClock();
    const p = poolOf({ concurrency: 1, processes: 2 }, clock);
    const busy = [
      call(p.pool, clock.now() + 9_000, 'hold', 'a'),
      call(p.pool, clock.now() + 9_000, 'hold', 'b'),
    ];
    await settle();
    const waiting = observe(call(p.pool, clock.now() + 3_000, 'echo', 'late'));
    await clock.advance(2_999);
    assert.equal(waiting.settled, false);
    await clock.advance(1);
    assert.ok(waiting.error instanceof PoolBusyError);
    assert.match(
      waiting.error.message,
      /server "shared" is busy: its 2 processes \(processes: 2\) each had 1 call running \(concurrency: 1\) for the 3000 ms this call could wait/,
    );
    assert.deepEqual(waiting.error.rpcData(), {
      reason: 'busy',
      processes: 2,
      concurrency: 1,
      waitedMs: 3_000,
    });
    assert.ok(p.transports.every((t) => stdioId(t, 'late') === undefined));
    p.release('a');
    p.release('b');
    await Promise.all(busy);
    await p.pool.shutdown();
  });

  test('a caller that goes away while it waits leaves the queue; the next waiter gets the slot', async () => {
    const clock = new ManualClock();
    const p = poolOf({ concurrency: 1, processes: 1 }, clock);
    const running = call(p.pool, clock.now() + 9_000, 'hold', 'a');
    await settle();
    const controller = new AbortController();
    const gone = observe(call(p.pool, clock.now() + 9_000, 'echo', 'gone', { signal: controller.signal }));
    const next = observe(call(p.pool, clock.now() + 9_000, 'echo', 'next'));
    controller.abort();
    await settle();
    assert.ok(gone.error instanceof CallCancelledError);
    p.release('a');
    await running;
    await settle();
    assert.equal(textOf(next.value), 'next');
    assert.equal(stdioId(p.transports[0], 'gone'), undefined);
    await p.pool.shutdown();
  });

  test('a crashed process is replaced on its slot; the other process goes on', async () => {
    const clock = new ManualClock();
    const p = poolOf({ concurrency: 1, processes: 2 }, clock);
    const held = call(p.pool, clock.now() + 9_000, 'hold', 'keep');
    await settle();
    await assert.rejects(call(p.pool, clock.now() + 9_000, 'crash', 'x'), /exited with code 7/);
    assert.equal(textOf(await call(p.pool, clock.now() + 9_000, 'echo', 'again')), 'again');
    assert.equal(p.transports.length, 3, 'a new process in place of the crashed one');
    assert.equal(p.transports[0]?.exit, undefined, 'the first process still runs');
    p.release('keep');
    assert.equal(textOf(await held), 'held keep');
    await p.pool.shutdown();
  });

  test('settle() returns at once while calls are in flight; shutdown stops every process and fails the calls waiting', async () => {
    const clock = new ManualClock();
    const p = poolOf({ concurrency: 1, processes: 2 }, clock);
    const running = [
      observe(call(p.pool, clock.now() + 9_000, 'hold', 'a')),
      observe(call(p.pool, clock.now() + 9_000, 'hold', 'b')),
    ];
    const waiting = observe(call(p.pool, clock.now() + 9_000, 'echo', 'w'));
    await settle();
    const settled = observe(p.pool.settle(clock.now() + 1_000));
    await settle();
    assert.equal(settled.settled, true);
    assert.equal(running[0]?.settled, false);
    await p.pool.shutdown();
    assert.match(String(waiting.error), /shutting down/);
    assert.ok(p.transports.every((t) => t.exit !== undefined));
    await assert.rejects(call(p.pool, clock.now() + 1_000, 'echo', 'after'), /shutting down/);
  });

  test('recycle.maxInvocations on a shared process: it takes no new call once due, and closes after its last one', async () => {
    const clock = new ManualClock();
    const p = poolOf({ recycle: { maxInvocations: 2 } }, clock);
    const long = call(p.pool, clock.now() + 9_000, 'hold', 'long');
    await settle();
    await call(p.pool, clock.now() + 9_000, 'echo', 'one');
    await call(p.pool, clock.now() + 9_000, 'echo', 'two');
    assert.equal(p.transports[0]?.closing, false, 'not closed while a call runs on it');
    assert.equal(textOf(await call(p.pool, clock.now() + 9_000, 'echo', 'three')), 'three');
    assert.equal(p.transports.length, 2, 'the next call went to a new process');
    p.release('long');
    assert.equal(textOf(await long), 'held long');
    await settle();
    assert.equal(p.transports[0]?.closing, true, 'closed after its last call');
    await p.pool.shutdown();
  });

  test('host function keeps one supervisor; the multi-call hosts get a pool', () => {
    const opts = { log: recorder(), clientInfo: CLIENT };
    assert.ok(serversFor(normalizeLaunch({ command: 'x' }), opts) instanceof ServerSupervisor);
    assert.ok(
      serversFor(normalizeLaunch({ command: 'x', host: 'function' }), opts) instanceof ServerSupervisor,
    );
    for (const host of ['web-function', 'managed-instances'] as const)
      assert.ok(
        serversFor(normalizeLaunch({ command: 'x', host, concurrency: 2, processes: 3 }), opts) instanceof
          ServerPool,
      );
    const spec = normalizeLaunch({ command: 'x', host: 'managed-instances', concurrency: 2, processes: 3 });
    assert.deepEqual([spec.host, spec.concurrency, spec.processes], ['managed-instances', 2, 3]);
  });
});

describe('the handler on a multi-call host', () => {
  test('invocations run at once on the pool; one ending (and its settle) does not wait for or break another', async () => {
    const clock = new ManualClock();
    const servers = heldServers();
    const handler = createHandler(
      { id: 'mi', command: 'scripted', host: 'managed-instances', concurrency: 1, processes: 2, timeout: 10 },
      { log: recorder(), clock, transport: servers.transport },
    );
    await handler.ready;
    const invoke = (text: string) => handler({ text }, lambdaContext({ toolName: 'mi___hold', clock }));
    const a = observe(invoke('a'));
    const b = observe(invoke('b'));
    await settle();
    assert.equal(servers.transports.length, 2, 'one process per call (concurrency 1)');
    servers.release('b');
    await settle();
    assert.equal(b.settled, true, 'b answered while a still runs');
    assert.equal(a.settled, false);
    servers.release('a');
    await settle();
    assert.deepEqual(
      [a.value, b.value].map((v) => (v as { content: { text: string }[] }).content[0]?.text),
      ['held a', 'held b'],
    );
    await handler.close();
    assert.ok(servers.transports.every((t) => t.exit !== undefined));
  });
});
