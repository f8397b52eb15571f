import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as StreamableHTTPClientTransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { functionUrlEvent, urlRequest, writeFunctionUrlResult } from '../../src/local/lambda/function-url.js';
import { createHandler, type LaunchInput, type McpLambdaHandler } from '../../src/runtime/index.js';
import { gitRepo, pythonTool } from '../helpers.js';
import { assertNoneLeft, BIN, lambdaContext, marker, RecordingLog, text } from './support.js';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

/** A real server behind the real handler, with an HTTP endpoint that speaks Function URL events. */
interface Served {
  handler: McpLambdaHandler;
  url: URL;
  http: Server;
}

const mark = marker();
let dir: string;
let repo: string;
const served = new Map<string, Served>();

async function serve(id: string, launch: Omit<LaunchInput, 'id'>): Promise<void> {
  const handler = createHandler(
    { id, timeout: 30, ...launch, env: { ...(launch.env ?? {}), ...mark.env } },
    { log: new RecordingLog() },
  );
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handler(
        functionUrlEvent(urlRequest(req) ?? assert.fail('a path'), Buffer.concat(chunks)),
        lambdaContext(),
      ).then((result) => {
        writeFunctionUrlResult(res, result);
      });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  served.set(id, { handler, http, url: new URL(`http://127.0.0.1:${port}/mcp`) });
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-real-'));
  await writeFile(path.join(dir, 'hello.txt'), 'hello from the filesystem server\n');
  repo = path.join(dir, 'repo');
  await gitRepo(repo);
  await writeFile(path.join(repo, 'new.txt'), 'untracked\n');

  const git = pythonTool('mcp-server-git');
  await Promise.all([
    serve('filesystem', {
      command: BIN('mcp-server-filesystem'),
      args: [dir],
      tools: { allow: [], deny: ['write_file', 'edit_*', 'move_file'], rename: {} },
    }),
    serve('memory', {
      command: BIN('mcp-server-memory'),
      env: { MEMORY_FILE_PATH: path.join(dir, 'memory.jsonl') },
    }),
    serve('everything', { command: BIN('mcp-server-everything'), args: ['stdio'] }),
    serve('git', { command: git, args: ['--repository', repo] }),
  ]);
});

after(async () => {
  for (const s of served.values()) {
    await new Promise((r) => s.http.close(r));
    await s.handler.close();
  }
  await assertNoneLeft(mark.value);
  await rm(dir, { recursive: true, force: true });
});

const get = (id: string): Served => {
  const s = served.get(id);
  assert.ok(s, id);
  return s;
};

/** One representative offline call per server, and what its answer must contain. */
const CALLS: Record<string, { tool: string; args: Record<string, unknown>; expect: RegExp }> = {
  filesystem: { tool: 'read_text_file', args: {}, expect: /hello from the filesystem server/ },
  memory: { tool: 'read_graph', args: {}, expect: /"entities"/ },
  everything: { tool: 'echo', args: { message: 'hi there' }, expect: /Echo: hi there/ },
  git: { tool: 'git_status', args: {}, expect: /new\.txt/ },
};
const argsFor = (id: string): Record<string, unknown> => {
  const call = CALLS[id];
  assert.ok(call);
  if (id === 'filesystem') return { path: path.join(dir, 'hello.txt') };
  if (id === 'git') return { repo_path: repo };
  return call.args;
};

