// In-process unit tests of the runtime's core over a scripted transport: no processes, no network.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { toLaunchSpec, type LaunchSpec } from '../../src/config/model.js';
import { ToolPolicy } from '../../src/config/tool-filter.js';
import { McpBridge } from '../../src/protocol/bridge.js';
import { SupervisorBackend } from '../../src/runtime/backend.js';
import { ServerExitedError } from '../../src/runtime/child.js';
import { CallTimeoutError, McpConnection } from '../../src/runtime/connection.js';
import { httpFront } from '../../src/protocol/http.js';
import type { JsonRpcNotification, JsonRpcResponse } from '../../src/protocol/jsonrpc.js';
import { LineSplitter, StderrSink } from '../../src/runtime/lines.js';
import { STDIO_PROTOCOL_VERSION } from '../../src/runtime/limits.js';
import { ServerSupervisor } from '../../src/runtime/supervisor.js';
import { echoServer, recorder, ScriptedTransport } from './scripted.js';

const CLIENT = { name: 'unit', version: '1' };

function spec(extra = ''): LaunchSpec {
  const { config } = parseConfig(`scripted:\n  command: scripted-server\n${extra}`);
  const server = config?.servers[0];
  assert.ok(server, 'the config parses');
  return toLaunchSpec(server);
}

function supervised(extra = ''): { supervisor: ServerSupervisor; transports: ScriptedTransport[] } {
  const transports: ScriptedTransport[] = [];
  const supervisor = new ServerSupervisor(spec(extra), {
    log: recorder(),
    clientInfo: CLIENT,
    transport: () => {
      const t = new ScriptedTransport(echoServer);
      transports.push(t);
      return t;
    },
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
