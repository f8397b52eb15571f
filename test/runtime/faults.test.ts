import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createHandler,
  type HandlerOptions,
  type LaunchInput,
  type McpLambdaHandler,
} from '../../src/runtime/index.js';
import {
  assertNoneLeft,
  FAULT_SERVER,
  isAlive,
  lambdaContext,
  markedProcesses,
  marker,
  RecordingLog,
  steppedClock,
  text,
} from './support.js';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-faults-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Fixture {
  handler: McpLambdaHandler;
  log: RecordingLog;
  mark: ReturnType<typeof marker>;
  /** tools/call through the direct JSON-RPC front. */
  call: (
    name: string,
    args?: Record<string, unknown>,
    remainingMs?: number,
  ) => Promise<Record<string, unknown>>;
  /** tools/call through the AgentCore front. */
  agentcore: (
    name: string,
    args?: Record<string, unknown>,
    remainingMs?: number,
  ) => Promise<Record<string, unknown>>;
  done: () => Promise<void>;
}

let n = 0;
async function fixture(
  env: Record<string, string> = {},
  launch: Partial<LaunchInput> = {},
  options: HandlerOptions = {},
): Promise<Fixture> {
  const mark = marker();
  const log = new RecordingLog();
  const once = path.join(dir, `once-${++n}`);
  const handler = createHandler(
    {
      id: 'fault',
      name: 'Fault server',
      command: process.execPath,
      args: [FAULT_SERVER],
      timeout: 20,
      ...launch,
      env: { FAULT_ONCE_FILE: once, ...mark.env, ...env },
    },
    { log, ...options },
  );
  await handler.ready;
  let id = 0;
  return {
    handler,
    log,
    mark,
    call: async (name, args = {}, remainingMs) =>
      (await handler(
        { jsonrpc: '2.0', id: ++id, method: 'tools/call', params: { name, arguments: args } },
        lambdaContext(remainingMs === undefined ? {} : { remainingMs }),
      )) as Record<string, unknown>,
    agentcore: async (name, args = {}, remainingMs) =>
      (await handler(
        args,
        lambdaContext({ toolName: `fault___${name}`, ...(remainingMs === undefined ? {} : { remainingMs }) }),
      )) as Record<string, unknown>,
    done: async () => {
      await handler.close();
      await assertNoneLeft(mark.value);
    },
  };
}

const errorOf = (
  response: Record<string, unknown>,
): { code: number; message: string; data?: Record<string, unknown> } =>
  response['error'] as { code: number; message: string; data?: Record<string, unknown> };

