// In-process unit tests of the runtime's core over a scripted transport: no processes, no network.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { toLaunchSpec, type LaunchSpec } from '../../src/config/model.js';
import { ToolPolicy } from '../../src/config/tool-filter.js';
import { McpBridge } from '../../src/protocol/bridge.js';
import { SupervisorBackend } from '../../src/runtime/backend.js';
import { ServerExitedError } from '../../src/runtime/child.js';
import { CallTimeoutError, McpConnection, type ClientChannel } from '../../src/runtime/connection.js';
import { httpFront } from '../../src/protocol/http.js';
import type { JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from '../../src/protocol/jsonrpc.js';
import { LineSplitter, StderrSink } from '../../src/runtime/lines.js';
import { STDIO_PROTOCOL_VERSION } from '../../src/runtime/limits.js';
import { ServerSupervisor } from '../../src/runtime/supervisor.js';
import { createHandler, type HandlerOptions, type LaunchInput } from '../../src/runtime/handler.js';
import type { Clock } from '../../src/platform/time.js';
import { ManualClock, settle } from '../support/clock.js';
import { lambdaContext } from '../support/lambda-context.js';
import {
  crashOnStart,
  echoServer,
  hangInit,
  observe,
  recorder,
  ScriptedTransport,
  slowInit,
  type Script,
  type ScriptedOptions,
} from './scripted.js';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

const CLIENT = { name: 'unit', version: '1' };

/**
 * The servers a test starts: each runs `script` (default the echo server); with a list, the n-th
 * start runs the n-th script, and the last one goes on for the starts after it.
 */
interface Servers {
  script?: Script | Script[];
  options?: ScriptedOptions;
}

function scriptedServers(servers: Servers = {}): {
  transports: ScriptedTransport[];
  transport: () => ScriptedTransport;
} {
  const transports: ScriptedTransport[] = [];
  const { script = echoServer, options } = servers;
  return {
    transports,
    transport: () => {
      const scripts = Array.isArray(script) ? script : [script];
      const t = new ScriptedTransport(
        scripts[Math.min(transports.length, scripts.length - 1)] ?? echoServer,
        options,
      );
      transports.push(t);
      return t;
    },
  };
}

function spec(extra = ''): LaunchSpec {
  const { config } = parseConfig(`scripted:\n  command: scripted-server\n${extra}`);
  const server = config?.servers[0];
  assert.ok(server, 'the config parses');
  return toLaunchSpec(server);
}

function supervised(
  extra = '',
  servers: Servers & { clock?: Clock } = {},
): { supervisor: ServerSupervisor; transports: ScriptedTransport[] } {
  const { transports, transport } = scriptedServers(servers);
  const supervisor = new ServerSupervisor(spec(extra), {
    log: recorder(),
    clientInfo: CLIENT,
    transport,
    ...(servers.clock ? { clock: servers.clock } : {}),
  });
  return { supervisor, transports };
}

describe('the line reader', () => {
  test('lines split across chunks come out whole; an overlong line is cut and reported, and reading goes on', () => {
    const lines: string[] = [];
    const cut: number[] = [];
    const splitter = new LineSplitter(
      8,
      (l) => lines.push(l.toString()),
      (n) => cut.push(n),
    );
    splitter.push(Buffer.from('ab'));
    splitter.push(Buffer.from('c\nde'));
    splitter.push(Buffer.from('f\n0123456789abc\nok\n'));
    assert.deepEqual(lines, ['abc', 'def', 'ok']);
    assert.deepEqual(cut, [13]);
  });

  test('stderr: a character split across chunks stays whole in the tail', () => {
    const forwarded: string[] = [];
    const sink = new StderrSink({
      tailBytes: 1024,
      maxLineBytes: 1024,
      bytesPerSecond: 1e9,
      forward: (l) => forwarded.push(l),
    });
    const bytes = Buffer.from('née\n');
    sink.push(bytes.subarray(0, 2));
    sink.push(bytes.subarray(2));
    assert.deepEqual(forwarded, ['née']);
    assert.match(sink.lastOutput(), /née/);
  });
});

describe("the connection: a server's questions relayed to its client", () => {
  /** A server whose tool `ask` asks its client for elicitation under id `srv-1` and answers with what it got. */
  const asking: Script = (m, server) => {
    if ('method' in m && m.method === 'tools/call' && 'id' in m) {
      const params = m.params ?? {};
      if (params['name'] === 'ask') {
        asks.set('srv-1', m.id);
        server.write({ id: 'srv-1', method: 'elicitation/create', params: { message: 'name?' } });
        return;
      }
    }
    if (!('method' in m) && 'id' in m && m.id === 'srv-1') {
      const call = asks.get('srv-1');
      asks.delete('srv-1');
      if (call !== undefined)
        server.write({ id: call, result: { content: [{ type: 'text', text: JSON.stringify(m) }] } });
      return;
    }
    echoServer(m, server);
  };
  const asks = new Map<string, unknown>();

  async function opened(
    opts: ConstructorParameters<typeof McpConnection>[5] = {},
  ): Promise<{ t: ScriptedTransport; conn: McpConnection; clock: ManualClock; client: ClientChannel }> {
    const t = new ScriptedTransport(asking);
    const clock = new ManualClock();
    const client: ClientChannel = {
      capabilities: { elicitation: {}, sampling: {}, experimental: { x: {} }, roots: true },
      asked: new Map(),
    };
    const conn = new McpConnection('scripted', t, recorder(), CLIENT, clock, { client, ...opts });
    await conn.open(1000);
    return { t, conn, clock, client };
  }

  test("the server's initialize carries what the client can answer, nothing else", async () => {
    const { t } = await opened();
    const init = t.sent[0] as unknown as { params: { capabilities: Record<string, unknown> } };
    assert.deepEqual(init.params.capabilities, { elicitation: {}, sampling: {} });
  });

  test("the question reaches the client under our id; the client's answer reaches the server under its own", async () => {
    const { t, conn } = await opened();
    const questions: JsonRpcRequest[] = [];
    const call = conn.request(
      'tools/call',
      { name: 'ask' },
      { timeoutMs: 1000, onRequest: (r) => questions.push(r) },
    );
    await settle();
    assert.equal(questions.length, 1);
    const question = questions[0];
    assert.ok(question);
    assert.equal(question.method, 'elicitation/create');
    assert.match(String(question.id), /^mcp-fleet-ask-\d+$/);
    assert.equal(conn.asked(question.id), true);
    // An answer to no question of this server is not taken.
    assert.equal(await conn.answerClient({ jsonrpc: '2.0', id: 'mcp-fleet-ask-999', result: {} }), false);
    assert.equal(
      await conn.answerClient({
        jsonrpc: '2.0',
        id: question.id,
        result: { action: 'accept', content: { name: 'Ada' } },
      }),
      true,
    );
    const answer = await call;
    assert.ok('result' in answer);
    const got = JSON.parse((answer.result['content'] as { text: string }[])[0]?.text ?? '') as {
      id: unknown;
      result: unknown;
    };
    assert.equal(got.id, 'srv-1');
    assert.deepEqual(got.result, { action: 'accept', content: { name: 'Ada' } });
    assert.equal(t.sent.filter((m) => 'id' in m && m.id === 'srv-1').length, 1);
  });

  test('the call it was asked during times out on a shared process: the server gets an error for its question, a late answer is refused', async () => {
    const { t, conn, clock } = await opened({ shared: true });
    const questions: JsonRpcRequest[] = [];
    const asked = conn.request(
      'tools/call',
      { name: 'ask' },
      { timeoutMs: 50, onRequest: (r) => questions.push(r) },
    );
    const other = conn.request('tools/call', { name: 'hang' }, { timeoutMs: 5000 });
    other.catch(() => undefined);
    await settle();
    assert.equal(questions.length, 1);
    const rejected = assert.rejects(asked, CallTimeoutError);
    await clock.advance(50);
    await rejected;
    const toServer = t.sent.find((m) => 'id' in m && m.id === 'srv-1' && 'error' in m);
    assert.ok(toServer && 'error' in toServer, JSON.stringify(t.sent));
    assert.match(
      toServer.error.message,
      /did not answer elicitation\/create before the request it was asked during ended/,
    );
    assert.equal(conn.alive, true);
    assert.equal(await conn.answerClient({ jsonrpc: '2.0', id: questions[0]?.id ?? '', result: {} }), false);
  });

  test('the call its question went with ends while the call that may have asked runs on: the question stays, and its answer reaches the server', async () => {
    const { t, conn, clock } = await opened({ shared: true });
    const onA: JsonRpcRequest[] = [];
    const onB: JsonRpcRequest[] = [];
    // A (the oldest call with a stream) hangs; B asks. stdio does not say which call asked: the
    // question goes with A.
    const a = conn.request('tools/call', { name: 'hang' }, { timeoutMs: 50, onRequest: (r) => onA.push(r) });
    const rejected = assert.rejects(a, CallTimeoutError);
    const b = conn.request('tools/call', { name: 'ask' }, { timeoutMs: 5000, onRequest: (r) => onB.push(r) });
    await settle();
    assert.equal(onA.length, 1, 'the question went with the oldest call');
    assert.equal(onB.length, 0);
    await clock.advance(50);
    await rejected;
    assert.equal(
      t.sent.filter((m) => 'id' in m && m.id === 'srv-1' && 'error' in m).length,
      0,
      'the server got no error for its question: B, which may have asked it, runs on',
    );
    const question = onA[0];
    assert.ok(question);
    assert.equal(
      await conn.answerClient({
        jsonrpc: '2.0',
        id: question.id,
        result: { action: 'accept', content: { n: 1 } },
      }),
      true,
    );
    const answer = await b;
    assert.ok('result' in answer, JSON.stringify(answer));
    const got = JSON.parse((answer.result['content'] as { text: string }[])[0]?.text ?? '') as {
      result: unknown;
    };
    assert.deepEqual(got.result, { action: 'accept', content: { n: 1 } });
  });

  test('a question the client did not declare it answers is refused to the server, and never reaches the client', async () => {
    const t = new ScriptedTransport(asking);
    // The client offered sampling only: elicitation is not its to answer.
    const client: ClientChannel = { capabilities: { sampling: {} }, asked: new Map() };
    const conn = new McpConnection('scripted', t, recorder(), CLIENT, new ManualClock(), { client });
    await conn.open(1000);
    const questions: JsonRpcRequest[] = [];
    const answer = await conn.request(
      'tools/call',
      { name: 'ask' },
      { timeoutMs: 1000, onRequest: (r) => questions.push(r) },
    );
    assert.equal(questions.length, 0);
    assert.ok('result' in answer, JSON.stringify(answer));
    const got = JSON.parse((answer.result['content'] as { text: string }[])[0]?.text ?? '') as {
      id: unknown;
      error?: { code: number; message: string };
    };
    assert.equal(got.id, 'srv-1');
    assert.equal(got.error?.code, -32601);
    assert.match(got.error?.message ?? '', /did not declare the elicitation capability/);
  });

  test('the server gives up its question: the client is told under our id', async () => {
    const { t, conn } = await opened();
    const questions: JsonRpcRequest[] = [];
    const notes: JsonRpcNotification[] = [];
    const call = conn.request(
      'tools/call',
      { name: 'ask' },
      { timeoutMs: 1000, onRequest: (r) => questions.push(r), onNotification: (n) => notes.push(n) },
    );
    call.catch(() => undefined);
    await settle();
    t.write({ method: 'notifications/cancelled', params: { requestId: 'srv-1', reason: 'took too long' } });
    await settle();
    assert.deepEqual(notes, [
      {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: questions[0]?.id, reason: 'took too long' },
      },
    ]);
    assert.equal(conn.asked(questions[0]?.id ?? null), false);
  });

  test("between calls, the session's standalone stream carries the server's question and its notifications", async () => {
    const { t, conn, client } = await opened();
    const streamed: (JsonRpcRequest | JsonRpcNotification)[] = [];
    client.stream = (m) => streamed.push(m);
    t.write({ id: 'srv-9', method: 'sampling/createMessage', params: { messages: [], maxTokens: 5 } });
    t.write({ method: 'notifications/resources/updated', params: { uri: 'demo://a' } });
    await settle();
    const [question, note] = streamed;
    assert.ok(question && 'id' in question);
    assert.equal(question.method, 'sampling/createMessage');
    assert.equal(client.asked.get(String(question.id)), conn);
    assert.deepEqual(note, {
      jsonrpc: '2.0',
      method: 'notifications/resources/updated',
      params: { uri: 'demo://a' },
    });
    const reply = { role: 'assistant', content: { type: 'text', text: 'hi' }, model: 'm' };
    assert.equal(await conn.answerClient({ jsonrpc: '2.0', id: question.id, result: reply }), true);
    assert.equal(client.asked.size, 0);
    assert.deepEqual(
      t.sent.find((m) => 'id' in m && m.id === 'srv-9'),
      { jsonrpc: '2.0', id: 'srv-9', result: reply },
    );
  });

  test('no call with a stream to carry it: the server is told why', async () => {
    const { t, conn } = await opened();
    const call = conn.request('tools/call', { name: 'ask' }, { timeoutMs: 1000 });
    call.catch(() => undefined);
    await settle();
    const refusal = t.sent.find((m) => 'id' in m && m.id === 'srv-1' && 'error' in m);
    assert.ok(refusal && 'error' in refusal);
    assert.equal(refusal.error.code, -32601);
    assert.match(
      refusal.error.message,
      /on this session \(no request of this session is in flight with an event stream/,
    );
  });
});

describe('the connection', () => {
  test('the handshake: initialize with our protocol version, then initialized', async () => {
    const t = new ScriptedTransport(echoServer);
    const conn = new McpConnection('scripted', t, recorder(), CLIENT);
    const result = await conn.open(1000);
    assert.deepEqual(result['serverInfo'], { name: 'scripted', version: '1.0.0' });
    assert.deepEqual(
      t.sent.map((m) => ('method' in m ? m.method : 'response')),
      ['initialize', 'notifications/initialized'],
    );
    assert.equal(
      (t.sent[0] as unknown as { params: { protocolVersion: string } }).params.protocolVersion,
      STDIO_PROTOCOL_VERSION,
    );
  });

  test("callers' progress tokens are replaced by ours on the way in and restored on the way out", async () => {
    const t = new ScriptedTransport(echoServer);
    const conn = new McpConnection('scripted', t, recorder(), CLIENT);
    await conn.open(1000);
    const notes: JsonRpcNotification[] = [];
    const answers = await Promise.all(
      ['a', 'b'].map((text) =>
        conn.request(
          'tools/call',
          { name: 'echo', arguments: { text }, _meta: { progressToken: 'same' } },
          { timeoutMs: 1000, onNotification: (n) => notes.push(n) },
        ),
      ),
    );
    assert.deepEqual(
      answers.map(
        (a) => (a as unknown as { result: { content: { text: string }[] } }).result.content[0]?.text,
      ),
      ['a', 'b'],
    );
    const sentTokens = t.sent
      .filter((m) => 'method' in m && m.method === 'tools/call')
      .map(
        (m) => (m as unknown as { params: { _meta: { progressToken: string } } }).params._meta.progressToken,
      );
    assert.equal(new Set(sentTokens).size, 2, 'two callers with one token get two tokens of ours');
    assert.ok(!sentTokens.includes('same'));
    assert.deepEqual(
      notes.map((n) => (n.params as { progressToken: string }).progressToken),
      ['same', 'same'],
    );
  });

  test('a request that runs out of time fails with CallTimeoutError and stops the server', async () => {
    const t = new ScriptedTransport(echoServer);
    const conn = new McpConnection('scripted', t, recorder(), CLIENT);
    await conn.open(1000);
    await assert.rejects(conn.request('tools/call', { name: 'hang' }, { timeoutMs: 20 }), CallTimeoutError);
    assert.match(t.killedBecause ?? '', /timed out after 20 ms/);
    assert.equal(conn.alive, false);
  });

  test("an exit fails the pending call with the exit code and the server's last words", async () => {
    const t = new ScriptedTransport(echoServer);
    const conn = new McpConnection('scripted', t, recorder(), CLIENT);
    await conn.open(1000);
    await assert.rejects(
      conn.request('tools/call', { name: 'crash' }, { timeoutMs: 1000 }),
      (err: unknown) => {
        assert.ok(err instanceof ServerExitedError);
        assert.match(err.message, /7/);
        assert.match(err.message, /scripted crash/);
        return true;
      },
    );
  });
});

describe('the supervisor', () => {
  test('calls share the warm server; after a crash the next call starts a new one', async () => {
    const { supervisor, transports } = supervised();
    const deadline = () => Date.now() + 2000;
    const echo = (text: string) =>
      supervisor.use(deadline(), (conn, left) =>
        conn.request('tools/call', { name: 'echo', arguments: { text } }, { timeoutMs: left() }),
      );
    await echo('one');
    await echo('two');
    assert.equal(transports.length, 1, 'one start for two calls');
    await assert.rejects(
      supervisor.use(deadline(), (conn, left) =>
        conn.request('tools/call', { name: 'crash' }, { timeoutMs: left() }),
      ),
      ServerExitedError,
    );
    const after = (await echo('three')) as unknown as { result: { content: { text: string }[] } };
    assert.equal(after.result.content[0]?.text, 'three');
    assert.equal(transports.length, 2, 'a new server after the crash');
    await supervisor.shutdown();
  });

  test('recycle.maxInvocations retires the server after that many calls', async () => {
    const { supervisor, transports } = supervised('  recycle: { maxInvocations: 2 }\n');
    for (let i = 0; i < 3; i++)
      await supervisor.use(Date.now() + 2000, (conn, left) =>
        conn.request('tools/call', { name: 'echo', arguments: { text: String(i) } }, { timeoutMs: left() }),
      );
    assert.equal(transports.length, 2);
    await supervisor.settle(Date.now() + 1000);
    assert.ok(transports[0]?.exit, 'the retired server was stopped');
    await supervisor.shutdown();
  });
});

/** A handler on `clock` whose servers are scripted, and tools/call through its JSON-RPC front. */
function handlerOn(
  clock: ManualClock,
  launch: Partial<LaunchInput> = {},
  options: HandlerOptions = {},
  servers: Servers = {},
) {
  const { transports, transport } = scriptedServers(servers);
  const log = recorder();
  const handler = createHandler(
    { id: 'scripted', command: 'scripted-server', ...launch },
    { log, clock, transport, ...options },
  );
  let id = 0;
  /** Lambda leaves `remainingMs` of the invocation (on the clock). */
  const call = (name: string, args: Record<string, unknown> = {}, remainingMs = 60_000) =>
    handler(
      { jsonrpc: '2.0', id: ++id, method: 'tools/call', params: { name, arguments: args } },
      lambdaContext({ clock, remainingMs }),
    ) as Promise<JsonRpcResponse>;
  const started = () => log.lines.filter((l) => l === 'info server started').length;
  return { handler, transports, call, started };
}

type Answer = JsonRpcResponse | undefined;
const errorOf = (r: Answer): { code: number; message: string; data?: Record<string, unknown> } => {
  assert.ok(r && 'error' in r, `an error answer: ${JSON.stringify(r)}`);
  return r.error as { code: number; message: string; data?: Record<string, unknown> };
};
const textOf = (r: Answer): string => {
  assert.ok(r && 'result' in r, `a result: ${JSON.stringify(r)}`);
  return (r.result as { content: { text: string }[] }).content.map((c) => c.text).join('');
};

/** A kill that takes effect only when the test says the process group is gone. */
function slowKill(): { killTakes: Promise<void>; gone: () => void } {
  let gone!: () => void;
  const killTakes = new Promise<void>((resolve) => (gone = resolve));
  return { killTakes, gone };
}

describe('deadlines and ordering, on a manual clock', () => {
  for (const c of [
    { what: "the server's timeout when Lambda leaves more", timeout: 2, remainingMs: 60_000, at: 2_000 },
    {
      what: "Lambda's remaining time less 1 s when that is less",
      timeout: 60,
      remainingMs: 2_500,
      at: 1_500,
    },
    { what: 'never under 100 ms, however little Lambda leaves', timeout: 60, remainingMs: 500, at: 100 },
  ]) {
    test(`a call's deadline is ${c.what}: a hung call is answered at exactly ${c.at} ms, its process stopped`, async () => {
      const clock = new ManualClock();
      const h = handlerOn(clock, { timeout: c.timeout });
      await h.handler.ready;
      const hung = observe(h.call('hang', {}, c.remainingMs));
      await clock.advance(c.at - 1);
      assert.equal(hung.settled, false, `still waiting 1 ms before ${c.at} ms`);
      assert.equal(h.transports[0]?.killedBecause, undefined, 'and the process still running');
      await clock.advance(1);
      assert.equal(hung.settled, true, `answered at ${c.at} ms`);
      assert.deepEqual(errorOf(hung.value).data, { reason: 'timeout', method: 'tools/call', ms: c.at });
      assert.match(h.transports[0]?.killedBecause ?? '', new RegExp(`timed out after ${c.at} ms`));
      await h.handler.close();
    });
  }

  test('a hung call is answered once its process is gone, not before; the next call gets a new process', async () => {
    const clock = new ManualClock();
    const kill = slowKill();
    const h = handlerOn(clock, { timeout: 2 }, {}, { options: { killTakes: kill.killTakes } });
    await h.handler.ready;
    const hung = observe(h.call('hang'));
    await clock.advance(2_000);
    assert.match(h.transports[0]?.killedBecause ?? '', /timed out/, 'killed at the deadline');
    assert.equal(hung.settled, false, 'not answered while the process group is still going');
    kill.gone();
    await settle();
    assert.equal(errorOf(hung.value).data?.['reason'], 'timeout');
    const next = observe(h.call('echo', { text: 'again' }));
    await settle();
    assert.equal(textOf(next.value), 'again');
    assert.equal(h.transports.length, 2, 'a new process');
    await h.handler.close();
  });

  test('ready waits for a handshake that comes within the init budget; the first call is served by that start without waiting', async () => {
    const clock = new ManualClock();
    const h = handlerOn(clock, {}, {}, { script: slowInit(clock, 1_200) });
    const ready = observe(h.handler.ready);
    await clock.advance(1_199);
    assert.equal(ready.settled, false, 'ready waits for the handshake');
    await clock.advance(1);
    assert.equal(ready.settled, true, 'ready as soon as the handshake is done');
    assert.equal(h.started(), 1, 'the server is up before the first call');
    const first = observe(h.call('echo', { text: 'warm' }));
    await settle();
    assert.equal(
      textOf(first.value),
      'warm',
      'answered with the clock standing still: it did not pay the start',
    );
    assert.equal(h.transports.length, 1);
    await h.handler.close();
  });

  test('ready ends at the init budget without stopping a slow start; the first call waits for that same start', async () => {
    const clock = new ManualClock();
    const h = handlerOn(clock, {}, { initBudgetMs: 1_000 }, { script: slowInit(clock, 3_000) });
    const ready = observe(h.handler.ready);
    await clock.advance(999);
    assert.equal(ready.settled, false);
    await clock.advance(1);
    assert.equal(ready.settled, true, 'init ended at its budget');
    assert.equal(h.started(), 0, 'not ready yet');
    assert.equal(h.transports[0]?.killedBecause, undefined, 'and not stopped');
    assert.equal(h.transports[0]?.closing, false);
    assert.equal(h.handler.startError, undefined, 'nor given up');
    const first = observe(h.call('echo', { text: 'late' }, 20_000));
    await clock.advance(1_999);
    assert.equal(first.settled, false, 'the call waits for the start');
    await clock.advance(1);
    assert.equal(textOf(first.value), 'late', 'and is served when its handshake is done');
    assert.equal(h.transports.length, 1, 'by the process started during init');
    assert.equal(h.started(), 1, 'one start, not a second one');
    await h.handler.close();
  });

  test('an initialize that never answers is given up at the deadline of the call waiting for it, answered once its process is gone; the next start works', async () => {
    const clock = new ManualClock();
    const kill = slowKill();
    const h = handlerOn(
      clock,
      { timeout: 2 },
      { warmup: false },
      { script: [hangInit, echoServer], options: { killTakes: kill.killTakes } },
    );
    const first = observe(h.call('echo', { text: 'x' }));
    await clock.advance(1_999);
    assert.equal(first.settled, false);
    assert.equal(h.transports[0]?.killedBecause, undefined);
    await clock.advance(1);
    assert.equal(h.transports[0]?.killedBecause, 'its start was given up', 'given up at the 2 s deadline');
    assert.equal(first.settled, false, 'not answered while the process group is still going');
    kill.gone();
    await settle();
    const error = errorOf(first.value);
    assert.deepEqual(error.data, { reason: 'start_timeout', startedMsAgo: 2_000, waitedMs: 2_000 });
    assert.match(
      error.message,
      /^server "scripted" needs longer to start than the function's timeout allows: it had not finished initialize 2000 ms after it was started, and this invocation could wait 2000 ms; it was stopped/,
    );
    const next = observe(h.call('echo', { text: 'up' }));
    await settle();
    assert.equal(textOf(next.value), 'up');
    assert.equal(h.transports.length, 2);
    await h.handler.close();
  });

  test('a start is given up only when the last call waiting for it runs out of time', async () => {
    const clock = new ManualClock();
    const h = handlerOn(clock, {}, { warmup: false }, { script: hangInit });
    const short = observe(h.call('echo', { text: 'a' }, 1_500)); // its deadline: 500 ms
    const long = observe(h.call('echo', { text: 'b' }, 2_000)); // 1000 ms
    await clock.advance(500);
    assert.ok(errorOf(short.value).data?.['reason'] === 'start_timeout');
    assert.match(errorOf(short.value).message, /it goes on for the calls still waiting for it/);
    assert.equal(h.transports[0]?.killedBecause, undefined, 'the start goes on for the other call');
    await clock.advance(499);
    assert.equal(long.settled, false);
    await clock.advance(1);
    assert.match(errorOf(long.value).message, /it was stopped/);
    assert.equal(h.transports[0]?.killedBecause, 'its start was given up', 'stopped by the last waiter');
    assert.equal(h.transports.length, 1, 'both waited for one start');
    await h.handler.close();
  });

  test('two calls waiting for one start are each answered at their own deadline: the shorter gives up, the longer is served by that start', async () => {
    const clock = new ManualClock();
    const h = handlerOn(clock, {}, { warmup: false }, { script: slowInit(clock, 2_500) });
    const short = observe(h.call('echo', { text: 'a' }, 1_500)); // its deadline: 500 ms
    const long = observe(h.call('echo', { text: 'b' }, 20_000));
    await clock.advance(499);
    assert.equal(short.settled, false);
    await clock.advance(1);
    assert.equal(errorOf(short.value).data?.['reason'], 'start_timeout', 'the shorter at its 500 ms');
    assert.equal(long.settled, false);
    await clock.advance(1_999);
    assert.equal(long.settled, false);
    await clock.advance(1);
    assert.equal(textOf(long.value), 'b', 'the longer when the start is done, at 2500 ms');
    assert.equal(h.transports.length, 1, 'by the same start');
    assert.equal(h.transports[0]?.killedBecause, undefined);
    assert.equal(h.started(), 1);
    await h.handler.close();
  });

  test('a crash on start fails the call waiting for it at once, not at its deadline; the next call starts a new process', async () => {
    const clock = new ManualClock();
    const h = handlerOn(clock, { timeout: 20 }, { warmup: false }, { script: [crashOnStart, echoServer] });
    const first = observe(h.call('echo', { text: 'x' }));
    await settle();
    assert.equal(first.settled, true, 'answered with the clock standing still');
    const error = errorOf(first.value);
    assert.match(
      error.message,
      /^server "scripted" exited with code 3 before it finished initialize; its last stderr output: fatal: cannot open config/,
    );
    assert.deepEqual(error.data, { reason: 'server_exited', exitCode: 3, signal: null });
    const next = observe(h.call('echo', { text: 'back' }));
    await settle();
    assert.equal(textOf(next.value), 'back');
    await h.handler.close();
  });

  test('a crash mid-call fails that call at once, not at its deadline', async () => {
    const clock = new ManualClock();
    const h = handlerOn(clock, { timeout: 20 });
    await h.handler.ready;
    const crashed = observe(h.call('crash'));
    await settle();
    assert.equal(crashed.settled, true, 'answered with the clock standing still');
    assert.match(errorOf(crashed.value).message, /exited with code 7 during tools\/call/);
    await h.handler.close();
  });

  test('params MCP does not allow are refused at once by the bridge, never sent to the server', async () => {
    const clock = new ManualClock();
    const h = handlerOn(clock);
    await h.handler.ready;
    for (const params of [null, 'x', [1, 2], 5, { _meta: 'x' }, { _meta: { progressToken: {} } }]) {
      const answer = observe(
        h.handler({ jsonrpc: '2.0', id: 9, method: 'tools/list', params }, lambdaContext({ clock })),
      );
      await settle();
      assert.equal(answer.settled, true, `answered with the clock standing still: ${JSON.stringify(params)}`);
      assert.equal(errorOf(answer.value as Answer).code, -32602);
    }
    const sent = h.transports.flatMap((t) => t.sent).map((m) => ('method' in m ? m.method : 'response'));
    assert.deepEqual(sent, ['initialize', 'notifications/initialized']);
    await h.handler.close();
  });

  test('recycle.idleSeconds: a process idle longer than that is replaced at the next call', async () => {
    const clock = new ManualClock();
    const { supervisor, transports } = supervised('  recycle: { idleSeconds: 1 }\n', { clock });
    const echo = (text: string) =>
      supervisor.use(clock.now() + 2_000, (conn, left) =>
        conn.request('tools/call', { name: 'echo', arguments: { text } }, { timeoutMs: left() }),
      );
    await echo('a');
    await clock.advance(1_000);
    await echo('b');
    assert.equal(transports.length, 1, 'idle exactly 1 s: kept');
    await clock.advance(1_001);
    await echo('c');
    assert.equal(transports.length, 2, 'idle over 1 s: replaced');
    assert.equal(transports[0]?.closing, true, 'the idle process is closed');
    await supervisor.settle(clock.now() + 1_000);
    assert.ok(transports[0]?.exit, 'and gone once the call settled');
    await supervisor.shutdown();
  });

  test('a call in flight when the environment stops is told its server was stopped, and why', async () => {
    const clock = new ManualClock();
    const { supervisor, transports } = supervised('', { clock });
    const hung = observe(
      supervisor.use(clock.now() + 60_000, (conn, left) =>
        conn.request('tools/call', { name: 'hang', arguments: {} }, { timeoutMs: left() }),
      ),
    );
    const called = (): boolean =>
      transports[0]?.sent.some((m) => 'method' in m && m.method === 'tools/call') === true;
    for (let i = 0; i < 20 && !called(); i += 1) await settle();
    assert.ok(called(), 'the call reached the server');
    await supervisor.shutdown();
    await settle();
    assert.equal(transports[0]?.closing, true, 'closed, not killed');
    assert.ok(hung.error instanceof ServerExitedError, String(hung.error));
    assert.match(hung.error.message, /was stopped \(the environment is shutting down\)/);
  });

  test('settle() kills what is still closing at its deadline', async () => {
    const clock = new ManualClock();
    const { supervisor, transports } = supervised('  isolation: per-invocation\n', {
      clock,
      options: { ignoresClose: true },
    });
    await supervisor.use(clock.now() + 5_000, (conn, left) =>
      conn.request('tools/call', { name: 'echo', arguments: { text: 'once' } }, { timeoutMs: left() }),
    );
    assert.equal(transports[0]?.closing, true, 'the per-invocation process is asked to close');
    const settled = observe(supervisor.settle(clock.now() + 1_000));
    await clock.advance(999);
    assert.equal(settled.settled, false, 'waits for the close');
    assert.equal(transports[0]?.killedBecause, undefined);
    await clock.advance(1);
    assert.equal(transports[0]?.killedBecause, 'the invocation ended before it closed');
    assert.equal(settled.settled, true, 'and is done once it is gone');
    await supervisor.shutdown();
  });

  test("the handler answers once what its call stopped has closed, at the latest at the call's deadline", async () => {
    const clock = new ManualClock();
    const h = handlerOn(
      clock,
      { timeout: 2, isolation: 'per-invocation' },
      {},
      { options: { ignoresClose: true } },
    );
    const answer = observe(h.call('echo', { text: 'x' }));
    await clock.advance(1_999);
    assert.equal(h.transports[0]?.closing, true);
    assert.equal(answer.settled, false, 'not answered while its process is closing');
    await clock.advance(1);
    assert.equal(h.transports[0]?.killedBecause, 'the invocation ended before it closed');
    assert.equal(textOf(answer.value), 'x');
    await h.handler.close();
  });
});

describe('the bridge and the HTTP front', () => {
  const bridge = (): { bridge: McpBridge; supervisor: ServerSupervisor } => {
    const { supervisor } = supervised();
    return {
      supervisor,
      bridge: new McpBridge(new SupervisorBackend(supervisor), new ToolPolicy({ deny: ['secret'] })),
    };
  };
  const ctx = () => ({ deadline: Date.now() + 2000 });

  test('2025-era initialize is answered from the warm server; tools/list follows the tool policy', async () => {
    const b = bridge();
    const init = (await b.bridge.handle(
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: CLIENT },
      },
      ctx(),
    )) as JsonRpcResponse & { result: Record<string, unknown> };
    assert.deepEqual(init.result['serverInfo'], { name: 'scripted', version: '1.0.0' });
    const list = (await b.bridge.handle(
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      ctx(),
    )) as unknown as {
      result: { tools: { name: string }[] };
    };
    assert.deepEqual(
      list.result.tools.map((t) => t.name),
      ['echo', 'hang', 'crash'],
    );
    const denied = (await b.bridge.handle(
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'secret', arguments: {} } },
      ctx(),
    )) as { error?: { code: number } };
    assert.ok(denied.error, 'a denied tool is not called');
    await b.supervisor.shutdown();
  });

  test('params MCP does not allow are refused with -32602 at once; a notification gets no answer', async () => {
    const b = bridge();
    const bad = (await b.bridge.handle(
      { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'echo', _meta: 'not an object' } },
      ctx(),
    )) as { error: { code: number } };
    assert.equal(bad.error.code, -32602);
    assert.equal(
      await b.bridge.handle({ jsonrpc: '2.0', method: 'notifications/initialized' }, ctx()),
      undefined,
    );
    await b.supervisor.shutdown();
  });

  test('the HTTP front: POST JSON in, JSON out; other methods, types, origins and bodies get their status', async () => {
    const b = bridge();
    const post = (body: string, headers: Record<string, string> = {}, method = 'POST') =>
      httpFront(
        {
          method,
          path: '/mcp',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...headers,
          },
          body,
        },
        b.bridge,
        { deadline: Date.now() + 2000 },
      );
    const ok = await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'hi' } },
      }),
    );
    assert.equal(ok.statusCode, 200);
    assert.match(ok.body, /"text":"hi"/);
    assert.equal((await post('', {}, 'GET')).statusCode, 405);
    assert.equal((await post('{}', { 'content-type': 'text/plain' })).statusCode, 415);
    assert.equal((await post('{}', { accept: 'text/html' })).statusCode, 406);
    assert.equal((await post('{}', { origin: 'https://evil.example' })).statusCode, 403);
    const broken = await post('{"jsonrpc":');
    assert.equal(broken.statusCode, 400);
    assert.equal((JSON.parse(broken.body) as { error: { code: number } }).error.code, -32700);
    await b.supervisor.shutdown();
  });
});
