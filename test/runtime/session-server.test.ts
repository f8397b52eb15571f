// The AgentCore Runtime session entry: stateful MCP Streamable HTTP, one server per session, with
// real servers (server-memory for state, server-everything for progress) and the MCP SDK's own
// clients (v1.32 in the 2025 era, v2 in both eras); its bundle run as AgentCore runs it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { bundleRuntime, type BundleResult } from '../../src/build/bundle.js';
import { groupMembers } from '../../src/platform/processes.js';
import type { LaunchInput } from '../../src/runtime/index.js';
import {
  startSessionServer,
  type SessionInfo,
  type SessionServer,
} from '../../src/runtime/session-server.js';
import { SESSION_DIR_ENV } from '../../src/runtime/session-table.js';
import { freePort } from '../helpers.js';
import { eventually, exited, outputOf, waitForText } from '../support/eventually.js';
import { assertNoneLeft, BIN, isAlive, marker, markedProcesses, RecordingLog, text } from './support.js';
import { answerText, post, toolCall } from './web-support.js';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

const RUNTIME_HEADER = 'X-Amzn-Bedrock-AgentCore-Runtime-Session-Id';
/** AgentCore's runtime session ids are 33 characters or more. */
const runtimeId = (name: string): string =>
  `${name}-${'0'.repeat(33)}-${Math.random().toString(36).slice(2)}`;
/** server-memory's file, in each session's own folder. */
const MEMORY_FILE = `\${${SESSION_DIR_ENV}}/memory.jsonl`;

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-session-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const memory = (env: Record<string, string>): LaunchInput => ({
  id: 'memory',
  command: BIN('mcp-server-memory'),
  env: { ...env, MEMORY_FILE_PATH: MEMORY_FILE },
});
const everything = (env: Record<string, string>): LaunchInput => ({
  id: 'everything',
  command: BIN('mcp-server-everything'),
  args: ['stdio'],
  env,
});

const entity = (name: string): Record<string, unknown> => ({
  entities: [{ name, entityType: 'test', observations: [`made by ${name}`] }],
});
const graphNames = (result: unknown): string[] =>
  (JSON.parse(text(result)) as { entities: { name: string }[] }).entities.map((e) => e.name).sort();