describe('faults at start', () => {
  test('a crash on start is reported at once with the exit code and stderr; the next call starts a new process', async () => {
    const f = await fixture({ FAULT: 'crash-on-start' }, {}, { warmup: false });
    const first = await f.agentcore('echo', { text: 'hi' });
    // Reported by the exit, not by the 20 s deadline (that answer would be a start timeout); that
    // it comes at once is checked on a manual clock (test/unit/runtime.test.ts).
    assert.equal(first['isError'], true);
    assert.match(
      text(first),
      /server "fault" exited with code 3 before it finished initialize; its last stderr output: fatal: cannot open config \/etc\/fault\.conf/,
    );
    const second = await f.agentcore('echo', { text: 'hi' });
    assert.equal(second['isError'], undefined);
    assert.equal(text(second), 'hi');
    await f.done();
  });

  test('an exit during initialize is reported with its code and stderr', async () => {
    const f = await fixture({ FAULT: 'exit-during-initialize' }, {}, { warmup: false });
    const first = await f.call('echo', { text: 'x' });
    const err = errorOf(first);
    assert.equal(err.code, -32603);
    assert.match(
      err.message,
      /exited with code 4 before it finished initialize; its last stderr output: initialize: unsupported client, giving up/,
    );
    assert.deepEqual(err.data, { reason: 'server_exited', exitCode: 4, signal: null });
    assert.deepEqual((await f.call('echo', { text: 'ok' }))['result'], {
      content: [{ type: 'text', text: 'ok' }],
    });
    await f.done();
  });

  test('a crash during the warm-up (Lambda init) is logged, and the first call starts the server again', async () => {
    const f = await fixture({ FAULT: 'crash-on-start' });
    assert.equal(f.handler.pid, undefined);
    assert.ok(
      f.log.entries.some(
        (e) =>
          e.message === 'server crashed' &&
          /exited with code 3 before it finished initialize/.test(String(e.extra?.['error'])),
      ),
      'the warm-up failure is logged',
    );
    assert.equal(text((await f.call('echo', { text: 'first' }))['result']), 'first');
    await f.done();
  });

  test('a crash right after initialize fails the call at once, then recovers', async () => {
    const f = await fixture({ FAULT: 'crash-after-initialized' });
    const first = await f.call('echo', { text: 'x' });
    assert.match(errorOf(first).message, /exited with code 6/);
    assert.match(errorOf(first).message, /crashed right after initialized/);
    assert.equal(text((await f.call('echo', { text: 'back' }))['result']), 'back');
    await f.done();
  });

  test('a slow initialize within the budget is waited for during warm-up', async () => {
    const f = await fixture({ FAULT: 'slow-init', INIT_MS: '1200' });
    // ready resolved after the handshake: the runtime logged the start (it does so once
    // initialize is answered) and knows the process.
    const started = () => f.log.entries.filter((e) => e.message === 'server started');
    assert.equal(started().length, 1, 'ready waited for the handshake');
    assert.ok(f.handler.pid !== undefined, 'the server is up before the first call');
    assert.equal(started()[0]?.extra?.['pid'], f.handler.pid);
    const pid = Number(text((await f.call('pid'))['result']));
    assert.equal(pid, f.handler.pid, 'the first call is served by the process started during init');
    assert.equal(started().length, 1, 'and does not start another');
    await f.done();
  });

  test('an initialize that never answers is given up at the deadline of the call waiting for it, reported, and the next start works', async () => {
    const f = await fixture({ FAULT: 'hang-init' }, { timeout: 2 }, { warmup: false });
    const first = await f.call('echo', { text: 'x' });
    assert.match(
      errorOf(first).message,
      /^server "fault" needs longer to start than the function's timeout allows: it had not finished initialize \d+ ms after it was started, and this invocation could wait \d+ ms; it was stopped/,
    );
    assert.equal(errorOf(first).data?.['reason'], 'start_timeout');
    const waited = Number(errorOf(first).data?.['waitedMs']);
    assert.ok(waited > 0 && waited <= 2000, `it could wait what is left of the 2 s timeout (${waited} ms)`);
    // The answer comes once the process group is gone.
    assert.deepEqual(await markedProcesses(f.mark.value), []);
    assert.equal(text((await f.call('echo', { text: 'up' }))['result']), 'up');
    await f.done();
  });

  test("init ends at its budget without stopping a slow start; the first call waits for that same start (Lambda's init semantics)", async () => {
    const f = await fixture({ FAULT: 'slow-init', INIT_MS: '3000' }, {}, { initBudgetMs: 1000 });
    assert.equal(f.handler.pid, undefined, 'init ended before the handshake: not ready yet');
    assert.equal(f.handler.startError, undefined, 'and not given up');
    const pid = Number(text((await f.call('pid', {}, 20_000))['result']));
    const started = f.log.entries.filter((e) => e.message === 'server started');
    assert.equal(started.length, 1, 'one start, not a second one');
    assert.equal(started[0]?.extra?.['pid'], pid, 'the call was served by the process started during init');
    await f.done();
  });

  test('a start is given up only when the last call waiting for it runs out of time', async () => {
    const f = await fixture({ FAULT: 'slow-init', INIT_MS: '2500' }, {}, { warmup: false });
    const answered: string[] = [];
    const short = f.call('pid', {}, 1500).finally(() => answered.push('short')); // gives up after 0.5 s (1 s margin)
    const long = f.call('pid', {}, 20_000).finally(() => answered.push('long'));
    const [a, b] = await Promise.all([short, long]);
    assert.equal(errorOf(a).data?.['reason'], 'start_timeout');
    assert.match(errorOf(a).message, /it goes on for the calls still waiting for it/);
    assert.deepEqual(
      answered,
      ['short', 'long'],
      'the shorter call was answered first, while the start went on',
    );
    const pid = Number(text(b['result']));
    assert.ok(pid > 0, 'the longer call was served by the same start');
    assert.equal(f.log.entries.filter((e) => e.message === 'server started').length, 1);
    await f.done();
  });
});

