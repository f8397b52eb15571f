/**
 * Servers that keep state, in `mcp-fleet dev`, with the real memory server and real MCP clients:
 * on host `agentcore-runtime` each client session has its own server (an environment per session,
 * as AgentCore Runtime has a microVM per session), reached through the gateway's sessions and
 * through the server's own endpoint; on host `function` the state lives in one environment, and a
 * call that lands on another finds nothing (the loss `mcp-fleet plan` warns about). A session
 * ends at its idle timeout (a manual clock), and its next request is answered as AgentCore answers
 * it; the gateway then starts a new session. Nothing is left running at the end.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfigOrThrow, parseConfig } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { StreamedHttpReader } from '../../src/local/lambda/function-url.js';
import { LocalFunction } from '../../src/local/lambda/function.js';
import { MCP_SESSION_HEADER } from '../../src/local/lambda/sessions.js';
import { mcpPostEvent } from '../../src/local/gateway/mcp-target.js';
import { tempDir } from '../helpers.js';
import { assertNoneLeft, BIN, marker } from '../runtime/support.js';
import { ManualClock } from '../support/clock.js';
import { eventually } from '../support/eventually.js';

const mark = marker();
let dir: string;
let cleanup: () => Promise<void>;
let fleet: RunningFleet;
const clients: Client[] = [];
/** What ended environments said of their /tmp (a call read what an earlier call wrote), by server. */
const stateFiles: { id: string; files: readonly string[] }[] = [];

const ADA = {
  entities: [{ name: 'Ada', entityType: 'person', observations: ['wrote the first program'] }],
};

async function connect(url: URL): Promise<Client> {
  const client = new Client({ name: 'sessions-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(url));
  clients.push(client);
  return client;
}

/** The names of the entities a read_graph result holds. */
function entityNames(result: Awaited<ReturnType<Client['callTool']>>): string[] {
  assert.notEqual(result.isError, true, JSON.stringify(result.content));
  const structured = result.structuredContent as { entities?: { name: string }[] } | undefined;
  if (structured?.entities) return structured.entities.map((e) => e.name);
  const text =
    (result.content as { type: string; text?: string }[]).find((c) => c.type === 'text')?.text ?? '{}';
  return ((JSON.parse(text) as { entities?: { name: string }[] }).entities ?? []).map((e) => e.name);
}

/** What the fleet told the developer (dev's output) beside the answers. */
const notices: string[] = [];

before(async () => {
  ({ dir, cleanup } = await tempDir());
  const file = path.join(dir, 'servers.yaml');
  // Each environment's /tmp is its own, as in Lambda and AgentCore: the memory file lives there.
  await writeFile(
    file,
    `defaults:
  env: { MCP_FLEET_TEST_MARKER: "${mark.value}", MEMORY_FILE_PATH: /tmp/memory.jsonl }
servers:
  memory:
    command: ${BIN('mcp-server-memory')}
    host: agentcore-runtime
    state: session
  memory-fn:
    command: ${BIN('mcp-server-memory')}
`,
  );
  fleet = await startFleet(await loadConfigOrThrow(file), {
    port: 0,
    buildDir: false,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    onStateFiles: (id, files) => {
      stateFiles.push({ id, files });
    },
    onNotice: (line) => notices.push(line),
  });
});

after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await fleet.close();
  await assertNoneLeft(mark.value);
  await cleanup();
});

