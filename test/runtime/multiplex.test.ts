// Many calls at once on one environment's warm servers, through the Web Function entry
// (startWebFunction, in process, on a loopback port), with real server processes:
// server-everything for answers and progress, and a small recording server for the faults.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { LaunchInput } from '../../src/runtime/index.js';
import { ServerPool } from '../../src/runtime/pool.js';
import {
  startWebFunction,
  type WebFunction,
  type WebFunctionOptions,
} from '../../src/runtime/web-function.js';
import { ManualClock } from '../support/clock.js';
import { eventually } from '../support/eventually.js';
import { assertNoneLeft, BIN, isAlive, marker, RecordingLog } from './support.js';
import { answerText, post, toolCall, writeRecorder } from './web-support.js';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

const mark = marker();
let dir: string;
let recorder: string;
const started: WebFunction[] = [];

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-multiplex-'));
  recorder = await writeRecorder(dir);
});

after(async () => {
  await Promise.all(started.map((w) => w.close()));
  await assertNoneLeft(mark.value);
  await rm(dir, { recursive: true, force: true });
});

/** A web function on a free loopback port, its server's processes marked. */
async function web(
  launch: Omit<LaunchInput, 'id'> & { id?: string },
  options: Partial<WebFunctionOptions> = {},
): Promise<WebFunction & { log: RecordingLog }> {
  const log = new RecordingLog();
  const w = await startWebFunction(
    { id: 'srv', timeout: 30, ...launch, env: { ...launch.env, ...mark.env } },
    { endpoint: '127.0.0.1:0', log, ...options },
  );
  started.push(w);
  return Object.assign(w, { log });
}

const everything = (): Omit<LaunchInput, 'id'> => ({
  command: BIN('mcp-server-everything'),
  args: ['stdio'],
});

const recording = (env: Record<string, string> = {}): Omit<LaunchInput, 'id'> => ({
  command: process.execPath,
  args: [recorder],
  env,
});

/** Waits until the recording server has logged `line` (its stderr, through the runtime's log). */
function logged(w: { log: RecordingLog }, pattern: RegExp): Promise<string> {
  return eventually(() => w.log.messages().find((m) => pattern.test(m)), {
    what: `the server to log ${String(pattern)}`,
    seen: () => w.log.messages().join('\n'),
  });
}

describe('one warm process, many calls', () => {
  test('64 concurrent tools/call with distinct arguments, all with JSON-RPC id 1, on ONE process: each answer is its own', async () => {
    const w = await web(everything());
    await w.ready;
    const answers = await Promise.all(
      Array.from({ length: 64 }, (_, i) => post(w.url, toolCall(1, 'echo', { message: `call ${i}` }))),
    );
    assert.deepEqual(
      answers.map((a) => [a.status, a.messages[0]?.['id'], answerText(a)]),
      Array.from({ length: 64 }, (_, i) => [200, 1, `Echo: call ${i}`]),
    );
    assert.equal(w.servers.pids.length, 1, 'one server process took every call');
    assert.ok(w.servers instanceof ServerPool);
    assert.deepEqual(w.servers.load, [0]);
  });

  test('two callers with the same id and the same progress token: each gets its own progress and answer, as the calls run', async () => {
    const w = await web(everything());
    const long = (steps: number) =>
      post(
        w.url,
        toolCall(
          7,
          'trigger-long-running-operation',
          { duration: steps * 0.1, steps },
          { progressToken: 'p' },
        ),
        { sse: true },
      );
    const [two, three] = await Promise.all([long(2), long(3)]);
    for (const [answer, steps] of [
      [two, 2],
      [three, 3],
    ] as const) {
      const progress = answer.messages.filter((m) => m['method'] === 'notifications/progress');
      assert.deepEqual(
        progress.map((m) => m['params']),
        Array.from({ length: steps }, (_, i) => ({ progress: i + 1, total: steps, progressToken: 'p' })),
      );
      assert.equal(answer.messages.at(-1)?.['id'], 7);
      assert.match(answerText(answer), new RegExp(`Steps: ${steps}\\.`));
    }
    assert.equal(w.servers.pids.length, 1);
  });

  test('MCP SDK clients of both eras, side by side on one process', async () => {
    const w = await web(everything());
    const legacy = new Client({ name: 'legacy', version: '1.0.0' });
    const modern = new Client(
      { name: 'modern', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await legacy.connect(new StreamableHTTPClientTransport(new URL(w.url)));
    await modern.connect(new StreamableHTTPClientTransport(new URL(w.url)));
    assert.equal(modern.getNegotiatedProtocolVersion(), '2026-07-28');
    const [a, b] = await Promise.all([
      legacy.callTool({ name: 'echo', arguments: { message: 'from 2025' } }),
      modern.callTool({ name: 'echo', arguments: { message: 'from 2026' } }),
    ]);
    assert.deepEqual(
      [a, b].map((r) => (r.content as { text: string }[])[0]?.text),
      ['Echo: from 2025', 'Echo: from 2026'],
    );
    await legacy.close();
    await modern.close();
    assert.equal(w.servers.pids.length, 1);
  });
});

describe('a serial server: concurrency 1, processes 3', () => {
  test('every answer right, no process ever has two calls at once, three processes started on demand', async () => {
    const w = await web({ ...recording({ SERIAL: '1' }), concurrency: 1, processes: 3 });
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post(w.url, toolCall(i % 2, 'work', { text: `job${i}`, ms: 100 })),
      ),
    );
    const parts = answers.map((a) => answerText(a).split(':'));
    assert.deepEqual(
      parts.map((p) => p[1]),
      Array.from({ length: 12 }, (_, i) => `job${i}`),
      answers.map(answerText).join('\n'),
    );
    assert.deepEqual(
      new Set(parts.map((p) => p[2])),
      new Set(['1']),
      'the most calls a process ever ran at once',
    );
    assert.equal(new Set(parts.map((p) => p[0])).size, 3, 'three processes took the calls');
    assert.ok(!w.log.messages().some((m) => m.includes('overlap')));
  });
});