/** A v1.32 SDK client of the 2025 era, connected (its initialize begins a session). */
async function connectV1(
  url: string,
  headers: Record<string, string> = {},
): Promise<{
  client: ClientV1;
  transport: TransportV1;
}> {
  const client = new ClientV1({ name: 'session-test', version: '1.0.0' });
  const transport = new TransportV1(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return { client, transport };
}

/** A v2 SDK client, in the era given, with the platform's session header when given. */
async function connectV2(url: string, era: '2025' | '2026-07-28', runtime?: string): Promise<Client> {
  const client = new Client(
    { name: `session-test-${era}`, version: '1.0.0' },
    era === '2025' ? {} : { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  const headers: Record<string, string> = runtime === undefined ? {} : { [RUNTIME_HEADER]: runtime };
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

describe("${MCP_FLEET_SESSION_DIR} in a server's args and working directory", () => {
  test("server-filesystem given its session's folder in args: each session's allowed directory is its own folder", async () => {
    const mark = marker();
    const server = await startSessionServer(
      {
        id: 'files',
        command: BIN('mcp-server-filesystem'),
        args: [`\${${SESSION_DIR_ENV}}`],
        cwd: `\${${SESSION_DIR_ENV}}`,
        env: mark.env,
      },
      { host: '127.0.0.1', port: 0, log: new RecordingLog(), sessionsDir: path.join(dir, 'files-sessions') },
    );
    const a = await connectV1(server.url);
    try {
      const listed = text(await a.client.callTool({ name: 'list_allowed_directories', arguments: {} }));
      const session = server.sessions().find((s) => s.id === a.transport.sessionId);
      assert.ok(session, 'the session is in the table');
      assert.ok(listed.includes(session.dir), `${listed} names ${session.dir}`);
      assert.ok(!listed.includes(SESSION_DIR_ENV), `the placeholder is replaced: ${listed}`);
    } finally {
      await a.client.close();
      await server.close();
      await assertNoneLeft(mark.value);
    }
  });
});

describe('sessions of server-memory, in process', () => {
  const mark = marker();
  let server: SessionServer;
  let log: RecordingLog;
  before(async () => {
    log = new RecordingLog();
    server = await startSessionServer(memory(mark.env), {
      host: '127.0.0.1',
      port: 0,
      log,
      sessionsDir: path.join(dir, 'memory-sessions'),
    });
  });
  after(async () => {
    await server.close();
    await assertNoneLeft(mark.value);
    assert.ok(!existsSync(path.join(dir, 'memory-sessions', 's1')), 'the session folders are removed');
  });

  test('two clients are two sessions: what A creates B does not see, and A still sees on its next call', async () => {
    const a = await connectV1(server.url);
    const b = await connectV1(server.url);
    try {
      assert.ok(a.transport.sessionId !== undefined && b.transport.sessionId !== undefined);
      assert.notEqual(a.transport.sessionId, b.transport.sessionId);
      await a.client.callTool({ name: 'create_entities', arguments: entity('alice') });
      assert.deepEqual(graphNames(await b.client.callTool({ name: 'read_graph', arguments: {} })), []);
      assert.deepEqual(graphNames(await a.client.callTool({ name: 'read_graph', arguments: {} })), ['alice']);
      await b.client.callTool({ name: 'create_entities', arguments: entity('bob') });
      assert.deepEqual(graphNames(await a.client.callTool({ name: 'read_graph', arguments: {} })), ['alice']);

      const sessions = server
        .sessions()
        .filter((s) => [a.transport.sessionId, b.transport.sessionId].includes(s.id));
      assert.equal(sessions.length, 2);
      const [sa, sb] = [a, b].map((c) => sessions.find((s) => s.id === c.transport.sessionId));
      assert.ok(sa && sb);
      assert.equal(sa.pids.length, 1, 'one server process per session');
      assert.notEqual(sa.pids[0], sb.pids[0], 'each session its own server process');
      // Each server wrote its own file, in its own session folder.
      for (const s of [sa, sb]) assert.ok(existsSync(path.join(s.dir, 'memory.jsonl')), s.dir);
      assert.notEqual(sa.dir, sb.dir);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });

  test("the platform's session id: a new one starts its session, answered with the same id in Mcp-Session-Id; either header reaches it later", async () => {
    const id = runtimeId('platform');
    const made = await post(server.url, toolCall(1, 'create_entities', entity('carol')), {
      headers: { [RUNTIME_HEADER]: id },
    });
    assert.equal(made.status, 200, made.text);
    assert.equal(made.headers.get('mcp-session-id'), id);
    const both: Record<string, string>[] = [
      { 'mcp-session-id': id },
      { [RUNTIME_HEADER]: id },
      { 'mcp-session-id': id, [RUNTIME_HEADER]: id },
    ];
    for (const headers of both) {
      const read = await post(server.url, toolCall(2, 'read_graph', {}), { headers });
      assert.equal(read.headers.get('mcp-session-id'), id);
      assert.deepEqual(
        (JSON.parse(answerText(read)) as { entities: { name: string }[] }).entities.map((e) => e.name),
        ['carol'],
        JSON.stringify(headers),
      );
    }
    // An SDK client behind the platform: its initialize carries the platform's id, and the client
    // keeps the id it is answered with.
    const other = runtimeId('sdk');
    const c = await connectV1(server.url, { [RUNTIME_HEADER]: other });
    try {
      assert.equal(c.transport.sessionId, other);
      assert.deepEqual(graphNames(await c.client.callTool({ name: 'read_graph', arguments: {} })), []);
    } finally {
      await c.client.close();
    }
  });

  test("the 2026-07-28 era (no session of its own): the platform's session header picks the server", async () => {
    const id = runtimeId('modern');
    const first = await connectV2(server.url, '2026-07-28', id);
    const again = await connectV2(server.url, '2026-07-28', id);
    const elsewhere = await connectV2(server.url, '2026-07-28', runtimeId('modern-other'));
    try {
      assert.equal(first.getNegotiatedProtocolVersion(), '2026-07-28');
      await first.callTool({ name: 'create_entities', arguments: entity('dave') });
      assert.deepEqual(graphNames(await again.callTool({ name: 'read_graph', arguments: {} })), ['dave']);
      assert.deepEqual(graphNames(await elsewhere.callTool({ name: 'read_graph', arguments: {} })), []);
    } finally {
      await Promise.all([first.close(), again.close(), elsewhere.close()]);
    }
    // The 2025 era through the v2 client too.
    const legacy = await connectV2(server.url, '2025');
    try {
      assert.deepEqual(graphNames(await legacy.callTool({ name: 'read_graph', arguments: {} })), []);
    } finally {
      await legacy.close();
    }
  });

  test('an unknown session id gets 404 "Session not found"; no id on a request other than initialize gets 400', async () => {
    for (const method of ['POST', 'DELETE']) {
      const answer = await post(server.url, toolCall(1, 'read_graph', {}), {
        method,
        headers: { 'mcp-session-id': 'never-issued-here' },
      });
      assert.equal(answer.status, 404, `${method}: ${answer.text}`);
      const error = answer.messages[0]?.['error'] as { code: number; message: string };
      assert.equal(error.code, -32001);
      assert.match(error.message, /^Session not found: never-issued-here/);
    }
    // A platform id starts a session; an Mcp-Session-Id it does not match is still unknown.
    const mismatched = await post(server.url, toolCall(1, 'read_graph', {}), {
      headers: { 'mcp-session-id': 'never-issued-here', [RUNTIME_HEADER]: runtimeId('x') },
    });
    assert.equal(mismatched.status, 404);
    const none = await post(server.url, toolCall(1, 'read_graph', {}));
    assert.equal(none.status, 400);
    assert.match((none.messages[0]?.['error'] as { message: string }).message, /no session/);
    // A GET opens a session's event stream: it must accept one, and name a session.
    const get = await post(server.url, undefined, { method: 'GET' });
    assert.equal(get.status, 406);
    const getNoSession = await post(server.url, undefined, { method: 'GET', sse: true });
    assert.equal(getNoSession.status, 400);
    const put = await post(server.url, {}, { method: 'PUT' });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, POST, DELETE, OPTIONS');
  });

  test('a page of another origin is refused 403 before any session starts; OPTIONS answers the methods', async () => {
    const before = server.sessions().length;
    const id = runtimeId('cross');
    const cross = await post(server.url, toolCall(1, 'read_graph', {}), {
      headers: { origin: 'https://evil.example', [RUNTIME_HEADER]: id },
    });
    assert.equal(cross.status, 403);
    assert.equal(server.sessions().length, before, 'no session started');
    assert.ok(!server.sessions().some((s) => s.id === id));
    const options = await post(server.url, undefined, { method: 'OPTIONS' });
    assert.equal(options.status, 204);
    assert.equal(options.headers.get('allow'), 'GET, POST, DELETE, OPTIONS');
  });

  test('DELETE ends the session: its server process group is gone, its folder removed, its id answers 404; other sessions go on', async () => {
    const a = await connectV1(server.url);
    const b = await connectV1(server.url);
    try {
      await a.client.callTool({ name: 'create_entities', arguments: entity('erin') });
      await b.client.callTool({ name: 'read_graph', arguments: {} });
      const id = a.transport.sessionId ?? '';
      const session = server.sessions().find((s) => s.id === id);
      assert.ok(session?.pids[0] !== undefined);
      const pid = session.pids[0];
      assert.ok(await isAlive(pid));
      await a.transport.terminateSession();
      assert.equal(await isAlive(pid), false, 'the session server is gone once DELETE has answered');
      assert.deepEqual(groupMembers(pid), [], 'and nothing of its process group is left');
      assert.ok(!existsSync(session.dir), 'its folder is removed');
      assert.ok(!server.sessions().some((s) => s.id === id));
      const after = await post(server.url, toolCall(1, 'read_graph', {}), {
        headers: { 'mcp-session-id': id },
      });
      assert.equal(after.status, 404);
      // The same id from the platform does not start it again: it ended here.
      const replay = await post(server.url, toolCall(1, 'read_graph', {}), {
        headers: { [RUNTIME_HEADER]: id },
      });
      assert.equal(replay.status, 404);
      assert.deepEqual(graphNames(await b.client.callTool({ name: 'read_graph', arguments: {} })), []);
      assert.ok(log.entries.some((e) => e.message === 'session ended' && e.extra?.['sessionId'] === id));
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });
});

describe('progress of sessions of server-everything, in process', () => {
  const mark = marker();
  let server: SessionServer;
  before(async () => {
    server = await startSessionServer(everything(mark.env), {
      host: '127.0.0.1',
      port: 0,
      log: new RecordingLog(),
    });
  });
  after(async () => {
    await server.close();
    await assertNoneLeft(mark.value);
  });

  /** A long call with `steps` steps; answers the progress its caller got and the result's text. */
  const long = async (client: Client, steps: number): Promise<{ progress: string[]; result: string }> => {
    const progress: string[] = [];
    const result = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 1, steps } },
      { onprogress: (p) => progress.push(`${p.progress}/${String(p.total)}`) },
    );
    return { progress, result: text(result) };
  };
  const expected = (steps: number): string[] => Array.from({ length: steps }, (_, i) => `${i + 1}/${steps}`);

  test('two concurrent long calls of two sessions, and two of one session: each caller gets its own progress', async () => {
    const a = await connectV2(server.url, '2025');
    const b = await connectV2(server.url, '2026-07-28', runtimeId('progress'));
    try {
      const [a3, b5, a4] = await Promise.all([long(a, 3), long(b, 5), long(a, 4)]);
      assert.deepEqual(a3.progress, expected(3));
      assert.deepEqual(b5.progress, expected(5));
      assert.deepEqual(a4.progress, expected(4));
      assert.match(a3.result, /Steps: 3\b/);
      assert.match(b5.result, /Steps: 5\b/);
      assert.match(a4.result, /Steps: 4\b/);
      assert.equal(server.sessions().length, 2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('SSE to a client that accepts it (progress before the answer), JSON to one that does not', async () => {
    const id = runtimeId('sse');
    const call = toolCall(
      1,
      'trigger-long-running-operation',
      { duration: 1, steps: 2 },
      { progressToken: 'p' },
    );
    const sse = await post(server.url, call, { sse: true, headers: { [RUNTIME_HEADER]: id } });
    assert.equal(sse.headers.get('content-type'), 'text/event-stream');
    assert.equal(sse.headers.get('mcp-session-id'), id);
    assert.deepEqual(
      sse.messages.map((m) => m['method'] ?? `answer ${String(m['id'])}`),
      ['notifications/progress', 'notifications/progress', 'answer 1'],
    );
    const json = await post(server.url, call, { headers: { 'mcp-session-id': id } });
    assert.equal(json.headers.get('content-type'), 'application/json');
    assert.equal(json.headers.get('mcp-session-id'), id);
    assert.match(answerText(json), /Steps: 2\b/);
  });
});

describe("a server's questions to its client (elicitation, sampling), in process", () => {
  const mark = marker();
  let server: SessionServer;
  let log: RecordingLog;
  before(async () => {
    log = new RecordingLog();
    // A call may last 2 s (the timeout less the runtime's 1 s margin): a client that never answers.
    server = await startSessionServer(
      { ...everything(mark.env), timeout: 3 },
      { host: '127.0.0.1', port: 0, log },
    );
  });
  after(async () => {
    await server.close();
    await assertNoneLeft(mark.value);
  });

  /** A v1.32 client that answers sampling and elicitation as `answers` says. */
  async function asked(answers: {
    elicit: () => Promise<Record<string, unknown>>;
    sample?: (prompt: string) => string;
  }): Promise<{ client: ClientV1; transport: TransportV1; asked: string[] }> {
    const client = new ClientV1(
      { name: 'asked', version: '1.0.0' },
      { capabilities: { sampling: {}, elicitation: {} } },
    );
    const seen: string[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, (req) => {
      seen.push(req.method);
      const first = req.params.messages[0]?.content;
      const prompt = first !== undefined && 'text' in first ? first.text : '';
      return {
        model: 'test-model',
        role: 'assistant' as const,
        content: { type: 'text' as const, text: (answers.sample ?? ((p) => `sampled: ${p}`))(prompt) },
      };
    });
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      seen.push(req.method);
      return answers.elicit();
    });
    const transport = new TransportV1(new URL(server.url));
    await client.connect(transport);
    return { client, transport, asked: seen };
  }

  test('sampling and elicitation: the client is asked on the call stream, and the tool result holds its answers', async () => {
    const { client, asked: seen } = await asked({
      elicit: () => Promise.resolve({ action: 'accept', content: { name: 'Ada Lovelace', check: true } }),
    });
    try {
      // The server learnt at its initialize what the client can answer: it offers the tools that ask.
      const names = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('trigger-sampling-request'), names.join(', '));
      assert.ok(names.includes('trigger-elicitation-request'), names.join(', '));
      const sampled = text(
        await client.callTool({
          name: 'trigger-sampling-request',
          arguments: { prompt: 'the sky', maxTokens: 5 },
        }),
      );
      assert.match(sampled, /sampled: Resource trigger-sampling-request context: the sky/);
      const elicited = text(await client.callTool({ name: 'trigger-elicitation-request', arguments: {} }));
      assert.match(elicited, /User provided the requested information/);
      assert.match(elicited, /Name: Ada Lovelace/);
      assert.match(elicited, /Agreed to terms: true/);
      assert.deepEqual(seen, ['sampling/createMessage', 'elicitation/create']);
    } finally {
      await client.close();
    }
  });

  test("a client that declines: the server's handling of a decline", async () => {
    const { client } = await asked({ elicit: () => Promise.resolve({ action: 'decline' }) });
    try {
      const result = text(await client.callTool({ name: 'trigger-elicitation-request', arguments: {} }));
      assert.match(result, /User declined to provide the requested information/);
    } finally {
      await client.close();
    }
  });

  test("two sessions asked at once: each one's answer reaches its own server", async () => {
    const one = await asked({
      elicit: () => Promise.resolve({ action: 'accept', content: {} }),
      sample: () => 'one',
    });
    const two = await asked({
      elicit: () => Promise.resolve({ action: 'accept', content: {} }),
      sample: () => 'two',
    });
    try {
      const call = (c: ClientV1): Promise<string> =>
        c
          .callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'who', maxTokens: 5 } })
          .then((r) => text(r));
      const [a, b] = await Promise.all([call(one.client), call(two.client)]);
      assert.match(a, /\bone\b/);
      assert.doesNotMatch(a, /\btwo\b/);
      assert.match(b, /\btwo\b/);
      assert.doesNotMatch(b, /\bone\b/);
    } finally {
      await Promise.all([one.client.close(), two.client.close()]);
    }
  });

  test("the session's event stream (GET): the server's notifications of no call reach the client; it ends with the session", async () => {
    const client = new ClientV1({ name: 'listener', version: '1.0.0' });
    const updated: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updated.push(n.params.uri);
    });
    const transport = new TransportV1(new URL(server.url));
    await client.connect(transport);
    const session = (): SessionInfo | undefined =>
      server.sessions().find((x) => x.id === transport.sessionId);
    try {
      // The SDK's client opens the stream once the session is initialized.
      await eventually(() => session()?.stream === true, { what: "the session's event stream open" });
      const [first] = (await client.listResources()).resources;
      assert.ok(first);
      await client.subscribeResource({ uri: first.uri });
      // server-everything sends an update of each subscribed resource at once, then every 5 s:
      // notifications/resources/updated belongs to no call.
      await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
      await eventually(() => updated.includes(first.uri), { what: 'the resource update on the stream' });
      await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
      // A second stream of the same session is refused.
      const second = await fetch(server.url, {
        headers: { accept: 'text/event-stream', 'mcp-session-id': transport.sessionId ?? '' },
      });
      assert.equal(second.status, 409);
      await second.body?.cancel();
      await transport.terminateSession();
      assert.equal(session(), undefined);
    } finally {
      await client.close();
    }
  });

  test('the 2026-07-28 era: the question comes back as input_required, the SDK client answers it on the retried request', async () => {
    const client = new Client(
      { name: 'asked-2026', version: '1.0.0' },
      {
        versionNegotiation: { mode: { pin: '2026-07-28' } },
        capabilities: { sampling: {}, elicitation: {} },
      },
    );
    const seen: string[] = [];
    client.setRequestHandler('sampling/createMessage', (req) => {
      seen.push(req.method);
      return {
        model: 'test-model',
        role: 'assistant' as const,
        content: { type: 'text' as const, text: 'sampled in 2026' },
      };
    });
    client.setRequestHandler('elicitation/create', (req) => {
      seen.push(req.method);
      return { action: 'accept' as const, content: { name: 'Katherine Johnson' } };
    });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(server.url), {
        requestInit: { headers: { [RUNTIME_HEADER]: runtimeId('mrtr') } },
      }),
    );
    try {
      const sampled = text(
        await client.callTool({
          name: 'trigger-sampling-request',
          arguments: { prompt: 'orbits', maxTokens: 5 },
        }),
      );
      assert.match(sampled, /sampled in 2026/);
      const elicited = text(await client.callTool({ name: 'trigger-elicitation-request', arguments: {} }));
      assert.match(elicited, /Name: Katherine Johnson/);
      assert.deepEqual(seen, ['sampling/createMessage', 'elicitation/create']);
    } finally {
      await client.close();
    }
  });

  test('the 2026-07-28 era by hand: input_required with inputRequests and requestState; a stale requestState is refused', async () => {
    const id = runtimeId('mrtr-raw');
    const headers = { [RUNTIME_HEADER]: id, 'mcp-protocol-version': '2026-07-28' };
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
    };
    const call = (rid: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      jsonrpc: '2.0',
      id: rid,
      method: 'tools/call',
      params: { name: 'trigger-elicitation-request', arguments: {}, _meta: meta, ...extra },
    });
    const first = await post(server.url, call(1), {
      headers: { ...headers, 'mcp-method': 'tools/call', 'mcp-name': 'trigger-elicitation-request' },
    });
    const round = first.messages[0]?.['result'] as {
      resultType: string;
      inputRequests: Record<string, { method: string }>;
      requestState: string;
    };
    assert.equal(round.resultType, 'input_required', JSON.stringify(first.messages));
    const [key, question] = Object.entries(round.inputRequests)[0] ?? [];
    assert.equal(question?.method, 'elicitation/create');
    const retried = await post(
      server.url,
      call(2, {
        inputResponses: { [key ?? '']: { action: 'decline' } },
        requestState: round.requestState,
      }),
      { headers: { ...headers, 'mcp-method': 'tools/call', 'mcp-name': 'trigger-elicitation-request' } },
    );
    const result = retried.messages[0]?.['result'] as { resultType: string };
    assert.equal(result.resultType, 'complete');
    assert.match(text(result), /User declined/);
    const stale = await post(server.url, call(3, { inputResponses: {}, requestState: round.requestState }), {
      headers: { ...headers, 'mcp-method': 'tools/call', 'mcp-name': 'trigger-elicitation-request' },
    });
    const error = stale.messages[0]?.['error'] as { code: number; message: string };
    assert.equal(error.code, -32602);
    assert.match(error.message, /requestState is not one this server gave/);
  });

  test("a client that never answers: the call ends at its timeout and the session's server is replaced", async () => {
    let release = (): void => undefined;
    const never = new Promise<Record<string, unknown>>((resolve) => {
      release = () => {
        resolve({ action: 'cancel' });
      };
    });
    const { client, transport } = await asked({ elicit: () => never });
    const pids = (): number[] => server.sessions().find((x) => x.id === transport.sessionId)?.pids ?? [];
    try {
      await client.callTool({ name: 'echo', arguments: { message: 'before' } });
      const before = pids();
      assert.equal(before.length, 1);
      await assert.rejects(
        client.callTool({ name: 'trigger-elicitation-request', arguments: {} }),
        /did not answer within \d+ ms/,
      );
      // The process that was asked is gone; the session serves its next call with a new one.
      await eventually(
        async () => {
          const now = (await markedProcesses(mark.value)).map((p) => p.pid);
          return before.every((pid) => !now.includes(pid));
        },
        { what: 'the asked server stopped' },
      );
      const echo = text(await client.callTool({ name: 'echo', arguments: { message: 'after' } }));
      assert.equal(echo, 'Echo: after');
    } finally {
      release();
      await client.close();
    }
  });
});