describe('agentcore-runtime: a server per session', () => {
  test('through the gateway, two clients are two sessions: what A creates B does not see, and A keeps it', async () => {
    const gateway = new URL(`${fleet.url}/mcp`);
    const a = await connect(gateway);
    const b = await connect(gateway);
    const created = await a.callTool({ name: 'memory___create_entities', arguments: ADA });
    assert.notEqual(created.isError, true, JSON.stringify(created.content));
    assert.deepEqual(entityNames(await b.callTool({ name: 'memory___read_graph', arguments: {} })), []);
    assert.deepEqual(entityNames(await a.callTool({ name: 'memory___read_graph', arguments: {} })), ['Ada']);
    assert.deepEqual(entityNames(await a.callTool({ name: 'memory___read_graph', arguments: {} })), ['Ada']);
    // One server per session: A's and B's (the discovery's session ended after it listed).
    const fn = fleet.lambda.forServer('memory');
    assert.ok(fn);
    await eventually(
      () => {
        assert.equal(fn.sessionList.length, 2);
        return true;
      },
      { what: 'two sessions of the memory server' },
    );
    const status = (await (await fetch(`${fleet.url}/status`)).json()) as {
      functions: { id: string; sessions?: { calls: number }[] }[];
    };
    const shown = status.functions.find((f) => f.id === 'memory');
    assert.equal(shown?.sessions?.length, 2, JSON.stringify(shown));
  });

  test("through the server's own endpoint (the runtime's invocation URL), each client's session keeps its own graph", async () => {
    const endpoint = new URL(`${fleet.url}/servers/memory/mcp`);
    const a = await connect(endpoint);
    const b = await connect(endpoint);
    await a.callTool({ name: 'create_entities', arguments: ADA });
    assert.deepEqual(entityNames(await a.callTool({ name: 'read_graph', arguments: {} })), ['Ada']);
    assert.deepEqual(entityNames(await b.callTool({ name: 'read_graph', arguments: {} })), []);
  });

  test('a target session that ended is started again by the gateway: the call is answered, the state is gone', async () => {
    const a = await connect(new URL(`${fleet.url}/mcp`));
    await a.callTool({ name: 'memory___create_entities', arguments: ADA });
    const fn = fleet.lambda.forServer('memory');
    assert.ok(fn);
    // Every session's environment ends (as when AgentCore ends them).
    assert.ok(fn.killEnvironments() > 0);
    await eventually(() => fn.environmentList.length === 0, { what: 'every environment ended' });
    assert.deepEqual(entityNames(await a.callTool({ name: 'memory___read_graph', arguments: {} })), []);
    // The caller's answer does not say the state is gone: dev's output does.
    assert.ok(
      notices.some((n) =>
        /^memory: its session for gateway session \S+ had ended \(its idle timeout or lifetime\); the gateway started a new one, so what the server kept in the old one is gone$/.test(
          n,
        ),
      ),
      JSON.stringify(notices),
    );
  });
});

