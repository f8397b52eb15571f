/**
 * A server's questions to its client (elicitation, sampling) in `mcp-fleet dev`, with the real
 * server-everything and the MCP SDK's client: on host `agentcore-runtime`, through the server's
 * own endpoint (the runtime's invocation URL), the client is asked on the call's stream and the
 * tool's result holds its answers; on host `function` the server is told, in words, that its
 * client cannot be asked there and which host can. Nothing is left running at the end.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as StreamableHTTPClientTransportV2,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { eventually } from '../support/eventually.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { tempDir } from '../helpers.js';
import { assertNoneLeft, BIN, FAULT_SERVER, marker, text } from '../runtime/support.js';

const mark = marker();
let cleanup: () => Promise<void>;
let fleet: RunningFleet;
const clients: Client[] = [];
/** What the fleet saw servers ask their clients, as `server method`. */
const asked: string[] = [];

/** A client that answers sampling and elicitation, connected to `url`. */
async function answering(url: URL): Promise<Client> {
  const client = new Client(
    { name: 'questions-test', version: '1' },
    { capabilities: { sampling: {}, elicitation: {} } },
  );
  client.setRequestHandler(CreateMessageRequestSchema, (req) => {
    const first = req.params.messages[0]?.content;
    return {
      model: 'test-model',
      role: 'assistant' as const,
      content: {
        type: 'text' as const,
        text: `sampled: ${first !== undefined && 'text' in first ? first.text : ''}`,
      },
    };
  });
  client.setRequestHandler(ElicitRequestSchema, () => ({
    action: 'accept' as const,
    content: { name: 'Grace Hopper' },
  }));
  await client.connect(new StreamableHTTPClientTransport(url));
  clients.push(client);
  return client;
}

/** The first answer of `open` that is 200 (an event stream), within 20 s; the others are read off. */
function opened(open: () => Promise<Response>, what: string): Promise<Response> {
  return eventually(
    async () => {
      const r = await open();
      if (r.status === 200) return r;
      await r.body?.cancel();
      return undefined;
    },
    { what, timeoutMs: 20_000 },
  );
}

before(async () => {
  let dir: string;
  ({ dir, cleanup } = await tempDir());
  const file = path.join(dir, 'servers.yaml');
  await writeFile(
    file,
    `defaults:
  env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
servers:
  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    host: agentcore-runtime
    state: session
  asks:
    command: node
    args: [${JSON.stringify(FAULT_SERVER)}]
  patient:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    host: agentcore-runtime
    state: session
    timeout: 3
  asksrt:
    command: node
    args: [${JSON.stringify(FAULT_SERVER)}]
    host: agentcore-runtime
    state: session
`,
  );
  fleet = await startFleet(await loadConfigOrThrow(file), {
    port: 0,
    buildDir: false,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    onAsk: (id, method) => asked.push(`${id} ${method}`),
  });
});

after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await fleet.close();
  await assertNoneLeft(mark.value);
  await cleanup();
});