describe('timeouts and cancellation on a shared process', () => {
  test("a call's timeout (manual clock) cancels only its request: the other call is served, the process stays", async () => {
    const clock = new ManualClock(Date.now());
    const w = await web({ ...recording(), timeout: 5 }, { clock });
    const gate = path.join(dir, 'gate-timeout');
    // Deadline: the timeout less the runtime's 1 s margin; the hung call's comes 1 s before the other's.
    const hung = post(w.url, toolCall(1, 'block', { text: 'hung' }));
    await logged(w, /^got block hung$/);
    await clock.advance(1_000);
    const other = post(w.url, toolCall(1, 'wait', { text: 'other', gate }));
    await logged(w, /^got wait other$/);
    const pid = w.servers.pid;
    await clock.advance(3_000);
    const answer = await hung;
    assert.match(answerText(answer), /tools\/call did not answer within 4000 ms; the request was cancelled/);
    assert.doesNotMatch(answerText(answer), /stopped|replaced/);
    assert.deepEqual((answer.messages[0]?.['error'] as { data: unknown }).data, {
      reason: 'timeout',
      method: 'tools/call',
      ms: 4_000,
      stopped: false,
    });
    await logged(w, /^cancelled requestId=\d+ reason=timed out after 4000 ms$/);
    assert.ok(pid !== undefined && (await isAlive(pid)), 'the process is alive');
    await writeFile(gate, '');
    assert.match(answerText(await other), new RegExp(`^${pid}:other:`));
    assert.match(
      answerText(await post(w.url, toolCall(2, 'echo', { text: 'next' }))),
      new RegExp(`^${pid}:next:`),
    );
  });

  test('a client that goes away: the server is sent notifications/cancelled for its request, and serves on', async () => {
    const w = await web(recording());
    const controller = new AbortController();
    const gone = post(w.url, toolCall(1, 'block', { text: 'gone' }), { signal: controller.signal });
    await logged(w, /^got block gone$/);
    const pid = w.servers.pid;
    controller.abort();
    await assert.rejects(gone);
    await logged(w, /^cancelled requestId=\d+ reason=the client closed the connection before the answer$/);
    assert.match(
      answerText(await post(w.url, toolCall(1, 'echo', { text: 'still' }))),
      new RegExp(`^${pid}:still:`),
    );
  });

  test("a client's notifications/cancelled with its Mcp-Session-Id is mapped to our request; without one it is not", async () => {
    const w = await web(recording());
    const session = { 'mcp-session-id': 'gateway-session-1' };
    const mapped = post(w.url, toolCall(5, 'block', { text: 'mapped' }), { headers: session });
    const unmapped = post(w.url, toolCall(6, 'block', { text: 'unmapped' })).then(
      (r) => r.text,
      () => 'ended without an answer',
    );
    await logged(w, /^got block mapped$/);
    await logged(w, /^got block unmapped$/);
    const cancel = (requestId: number, headers: Record<string, string> = {}) =>
      post(
        w.url,
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'user stop' } },
        { headers },
      );
    assert.equal((await cancel(5, session)).status, 202);
    const answer = await mapped;
    assert.match(answerText(answer), /was cancelled \(cancelled by the client: user stop\)/);
    await logged(w, /^cancelled requestId=\d+ reason=cancelled by the client: user stop$/);
    assert.equal((await cancel(6)).status, 202);
    await logged(w, /^client notifications\/cancelled not mapped$/);
    // The unmapped call still runs: only its own client going away ends it.
    assert.deepEqual(w.servers instanceof ServerPool ? w.servers.load : [], [1]);
    await w.close();
    // Ended with the environment, and answered so before the connection went.
    assert.match(await unmapped, /"code":-32603.*shutting down/);
  });
});