describe('faults during calls', () => {
  test('a crash mid-call fails that call at once; the next call gets a new process', async () => {
    const f = await fixture();
    const pid = Number(text((await f.call('pid'))['result']));
    const crashed = await f.agentcore('crash');
    // Failed by the exit, not by the 20 s deadline (that answer would be a timeout).
    assert.equal(crashed['isError'], true);
    assert.match(
      text(crashed),
      /server "fault" exited with code 5 during tools\/call; its last stderr output: panic: tool crash was called/,
    );
    const pid2 = Number(text((await f.call('pid'))['result']));
    assert.notEqual(pid2, pid);
    assert.equal(await isAlive(pid), false);
    await f.done();
  });

  test('a hung call is answered with an error within the configured timeout; the process is replaced', async () => {
    const f = await fixture({}, { timeout: 2 });
    const pid = Number(text((await f.call('pid'))['result']));
    const grandchild = Number(text((await f.call('spawn'))['result']));
    const hung = await f.agentcore('hang');
    // At the moment the answer arrives, nothing of the stopped process group is left.
    const left = await markedProcesses(f.mark.value);
    assert.deepEqual(left, [], 'the whole group is gone before the answer');
    assert.equal(hung['isError'], true);
    const cut =
      /tools\/call did not answer within (\d+) ms; the server process was stopped and will be replaced/.exec(
        text(hung),
      );
    assert.ok(cut, text(hung));
    const ms = Number(cut[1]);
    assert.ok(ms > 0 && ms <= 2000, `cut at the 2 s timeout (${ms} ms were left when it was asked)`);
    assert.equal(await isAlive(pid), false, 'the hung process was killed');
    assert.equal(await isAlive(grandchild), false, 'and what it started');
    assert.equal(text((await f.call('echo', { text: 'again' }))['result']), 'again');
    await f.done();
  });

  test("a hung call is answered before Lambda's own deadline (remaining time minus a margin)", async () => {
    const f = await fixture({}, { timeout: 60 });
    const hung = await f.call('hang', {}, 2500);
    assert.equal(errorOf(hung).code, -32603);
    assert.equal(errorOf(hung).data?.['reason'], 'timeout');
    const ms = Number(errorOf(hung).data?.['ms']);
    assert.ok(
      ms > 0 && ms <= 1500,
      `cut 1 s before the 2.5 s Lambda left, not at the 60 s timeout (${ms} ms)`,
    );
    await f.done();
  });

  test('garbage on stdout is logged and skipped', async () => {
    const f = await fixture({ FAULT: 'banner' });
    assert.equal(text((await f.call('garbage'))['result']), 'after garbage');
    assert.equal(text((await f.call('echo', { text: 'still fine' }))['result']), 'still fine');
    const noise = f.log.entries
      .filter((e) => e.message === 'non-JSON line on the server stdout, skipped')
      .map((e) => e.extra?.['line']);
    assert.deepEqual(noise, [
      'Welcome to the fault server v1!',
      'starting up...',
      'INFO server ready (this line is not JSON)',
      'DEBUG: about to answer',
      '{not json at all',
      '[1,2,3]',
    ]);
    await f.done();
  });

  test('a stderr flood is forwarded at a bounded rate with bounded memory, and the call completes', async () => {
    const f = await fixture();
    const rss0 = process.memoryUsage().rss;
    const flooded = await f.call('flood', { ms: 64 }); // 64 MB of stderr
    assert.equal(text(flooded['result']), 'flooded');
    const grew = process.memoryUsage().rss - rss0;
    assert.ok(grew < 64 * 1024 * 1024, `memory grew by ${grew} bytes`);
    const stderrLines = f.log.entries.filter((e) => e.extra?.['stream'] === 'stderr').map((e) => e.message);
    assert.ok(stderrLines.length < 64 * 1024, `${stderrLines.length} of 65536 stderr lines forwarded`);
    await f.handler.close();
    assert.ok(
      f.log
        .messages()
        .some((m) => /^\[\d+ bytes of stderr dropped: more than 262144 bytes per second\]$/.test(m)),
      'the dropped bytes are reported',
    );
    await f.done();
  });

  test('a 7 MB response becomes a clear error, not a platform failure; the next call works', async () => {
    const f = await fixture();
    const viaAgentCore = await f.agentcore('big');
    assert.equal(viaAgentCore['isError'], true);
    assert.match(
      text(viaAgentCore),
      /^the response is \d+ bytes, over Lambda's 6291456-byte \(6 MB\) response limit$/,
    );
    const viaJsonRpc = await f.call('big');
    assert.match(errorOf(viaJsonRpc).message, /over Lambda's 6291456-byte \(6 MB\) response limit/);
    assert.ok(JSON.stringify(viaJsonRpc).length < 10_000);
    assert.equal(text((await f.call('echo', { text: 'small' }))['result']), 'small');
    await f.done();
  });

  test('server-to-client requests get a JSON-RPC error instead of hanging; ping is answered', async () => {
    const f = await fixture();
    const answer = JSON.parse(text((await f.call('ask'))['result'])) as Record<
      string,
      { code?: number; message?: string }
    >;
    assert.equal(answer['sampling']?.code, -32601);
    assert.match(
      answer['sampling']?.message ?? '',
      /cannot answer sampling\/createMessage: sampling is not offered through this front/,
    );
    // It says why: the reply could not reach the environment that holds the call.
    assert.match(answer['sampling']?.message ?? '', /may land on another Lambda environment/);
    assert.equal(answer['roots']?.code, -32601);
    assert.deepEqual(answer['ping'], {});
    await f.done();
  });

  test('what the server starts is killed with it (the whole process group)', async () => {
    const f = await fixture();
    const grandchild = Number(text((await f.call('spawn'))['result']));
    assert.equal(await isAlive(grandchild), true);
    await f.handler.close();
    await assertNoneLeft(f.mark.value);
    assert.equal(await isAlive(grandchild), false);
  });

  test('notifications a front cannot carry are logged', async () => {
    const f = await fixture();
    const result = await f.agentcore('progress');
    assert.equal(text(result), 'progress done');
    const logged = f.log.entries
      .filter((e) => e.message === 'server notification')
      .map((e) => e.extra?.['method']);
    assert.deepEqual(logged, ['notifications/message']);
    await f.done();
  });

  test('shell: true runs the command through /bin/sh, and the kill still reaches the server', async () => {
    const f = await fixture(
      {},
      { command: `echo starting >&2; exec "${process.execPath}" "${FAULT_SERVER}"`, args: [], shell: true },
    );
    const grandchild = Number(text((await f.call('spawn'))['result']));
    assert.equal(text((await f.call('echo', { text: 'via sh' }))['result']), 'via sh');
    assert.ok(f.log.messages().includes('starting'));
    await f.done();
    assert.equal(await isAlive(grandchild), false);
  });

  test('a command that does not exist is a clear error', async () => {
    const mark = marker();
    const handler = createHandler(
      { id: 'nope', command: 'no-such-mcp-server-binary', env: mark.env },
      { log: new RecordingLog() },
    );
    await handler.ready;
    const r = (await handler({ path: '/tmp' }, lambdaContext({ toolName: 'nope___read' }))) as Record<
      string,
      unknown
    >;
    assert.equal(r['isError'], true);
    assert.match(text(r), /server "nope" could not be started: spawn no-such-mcp-server-binary ENOENT/);
    await handler.close();
    await assertNoneLeft(mark.value);
  });
});

describe('process lifecycle', () => {
  test('warm: one process serves every call', async () => {
    const f = await fixture();
    const pids = new Set<string>();
    for (let i = 0; i < 5; i++) pids.add(text((await f.call('pid'))['result']));
    assert.equal(pids.size, 1);
    await f.done();
  });

  test('per-invocation: a fresh process per call, none kept', async () => {
    const f = await fixture({}, { isolation: 'per-invocation' });
    const pids = new Set<string>();
    for (let i = 0; i < 3; i++) pids.add(text((await f.call('pid'))['result']));
    assert.equal(pids.size, 3);
    await f.done();
  });

  test('recycle.maxInvocations replaces the process after that many calls', async () => {
    const f = await fixture({}, { recycle: { maxInvocations: 2 } });
    const pids: string[] = [];
    for (let i = 0; i < 5; i++) pids.push(text((await f.call('pid'))['result']));
    assert.equal(pids[0], pids[1]);
    assert.notEqual(pids[1], pids[2]);
    assert.equal(pids[2], pids[3]);
    assert.notEqual(pids[3], pids[4]);
    await f.done();
  });

  test('recycle.idleSeconds replaces a process that was idle too long', async () => {
    // Idle time passes on the handler's clock, not the machine's: no waiting, and no load on the
    // machine makes the first two calls look idle.
    const clock = steppedClock();
    const f = await fixture({}, { recycle: { idleSeconds: 1 } }, { clock });
    const a = text((await f.call('pid'))['result']);
    const b = text((await f.call('pid'))['result']);
    clock.step(1_001);
    const c = text((await f.call('pid'))['result']);
    assert.equal(a, b);
    assert.notEqual(b, c);
    assert.equal(await isAlive(Number(b)), false, 'the idle process was stopped before the call answered');
    await f.done();
  });
});

describe('a server gone before it reads its stdin', () => {
  test('the exit code and stderr are reported, not the EPIPE of the first write', async () => {
    // A shell that fails at once exits before initialize is written: the write fails first.
    for (let i = 0; i < 10; i++) {
      const mark = marker();
      const handler = createHandler(
        { id: 'gone', command: 'echo "fatal: no licence key" >&2; exit 3', shell: true, env: mark.env },
        { log: new RecordingLog(), warmup: false },
      );
      const result = await handler({}, lambdaContext({ toolName: 'gone___x' }));
      assert.match(text(result), /exited with code 3 .*its last stderr output: fatal: no licence key/);
      await handler.close();
      await assertNoneLeft(mark.value);
    }
  });
});