describe('AgentCore Gateway target front', () => {
  for (const id of Object.keys(CALLS)) {
    test(`${id}: tool name from the client context, arguments as the event`, async () => {
      const call = CALLS[id]!;
      const result = (await get(id).handler(
        argsFor(id),
        lambdaContext({ toolName: `${id}___${call.tool}` }),
      )) as Record<string, unknown>;
      assert.notEqual(result['isError'], true, text(result));
      assert.match(text(result), call.expect);
    });
  }

  test("the seed's fallbacks: tool name in the event", async () => {
    const { handler } = get('everything');
    for (const event of [
      { toolName: 'echo', message: 'a' },
      { tool_name: 'everything___echo', message: 'b' },
      { bedrockAgentCoreToolName: 'everything___echo', message: 'c' },
      { headers: { bedrockAgentCoreToolName: 'everything___echo' }, message: 'd' },
    ]) {
      const result = await handler(event, lambdaContext());
      assert.match(text(result), new RegExp(`Echo: ${event.message}$`));
    }
  });

  test('no tool name: the error result the seed expects, with server id and name', async () => {
    const result = (await get('memory').handler({}, lambdaContext())) as Record<string, unknown>;
    assert.equal(result['isError'], true);
    assert.match(
      text(result),
      /^Internal error: Missing bedrockAgentCoreToolName in context \(server_id: memory, server_name: memory\)$/,
    );
    assert.deepEqual(result['error'], {
      code: -32603,
      message: 'Internal error: Missing bedrockAgentCoreToolName in context',
      data: { server_id: 'memory', server_name: 'memory' },
    });
  });

  test('a denied tool is refused', async () => {
    const result = (await get('filesystem').handler(
      { path: path.join(dir, 'x'), content: 'x' },
      lambdaContext({ toolName: 'filesystem___write_file' }),
    )) as Record<string, unknown>;
    assert.equal(result['isError'], true);
    assert.equal(text(result), 'Unknown tool: write_file');
  });

  test('a tool name containing the delimiter is split at the first ___ only', async () => {
    const result = (await get('everything').handler(
      {},
      lambdaContext({ toolName: 'everything___no___such' }),
    )) as Record<string, unknown>;
    assert.equal(result['isError'], true);
    assert.match(text(result), /no___such/);
  });
});

describe('direct JSON-RPC invoke front', () => {
  for (const id of Object.keys(CALLS)) {
    test(`${id}: tools/list and tools/call`, async () => {
      const { handler } = get(id);
      const list = (await handler({ jsonrpc: '2.0', id: 'l', method: 'tools/list' })) as {
        id: string;
        result: { tools: { name: string }[] };
      };
      assert.equal(list.id, 'l');
      assert.ok(list.result.tools.some((t) => t.name === CALLS[id]!.tool));
      const call = (await handler({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: { name: CALLS[id]!.tool, arguments: argsFor(id) },
      })) as { id: number; result: unknown };
      assert.equal(call.id, 9);
      assert.match(text(call.result), CALLS[id]!.expect);
    });
  }

  test('a batch is answered in one invocation, by one warm process', async () => {
    const { handler } = get('memory');
    const out = (await handler([
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'create_entities',
          arguments: {
            entities: [
              { name: 'mcp-fleet', entityType: 'project', observations: ['runs MCP servers on Lambda'] },
            ],
          },
        },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'ping' },
    ])) as { id: number }[];
    assert.deepEqual(
      out.map((r) => r.id),
      [1, 2],
    );
    const graph = await handler({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'read_graph', arguments: {} },
    });
    assert.match(text((graph as { result: unknown }).result), /runs MCP servers on Lambda/);
  });

  test('a denied tool is absent from tools/list and refused on tools/call', async () => {
    const { handler } = get('filesystem');
    const list = (await handler({ jsonrpc: '2.0', id: 1, method: 'tools/list' })) as {
      result: { tools: { name: string }[] };
    };
    const names = list.result.tools.map((t) => t.name);
    assert.ok(names.includes('read_text_file'));
    for (const denied of ['write_file', 'edit_file', 'move_file']) assert.ok(!names.includes(denied), denied);
    const call = (await handler({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'edit_file', arguments: {} },
    })) as Record<string, unknown>;
    assert.deepEqual(call['error'], { code: -32602, message: 'Unknown tool: edit_file' });
  });
});