describe("a server's questions to its client in dev", () => {
  test("agentcore-runtime, the server's own endpoint: sampling and elicitation are answered by the client", async () => {
    const client = await answering(new URL(`${fleet.url}/servers/everything/mcp`));
    const sampled = text(
      await client.callTool({
        name: 'trigger-sampling-request',
        arguments: { prompt: 'tides', maxTokens: 5 },
      }),
    );
    assert.match(sampled, /sampled: Resource trigger-sampling-request context: tides/);
    const elicited = text(await client.callTool({ name: 'trigger-elicitation-request', arguments: {} }));
    assert.match(elicited, /Name: Grace Hopper/);
  });

  test("agentcore-runtime, the server's own endpoint: the session's event stream (GET) carries the server's notifications of no call", async () => {
    const client = new Client({ name: 'listener', version: '1' });
    const updated: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updated.push(n.params.uri);
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/servers/everything/mcp`)));
    clients.push(client);
    const [first] = (await client.listResources()).resources;
    assert.ok(first);
    await client.subscribeResource({ uri: first.uri });
    // Updates every 5 s after the first: the stream may open after the first one is sent.
    await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    try {
      await eventually(() => updated.includes(first.uri), {
        what: 'a resource update on the stream',
        timeoutMs: 15_000,
      });
    } finally {
      await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    }
  });

  test("through the gateway's /mcp (sessions and response streaming on by default): the client of the session is asked", async () => {
    const client = await answering(new URL(`${fleet.url}/mcp`));
    // The gateway lists tools once for everyone; the tools a server offers only to clients that can
    // answer (server-everything's) are called all the same, in the session that declared it can.
    const sampled = text(
      await client.callTool({
        name: 'everything___trigger-sampling-request',
        arguments: { prompt: 'currents', maxTokens: 5 },
      }),
    );
    assert.match(sampled, /sampled: Resource trigger-sampling-request context: currents/);
    const elicited = text(
      await client.callTool({ name: 'everything___trigger-elicitation-request', arguments: {} }),
    );
    assert.match(elicited, /Name: Grace Hopper/);
    // A question the client did not declare it answers (roots) is refused to the server, in
    // those words, instead of being relayed (the client's own refusal would say "Method not found").
    const answer = JSON.parse(text(await client.callTool({ name: 'asksrt___ask', arguments: {} }))) as Record<
      string,
      { code?: number; message?: string; content?: { text?: string } }
    >;
    assert.match(answer['sampling']?.content?.text ?? '', /^sampled: /);
    assert.equal(answer['roots']?.code, -32601);
    assert.match(answer['roots']?.message ?? '', /did not declare the roots capability/);
  });

  test("through /mcp, a server that cancels its question: the client's handler is told, under the id it was asked with", async () => {
    const client = new Client(
      { name: 'cancelled', version: '1' },
      { capabilities: { sampling: {}, elicitation: {} } },
    );
    const seen: string[] = [];
    client.setRequestHandler(
      CreateMessageRequestSchema,
      (_req, extra) =>
        new Promise((_resolve, reject) => {
          seen.push('asked');
          extra.signal.addEventListener('abort', () => {
            seen.push('cancelled');
            reject(new Error('cancelled by the server'));
          });
        }),
    );
    client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept' as const, content: {} }));
    await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)));
    clients.push(client);
    const answer = text(await client.callTool({ name: 'asksrt___ask-cancel', arguments: {} }));
    assert.match(answer, /"action":"accept"/);
    await eventually(() => seen.includes('cancelled'), {
      what: "the server's cancellation to reach the client's handler",
      timeoutMs: 10_000,
      seen: () => seen.join(', '),
    });
  });

  test("through /mcp, the session's event stream (GET) carries a target session's notifications of no call", async () => {
    const client = new Client({ name: 'gateway-listener', version: '1' });
    let phase: 'call' | 'after' = 'call';
    const logged: { phase: string; data: unknown }[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logged.push({ phase, data: n.params.data });
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)));
    clients.push(client);
    // The first message goes out on the call's own stream, the next ones every 5 s, between calls:
    // only the gateway session's stream (which follows the target session the call started) has them.
    await client.callTool({ name: 'everything___toggle-simulated-logging', arguments: {} });
    phase = 'after';
    try {
      await eventually(() => logged.some((l) => l.phase === 'after'), {
        what: "a log message of no call on the gateway session's stream",
        timeoutMs: 20_000,
        seen: () => JSON.stringify(logged),
      });
      assert.match(String(logged.find((l) => l.phase === 'after')?.data), /-level message|level-message/);
    } finally {
      await client.callTool({ name: 'everything___toggle-simulated-logging', arguments: {} });
    }
  });

  test('through /mcp, the event stream: refused without SSE or a session, one per session, closed at the target when the client leaves, ended by DELETE', async () => {
    const json = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const init = await fetch(`${fleet.url}/mcp`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      }),
    });
    await init.text();
    const session = init.headers.get('mcp-session-id') ?? '';
    assert.notEqual(session, '');
    const inSession = { ...json, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    await (
      await fetch(`${fleet.url}/mcp`, {
        method: 'POST',
        headers: inSession,
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      })
    ).text();
    // A call starts the session's target session (the stream follows it).
    const echo = await fetch(`${fleet.url}/mcp`, {
      method: 'POST',
      headers: inSession,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'everything___echo', arguments: { message: 'hi' } },
      }),
    });
    assert.match(await echo.text(), /Echo: hi/);
    const target = fleet.gateway.sessions?.targets(session).get('everything');
    assert.ok(target, 'the gateway session keeps a session with the target');

    const get = (headers: Record<string, string>, signal?: AbortSignal): Promise<Response> =>
      fetch(`${fleet.url}/mcp`, { method: 'GET', headers, ...(signal ? { signal } : {}) });
    const sse = { accept: 'text/event-stream', 'mcp-session-id': session };
    const noSse = await get({ 'mcp-session-id': session });
    assert.equal(noSse.status, 406);
    const noSession = await get({ accept: 'text/event-stream' });
    assert.equal(noSession.status, 400);
    assert.match(await noSession.text(), /name the session \(Mcp-Session-Id\)/);
    const unknown = await get({ accept: 'text/event-stream', 'mcp-session-id': 'no-such-session' });
    assert.equal(unknown.status, 404);

    const first = new AbortController();
    const open = await get(sse, first.signal);
    assert.equal(open.status, 200);
    assert.match(open.headers.get('content-type') ?? '', /^text\/event-stream/);
    const second = await get(sse);
    assert.equal(second.status, 409);
    await second.text();
    // The target's own stream is held by the gateway for this client: a GET of it is refused.
    const own = (signal?: AbortSignal): Promise<Response> =>
      fetch(`${fleet.url}/servers/everything/mcp`, {
        method: 'GET',
        headers: { accept: 'text/event-stream', 'mcp-session-id': target },
        ...(signal ? { signal } : {}),
      });
    await eventually(
      async () => {
        const r = await own();
        await r.body?.cancel();
        return r.status === 409;
      },
      { what: "the gateway to open the target session's stream" },
    );
    // The client leaves: the gateway closes the target's stream (its request to the runtime).
    first.abort();
    const mine = new AbortController();
    await opened(
      () => own(mine.signal),
      "the target session's stream to be free once the gateway's client left",
    );
    mine.abort();
    // Through the server's own endpoint alike: the client left, the stream is free again at once
    // (not at the function's timeout, 60 s).
    const yours = new AbortController();
    await opened(() => own(yours.signal), "the target session's stream to be free once its own client left");
    yours.abort();

    // DELETE ends the session, and with it a stream that is open.
    const again = await opened(() => get(sse), 'the stream to open again');
    const ended = (async () => {
      const reader = again.body?.getReader();
      for (;;) if ((await reader?.read())?.done !== false) return true;
    })();
    const del = await fetch(`${fleet.url}/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': session } });
    assert.equal(del.status, 200);
    assert.equal(await ended, true);
  });

  test("through /mcp in the 2026-07-28 era: the target's question comes back as input_required, the SDK client answers on the retry", async () => {
    const client = new ClientV2(
      { name: 'questions-2026', version: '1' },
      {
        versionNegotiation: { mode: { pin: '2026-07-28' } },
        capabilities: { sampling: {}, elicitation: {} },
      },
    );
    client.setRequestHandler('sampling/createMessage', () => ({
      model: 'test-model',
      role: 'assistant' as const,
      content: { type: 'text' as const, text: 'sampled through the gateway in 2026' },
    }));
    client.setRequestHandler('elicitation/create', () => ({ action: 'decline' as const }));
    await client.connect(new StreamableHTTPClientTransportV2(new URL(`${fleet.url}/mcp`)));
    try {
      const sampled = text(
        await client.callTool({
          name: 'everything___trigger-sampling-request',
          arguments: { prompt: 'x', maxTokens: 5 },
        }),
      );
      assert.match(sampled, /sampled through the gateway in 2026/);
      const declined = text(
        await client.callTool({ name: 'everything___trigger-elicitation-request', arguments: {} }),
      );
      assert.match(declined, /User declined/);
    } finally {
      await client.close();
    }
  });

  test('through /mcp in the 2026-07-28 era by hand: a question returned in band is answered only by its retried request', async () => {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': { sampling: {} },
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
    };
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'everything___trigger-sampling-request',
    };
    const call = (id: number, extra: Record<string, unknown> = {}): string =>
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: {
          name: 'everything___trigger-sampling-request',
          arguments: { prompt: 'x', maxTokens: 5 },
          _meta: meta,
          ...extra,
        },
      });
    const first = (await (
      await fetch(`${fleet.url}/mcp`, { method: 'POST', headers, body: call(1) })
    ).json()) as {
      result: { resultType: string; inputRequests: Record<string, unknown>; requestState: string };
    };
    assert.equal(first.result.resultType, 'input_required');
    const [key] = Object.keys(first.result.inputRequests);
    assert.ok(key);
    const sample = (t: string): Record<string, unknown> => ({
      model: 'm',
      role: 'assistant',
      content: { type: 'text', text: t },
    });
    // The same id POSTed as a plain JSON-RPC response (no requestState) is not taken.
    const injected = await fetch(`${fleet.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: key, result: sample('injected') }),
    });
    assert.equal(injected.status, 202);
    const second = (await (
      await fetch(`${fleet.url}/mcp`, {
        method: 'POST',
        headers,
        body: call(2, {
          inputResponses: { [key]: sample('from the retry') },
          requestState: first.result.requestState,
        }),
      })
    ).json()) as { result: unknown };
    assert.match(text(second.result), /from the retry/);
    assert.doesNotMatch(text(second.result), /injected/);
  });

  test('through /mcp, a client that never answers: the call ends at its timeout, and the next call is served', async () => {
    const client = new Client({ name: 'silent', version: '1' }, { capabilities: { elicitation: {} } });
    let release = (): void => undefined;
    client.setRequestHandler(
      ElicitRequestSchema,
      () =>
        new Promise((resolve) => {
          release = () => {
            resolve({ action: 'cancel' });
          };
        }),
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)));
    clients.push(client);
    try {
      await assert.rejects(
        client.callTool({ name: 'patient___trigger-elicitation-request', arguments: {} }),
        /tools\/call did not answer within \d+ ms/,
      );
      const echo = text(await client.callTool({ name: 'patient___echo', arguments: { message: 'after' } }));
      assert.equal(echo, 'Echo: after');
    } finally {
      release();
    }
  });

  test('through /mcp without a gateway session: the server is told the caller cannot answer', async () => {
    const res = await fetch(`${fleet.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'asksrt___ask', arguments: {} },
      }),
    });
    const body = await res.text();
    const data = body
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => JSON.parse(l.slice(5)) as { id?: unknown; result?: unknown });
    const result = (
      body.trimStart().startsWith('{') ? [JSON.parse(body) as { id?: unknown; result?: unknown }] : data
    ).find((m) => m.id === 1);
    const answer = JSON.parse(text(result?.result)) as Record<string, { code?: number; message?: string }>;
    // Without a gateway session the gateway initialized the target session with no client
    // capabilities: the session host itself refuses the question, saying so.
    assert.equal(answer['sampling']?.code, -32601);
    assert.match(answer['sampling']?.message ?? '', /did not declare the sampling capability/);
  });

  test('function: the server is told its client cannot be asked there, and which host can', async () => {
    const client = await answering(new URL(`${fleet.url}/servers/asks/mcp`));
    const answer = JSON.parse(text(await client.callTool({ name: 'ask', arguments: {} }))) as Record<
      string,
      { code?: number; message?: string }
    >;
    assert.equal(answer['sampling']?.code, -32601);
    assert.match(
      answer['sampling']?.message ?? '',
      /cannot answer sampling\/createMessage: .* on host function/,
    );
    assert.match(
      answer['sampling']?.message ?? '',
      /hosts that keep the session relay it: agentcore-runtime/,
    );
  });
});