describe("the gateway's sessions", () => {
  test('an initialize gets a session id; an unknown one is answered 404; DELETE ends it and its target sessions', async () => {
    const url = `${fleet.url}/mcp`;
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const post = (body: unknown, session?: string): Promise<Response> =>
      fetch(url, {
        method: 'POST',
        headers: { ...headers, ...(session ? { 'mcp-session-id': session } : {}) },
        body: JSON.stringify(body),
      });
    const init = await post({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    assert.equal(init.status, 200);
    const session = init.headers.get('mcp-session-id');
    assert.ok(session);
    await init.text();
    const unknown = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, 'no-such-session');
    assert.equal(unknown.status, 404);
    assert.match(await unknown.text(), /Session not found/);
    // A call in the session starts a target session of the runtime server; DELETE ends both.
    const fn = fleet.lambda.forServer('memory');
    assert.ok(fn);
    const before = fn.sessionList.length;
    const call = await post(
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'memory___read_graph', arguments: {} } },
      session,
    );
    assert.equal(call.status, 200);
    await call.text();
    assert.equal(fn.sessionList.length, before + 1);
    const del = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': session } });
    assert.equal(del.status, 200);
    await eventually(() => fn.sessionList.length === before, {
      what: "the deleted session's target session ended",
    });
    const after = await post({ jsonrpc: '2.0', id: 4, method: 'tools/list' }, session);
    assert.equal(after.status, 404);
  });

  test('with sessions on: a DELETE without a session id is a 400 that says to name it; another method a 405 naming the three', async () => {
    const url = `${fleet.url}/mcp`;
    const nameless = await fetch(url, { method: 'DELETE' });
    assert.equal(nameless.status, 400);
    assert.match(await nameless.text(), /DELETE ends a session; name it \(Mcp-Session-Id\)/);
    const put = await fetch(url, { method: 'PUT', body: '{}' });
    assert.equal(put.status, 405);
    assert.match(await put.text(), /takes POST, GET \(a session's event stream\) and DELETE/);
  });
});

describe('function: the state of one environment is not in the next', () => {
  test('an entity created on one environment is lost when the next call lands on another (expected of host function)', async () => {
    const a = await connect(new URL(`${fleet.url}/mcp`));
    await a.callTool({ name: 'memory-fn___create_entities', arguments: ADA });
    assert.deepEqual(entityNames(await a.callTool({ name: 'memory-fn___read_graph', arguments: {} })), [
      'Ada',
    ]);
    const fn = fleet.lambda.forServer('memory-fn');
    assert.ok(fn);
    // Lambda reclaims the environment that served it; the next call gets a new one, with its own /tmp.
    assert.ok(fn.killEnvironments() > 0);
    await eventually(() => fn.environmentList.length === 0, { what: 'every environment ended' });
    assert.deepEqual(entityNames(await a.callTool({ name: 'memory-fn___read_graph', arguments: {} })), []);
    // What mcp-fleet plan is told: the environment that ended had a file a later call read.
    assert.deepEqual(
      stateFiles.filter((s) => s.id === 'memory-fn').map((s) => s.files),
      [['memory.jsonl']],
    );
  });
});

describe('a session ends at its idle timeout', () => {
  test('on a manual clock: idle past idleTimeout, the environment ends and the next request gets 404 Session not found', async () => {
    const { config } = parseConfig(
      `servers:\n  memory:\n    command: ${BIN('mcp-server-memory')}\n    host: agentcore-runtime\n    idleTimeout: 120\n    env: { MCP_FLEET_TEST_MARKER: "${mark.value}", MEMORY_FILE_PATH: /tmp/memory.jsonl }\n`,
    );
    assert.ok(config);
    const clock = new ManualClock();
    const fn = new LocalFunction(config.servers[0]!, {
      workDir: path.join(dir, 'idle'),
      cwd: dir,
      region: 'us-east-1',
      clock,
      env: { ...process.env, ...mark.env },
    });
    try {
      const post = async (
        body: unknown,
        session?: string,
      ): Promise<{ status: number | undefined; headers: Record<string, string>; body: string }> => {
        let text = '';
        const reader = new StreamedHttpReader(
          () => undefined,
          (data) => {
            text += data.toString('utf8');
          },
        );
        const event = mcpPostEvent(
          'memory',
          JSON.stringify(body),
          session ? { [MCP_SESSION_HEADER]: session } : {},
        );
        await fn.invoke(event, {
          onChunk: (data, type) => {
            reader.push(data, type);
          },
        });
        return { status: reader.statusCode, headers: reader.headers, body: text };
      };
      const init = await post({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      });
      assert.equal(init.status, 200, init.body);
      const session = init.headers[MCP_SESSION_HEADER];
      assert.ok(session, `initialize answered without a session id: ${JSON.stringify(init.headers)}`);
      const list = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, session);
      assert.equal(list.status, 200, list.body);
      assert.match(list.body, /read_graph/);
      assert.equal(fn.sessionList.length, 1);
      // Just short of the idle timeout: still there.
      await clock.advance(119_000);
      assert.equal(fn.sessionList.length, 1);
      await clock.advance(1_000);
      assert.equal(fn.sessionList.length, 0);
      assert.equal(fn.sessionsEnded?.idle, 1);
      await eventually(() => fn.environmentList.length === 0, {
        what: "the idle session's environment ended",
      });
      const late = await post({ jsonrpc: '2.0', id: 3, method: 'tools/list' }, session);
      assert.equal(late.status, 404);
      assert.match(late.body, /Session not found/);
    } finally {
      await fn.shutdown();
    }
  });
});