describe('HTTP front: API Gateway and Function URL events', () => {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'echo', arguments: { message: 'over http' } },
  });
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

  test('API Gateway REST (v1) event', async () => {
    const event = {
      resource: '/mcp',
      path: '/mcp',
      httpMethod: 'POST',
      headers,
      multiValueHeaders: {},
      requestContext: { resourcePath: '/mcp', httpMethod: 'POST', stage: 'prod' },
      body,
      isBase64Encoded: false,
    };
    const res = (await get('everything').handler(event, lambdaContext())) as {
      statusCode: number;
      body: string;
      headers: Record<string, string>;
    };
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.match(text((JSON.parse(res.body) as { result: unknown }).result), /Echo: over http/);
    assert.deepEqual(
      Object.keys(res).sort(),
      ['body', 'headers', 'isBase64Encoded', 'statusCode'],
      "the Lambda result is the HTTP answer alone (what the request asked is the call's record, not the result's)",
    );
  });

  test('HTTP API (v2) event with a base64 body', async () => {
    const event = {
      version: '2.0',
      routeKey: 'POST /mcp',
      rawPath: '/mcp',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      requestContext: {
        apiId: 'abc123',
        domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
        http: { method: 'POST', path: '/mcp' },
      },
      body: Buffer.from(body).toString('base64'),
      isBase64Encoded: true,
    };
    const res = (await get('everything').handler(event, lambdaContext())) as {
      statusCode: number;
      body: string;
    };
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /Echo: over http/);
  });

  test('status codes for wrong methods, headers and bodies; CORS', async () => {
    const url = get('everything').url;
    const post = (b: string, h: Record<string, string> = headers) =>
      fetch(url, { method: 'POST', headers: h, body: b });
    assert.equal((await fetch(url)).status, 405);
    assert.equal((await fetch(url, { method: 'DELETE' })).status, 405);
    assert.equal(
      (await post(body, { 'Content-Type': 'text/plain', Accept: 'application/json' })).status,
      415,
    );
    assert.equal((await post(body, { 'Content-Type': 'application/json', Accept: 'text/html' })).status, 406);
    const parse = await post('{"jsonrpc": "2.0", ');
    assert.equal(parse.status, 400);
    assert.equal(((await parse.json()) as { error: { code: number } }).error.code, -32700);
    assert.equal((await post('[]')).status, 400);
    assert.equal((await post('{"hello": "world"}')).status, 400);
    assert.equal((await post(body, { ...headers, 'MCP-Protocol-Version': '1999-01-01' })).status, 400);
    assert.equal((await post('{"jsonrpc":"2.0","method":"notifications/initialized"}')).status, 202);
    // No origin is allowed by default: no CORS headers, and a browser's request is refused.
    const ok = await post(body);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), null);
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    const cross = await post(body, { ...headers, Origin: 'https://app.example' });
    assert.equal(cross.status, 403);
    const refusal = (await cross.json()) as { error: { code: number; message: string } };
    assert.equal(refusal.error.code, -32600);
    assert.match(
      refusal.error.message,
      /origin https:\/\/app\.example are not allowed.*MCP_FLEET_ALLOW_ORIGIN/,
    );
  });

  test('allowOrigin: exactly the listed origins get CORS answers; `*` any', async () => {
    const event = (method: string, origin: string, body = ''): Record<string, unknown> => ({
      version: '2.0',
      rawPath: '/mcp',
      headers: {
        origin,
        'content-type': 'application/json',
        accept: 'application/json',
        'access-control-request-method': 'POST',
      },
      requestContext: { domainName: 'x.lambda-url.us-east-1.on.aws', http: { method, path: '/mcp' } },
      body,
    });
    type Res = { statusCode: number; headers: Record<string, string>; body: string };
    const listed = createHandler(
      { id: 'everything', command: BIN('mcp-server-everything'), args: ['stdio'], env: mark.env },
      { log: new RecordingLog(), allowOrigin: 'https://app.example, http://localhost:6274', warmup: false },
    );
    try {
      const pre = (await listed(event('OPTIONS', 'https://app.example'), lambdaContext())) as Res;
      assert.equal(pre.statusCode, 204);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example');
      assert.equal(pre.headers['vary'], 'Origin');
      assert.match(pre.headers['access-control-allow-headers'] ?? '', /mcp-protocol-version/);
      const other = (await listed(event('OPTIONS', 'http://localhost:6274'), lambdaContext())) as Res;
      assert.equal(other.headers['access-control-allow-origin'], 'http://localhost:6274');
      const evil = (await listed(event('OPTIONS', 'https://app.example.evil.test'), lambdaContext())) as Res;
      assert.equal(evil.statusCode, 403);
      assert.equal(evil.headers['access-control-allow-origin'], undefined);
      const call = (await listed(event('POST', 'https://app.example', body), lambdaContext())) as Res;
      assert.equal(call.statusCode, 200);
      assert.equal(call.headers['access-control-allow-origin'], 'https://app.example');
      assert.match(call.body, /Echo: over http/);
    } finally {
      await listed.close();
    }
    const any = createHandler(
      { id: 'everything', command: BIN('mcp-server-everything'), args: ['stdio'], env: mark.env },
      { log: new RecordingLog(), allowOrigin: '*', warmup: false },
    );
    const pre = (await any(event('OPTIONS', 'https://anything.example'), lambdaContext())) as Res;
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    await any.close();
  });

  test('progress notifications are carried as SSE when the client accepts it', async () => {
    const res = await fetch(get('everything').url, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: {
          name: 'trigger-long-running-operation',
          arguments: { duration: 0.3, steps: 3 },
          _meta: { progressToken: 'tok-1' },
        },
      }),
    });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const events = (await res.text())
      .split('\n\n')
      .filter((e) => e.startsWith('event: message'))
      .map(
        (e) =>
          JSON.parse(e.slice(e.indexOf('data: ') + 6)) as {
            method?: string;
            id?: number;
            params?: { progressToken?: string; progress?: number };
          },
      );
    const progress = events.filter((e) => e.method === 'notifications/progress');
    assert.deepEqual(
      progress.map((p) => [p.params?.progressToken, p.params?.progress]),
      [
        ['tok-1', 1],
        ['tok-1', 2],
        ['tok-1', 3],
      ],
    );
    assert.equal(events.at(-1)?.id, 5);
  });
});