describe('the session bundle, as AgentCore runs it', () => {
  let bundle: BundleResult;
  before(async () => {
    bundle = await bundleRuntime(path.join(dir, 'session.bundle.mjs'), { entry: 'session' });
  });

  /** The bundle as a code root (`index.mjs` and `launch.json`, nothing else), run on this Node.js. */
  async function runBundle(
    name: string,
    launch: LaunchInput,
    env: Record<string, string>,
  ): Promise<{ child: ChildProcess; output: ReturnType<typeof outputOf>; root: string }> {
    const root = path.join(dir, name);
    await mkdir(root, { recursive: true });
    await copyFile(bundle.file, path.join(root, 'index.mjs'));
    await writeFile(path.join(root, 'launch.json'), JSON.stringify(launch));
    const child = spawn(process.execPath, [path.join(root, 'index.mjs')], {
      cwd: root,
      env: { PATH: process.env['PATH'] ?? '', POWERTOOLS_METRICS_DISABLED: 'true', TMPDIR: root, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { child, output: outputOf(child), root };
  }

  test('the session bundle holds the runtime alone (no CLI, CDK, local-server or MCP SDK code)', () => {
    const inputs = Object.keys(bundle.metafile.inputs);
    assert.ok(
      inputs.some((i) => /(src|dist)\/runtime\/session-server\.(ts|js)$/.test(i)),
      inputs.join('\n'),
    );
    const forbidden = inputs.filter((i) =>
      /(src|dist)\/(cli|local|build|infra|deploy|verify)\/|node_modules\/(commander|yaml|zod|aws-cdk-lib|constructs|esbuild|@aws-cdk|@modelcontextprotocol)\//.test(
        i,
      ),
    );
    assert.deepEqual(forbidden, []);
  });

  test('serves sessions on MCP_FLEET_SESSION_PORT; SIGTERM kills every session server and exits, leaving no process', async () => {
    const mark = marker();
    const port = await freePort();
    const run = await runBundle('sigterm', everything(mark.env), {
      ...mark.env,
      MCP_FLEET_SESSION_PORT: String(port),
      MCP_FLEET_SESSION_HOST: '127.0.0.1',
    });
    await waitForText(run.output.all, /"message":"listening"/, {
      child: run.child,
      what: 'the listening line',
    });
    const url = `http://127.0.0.1:${port}/mcp`;
    const [one, two] = [runtimeId('one'), runtimeId('two')];
    for (const id of [one, two]) {
      const echo = await post(url, toolCall(1, 'echo', { message: id }), {
        headers: { [RUNTIME_HEADER]: id },
      });
      assert.equal(answerText(echo), `Echo: ${id}`);
    }
    // A call in flight when the signal comes.
    const inFlight = post(url, toolCall(2, 'trigger-long-running-operation', { duration: 60, steps: 2 }), {
      headers: { 'mcp-session-id': one },
    });
    inFlight.catch(() => undefined);
    await eventually(async () => (await markedProcesses(mark.value)).length >= 3, {
      what: 'the entry and two session servers',
      seen: () => run.output.all(),
    });
    run.child.kill('SIGTERM');
    assert.equal(await exited(run.child), 0, run.output.all());
    await assertNoneLeft(mark.value, 1_000);
    // The call in flight was answered before the connection went: an error naming the stop.
    const stopped = await inFlight;
    assert.match(JSON.stringify(stopped.messages), /"code":-32603.*shutting down/, stopped.text);
  });

  test("with mcp-fleet dev's MCP_FLEET_LOCAL_KEY: no session starts without that key (403)", async () => {
    const mark = marker();
    const port = await freePort();
    const key = 'a-session-key-only-dev-knows';
    const run = await runBundle('local-key', everything(mark.env), {
      ...mark.env,
      MCP_FLEET_SESSION_PORT: String(port),
      MCP_FLEET_SESSION_HOST: '127.0.0.1',
      MCP_FLEET_LOCAL_KEY: key,
    });
    try {
      await waitForText(run.output.all, /"message":"listening"/, {
        child: run.child,
        what: 'the listening line',
      });
      const url = `http://127.0.0.1:${port}/mcp`;
      const id = runtimeId('keyed');
      for (const method of ['POST', 'GET', 'DELETE']) {
        const refused = await post(url, toolCall(1, 'echo', { message: 'around dev' }), {
          method,
          headers: { [RUNTIME_HEADER]: id, 'x-mcp-fleet-local-key': 'a-guess' },
        });
        assert.equal(refused.status, 403, method);
      }
      assert.equal(
        await markedProcesses(mark.value).then((ps) => ps.length),
        1,
        'the entry alone: no session server',
      );
      const served = await post(url, toolCall(1, 'echo', { message: 'through dev' }), {
        headers: { [RUNTIME_HEADER]: id, 'x-mcp-fleet-local-key': key },
      });
      assert.equal(answerText(served), 'Echo: through dev');
    } finally {
      run.child.kill('SIGTERM');
      await exited(run.child);
      await assertNoneLeft(mark.value, 1_000);
    }
  });

  test('a port that is not a number: the entry says so and exits 2', async () => {
    const run = await runBundle(
      'bad-port',
      { id: 'x', command: 'true' },
      { MCP_FLEET_SESSION_PORT: 'eighty' },
    );
    assert.equal(await exited(run.child), 2);
    await waitForText(run.output.stderr, /MCP_FLEET_SESSION_PORT must be a port number/);
  });
});