describe('MCP SDK clients over the HTTP front', () => {
  for (const id of Object.keys(CALLS)) {
    test(`${id}: 2025-era client (SDK v2, initialize)`, async () => {
      const client = new Client({ name: 'test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(get(id).url));
      assert.equal(client.getProtocolEra(), 'legacy');
      const tools = await client.listTools();
      assert.ok(tools.tools.some((t) => t.name === CALLS[id]!.tool));
      if (id === 'filesystem') {
        assert.ok(!tools.tools.some((t) => t.name === 'write_file'), 'denied tools are not listed');
        await assert.rejects(
          client.callTool({ name: 'write_file', arguments: { path: path.join(dir, 'x'), content: '' } }),
          /Unknown tool: write_file/,
        );
      }
      const result = await client.callTool({ name: CALLS[id]!.tool, arguments: argsFor(id) });
      assert.match(text(result), CALLS[id]!.expect);
      await client.close();
    });

    test(`${id}: 2026-07-28 client (SDK v2, server/discover, per-request _meta)`, async () => {
      const client = new Client(
        { name: 'test', version: '1.0.0' },
        { versionNegotiation: { mode: { pin: '2026-07-28' } } },
      );
      await client.connect(new StreamableHTTPClientTransport(get(id).url));
      assert.equal(client.getProtocolEra(), 'modern');
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      const tools = await client.listTools();
      assert.ok(tools.tools.some((t) => t.name === CALLS[id]!.tool));
      if (id === 'filesystem')
        assert.ok(!tools.tools.some((t) => t.name === 'write_file'), 'denied tools are not listed');
      const result = await client.callTool({ name: CALLS[id]!.tool, arguments: argsFor(id) });
      assert.match(text(result), CALLS[id]!.expect);
      await client.close();
    });

    test(`${id}: 2025-era client (SDK v1.32)`, async () => {
      const client = new ClientV1({ name: 'test-v1', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransportV1(get(id).url));
      const result = await client.callTool({ name: CALLS[id]!.tool, arguments: argsFor(id) });
      assert.match(text(result), CALLS[id]!.expect);
      await client.close();
    });
  }

  test('an auto-negotiating client lands on 2026-07-28', async () => {
    const client = new Client({ name: 'test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new StreamableHTTPClientTransport(get('memory').url));
    assert.equal(client.getProtocolEra(), 'modern');
    await client.close();
  });

  test('each request may land on a different environment: a client initialized on one is served by another', async () => {
    // Two handlers = two Lambda environments of the same function.
    const other = createHandler(
      { id: 'everything', command: BIN('mcp-server-everything'), args: ['stdio'], env: mark.env },
      { log: new RecordingLog() },
    );
    const http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        // Alternate between the two environments on every request.
        const h = (http as unknown as { n: number }).n++ % 2 === 0 ? get('everything').handler : other;
        void h(
          functionUrlEvent(urlRequest(req) ?? assert.fail('a path'), Buffer.concat(chunks)),
          lambdaContext(),
        ).then((r) => {
          writeFunctionUrlResult(res, r);
        });
      });
    });
    (http as unknown as { n: number }).n = 0;
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const { port } = http.address() as AddressInfo;
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
    for (let i = 0; i < 4; i++)
      assert.match(
        text(await client.callTool({ name: 'echo', arguments: { message: `n${i}` } })),
        new RegExp(`n${i}`),
      );
    await client.close();
    await new Promise((r) => http.close(r));
    await other.close();
  });

  test('the 2026 envelope is checked: unsupported version, missing capabilities, header mismatch, unknown method', async () => {
    const url = get('memory').url;
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const send = (msg: Record<string, unknown>, extra: Record<string, string> = {}) =>
      fetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          'MCP-Protocol-Version': '2026-07-28',
          'Mcp-Method': String(msg['method']),
          ...extra,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...msg }),
      });
    const discover = await send({ method: 'server/discover', params: { _meta: meta } });
    assert.equal(discover.status, 200);
    const d = ((await discover.json()) as { result: Record<string, unknown> }).result;
    assert.equal(d['resultType'], 'complete');
    assert.ok((d['supportedVersions'] as string[]).includes('2026-07-28'));
    assert.deepEqual(
      (d['_meta'] as Record<string, { name: string }>)['io.modelcontextprotocol/serverInfo']?.name,
      'memory-server',
    );
    assert.equal(
      JSON.stringify(d['capabilities']).includes('listChanged'),
      false,
      'no list-changed notifications on a stateless front',
    );

    const old = await send(
      {
        method: 'tools/list',
        params: { _meta: { ...meta, 'io.modelcontextprotocol/protocolVersion': '2027-01-01' } },
      },
      { 'MCP-Protocol-Version': '2027-01-01' },
    );
    assert.equal(old.status, 400);
    assert.equal(((await old.json()) as { error: { code: number } }).error.code, -32022);
    const noCaps = await send({
      method: 'tools/list',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
    });
    assert.equal(noCaps.status, 400);
    assert.equal(((await noCaps.json()) as { error: { code: number } }).error.code, -32602);
    const mismatch = await send(
      { method: 'tools/call', params: { name: 'read_graph', arguments: {}, _meta: meta } },
      { 'Mcp-Name': 'other_tool' },
    );
    assert.equal(mismatch.status, 400);
    assert.equal(((await mismatch.json()) as { error: { code: number } }).error.code, -32020);
    const ping = await send({ method: 'ping', params: { _meta: meta } });
    assert.equal(ping.status, 404);
    assert.equal(((await ping.json()) as { error: { code: number } }).error.code, -32601);
    const list = await send({ method: 'tools/list', params: { _meta: meta } });
    const l = ((await list.json()) as { result: Record<string, unknown> }).result;
    assert.equal(l['resultType'], 'complete');
    assert.equal(typeof l['ttlMs'], 'number');
    assert.ok(['public', 'private'].includes(String(l['cacheScope'])));
  });
});
