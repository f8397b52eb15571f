import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InvokeWithResponseStreamCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { loadConfigOrThrow } from '../../src/config/index.js';
import type { InvocationRecord } from '../../src/local/lambda/function.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { mcpPostEvent, messagesOf, templateMatcher } from '../../src/local/gateway/mcp-target.js';
import { assertNoneLeft, BIN, FAULT_SERVER, marker, text } from '../runtime/support.js';
import { gate, memoryServer, rpc } from './support.js';

/*
 * MCP-server targets beside Lambda targets in one fleet, through the local gateway's /mcp, with
 * real servers: server-everything as an `mcp` target (and a second one, to collide on resource
 * URIs), server-everything and server-memory as `lambda` targets, and the fault fixture as an
 * `mcp` target for server→client requests.
 */

let dir: string;
let fleet: RunningFleet;
const mark = marker();
const invocations: InvocationRecord[] = [];

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-mcp-target-'));
  const file = path.join(dir, 'servers.yaml');
  await writeFile(
    file,
    `stack: McpTargets
gateway: { name: mcp-targets }
defaults:
  timeout: 60
  env:
    MCP_FLEET_TEST_MARKER: "${mark.value}"
servers:
  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    gateway: { targetType: mcp }
  everything-copy:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    gateway: { targetType: mcp, target: copy, resourcePriority: 5, listingMode: dynamic }
  lowered:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
${memoryServer(dir)}
  fault:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FAULT_SERVER)}]
    timeout: 20
    gateway: { targetType: mcp }
  short:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    timeout: 6
    gateway: { targetType: mcp }
`,
  );
  const config = await loadConfigOrThrow(file);
  fleet = await startFleet(config, {
    port: 0,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    buildDir: false,
    onInvoke: (r) => invocations.push(r),
  });
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(mark.value);
  await rm(dir, { recursive: true, force: true });
});

const connect = async (era: '2025' | '2026-07-28'): Promise<Client> => {
  const client = new Client(
    { name: 'test', version: '1' },
    era === '2025' ? {} : { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)));
  assert.equal(client.getProtocolEra(), era === '2025' ? 'legacy' : 'modern');
  return client;
};

describe('an MCP-server target beside Lambda targets, through /mcp', () => {
  for (const era of ['2025', '2026-07-28'] as const) {
    test(`${era} era: tools as each kind carries them; prompts and resources listed and read`, async () => {
      const client = await connect(era);
      try {
        const caps = client.getServerCapabilities();
        assert.ok(caps?.prompts, 'the gateway offers prompts');
        assert.ok(caps.resources, 'the gateway offers resources');

        const { tools } = await client.listTools();
        const byName = new Map(tools.map((t) => [t.name, t]));
        // The mcp target: the server's own tools, outputSchema, title and annotations included.
        const structured = byName.get('everything___get-structured-content');
        assert.ok(structured?.outputSchema, 'outputSchema of an mcp target is served');
        assert.deepEqual(Object.keys(structured.outputSchema.properties ?? {}).sort(), [
          'conditions',
          'humidity',
          'temperature',
        ]);
        const long = byName.get('everything___trigger-long-running-operation');
        assert.equal(long?.title, 'Trigger Long Running Operation Tool');
        assert.equal(long.annotations?.readOnlyHint, true);
        // The lambda target: what AgentCore serves, lowered schemas (input and output), no title.
        const lowered = byName.get('lowered___get-structured-content');
        assert.ok(lowered?.outputSchema, 'the lowered outputSchema of a lambda target is served');
        assert.equal(byName.get('lowered___trigger-long-running-operation')?.title, undefined);
        assert.equal(byName.get('lowered___trigger-long-running-operation')?.annotations, undefined);
        assert.ok(byName.has('memory___read_graph'));
        assert.ok(byName.has('copy___echo'));

        // Calls to both kinds.
        const before = invocations.length;
        const echo = await client.callTool({
          name: 'everything___echo',
          arguments: { message: `mcp ${era}` },
        });
        assert.match(text(echo), new RegExp(`Echo: mcp ${era}`));
        // The invocation's record names the tool, as a Lambda target's does (dev's line, plan's measurements).
        assert.deepEqual(
          invocations
            .slice(before)
            .filter((r) => r.serverId === 'everything')
            .map((r) => r.toolName),
          ['everything___echo'],
        );
        const sc = await client.callTool({
          name: 'everything___get-structured-content',
          arguments: { location: 'New York' },
        });
        assert.equal(typeof (sc.structuredContent as { temperature?: unknown }).temperature, 'number');
        const graph = await client.callTool({ name: 'memory___read_graph', arguments: {} });
        assert.match(text(graph), /entities/);
        const viaLambda = await client.callTool({ name: 'lowered___echo', arguments: { message: 'lambda' } });
        assert.match(text(viaLambda), /Echo: lambda/);

        // Prompts: from mcp targets only, named <target>___<prompt>.
        const { prompts } = await client.listPrompts();
        const names = prompts.map((p) => p.name);
        for (const n of ['everything___simple-prompt', 'everything___args-prompt', 'copy___simple-prompt'])
          assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
        assert.ok(!names.some((n) => n.startsWith('lowered___') || n.startsWith('memory___')));
        const got = await client.getPrompt({
          name: 'everything___args-prompt',
          arguments: { city: 'Lisbon', state: 'Lisboa' },
        });
        assert.match(JSON.stringify(got.messages), /Lisbon/);

        // Resources: URIs as they are, each once although two targets list them.
        const { resources } = await client.listResources();
        const uris = resources.map((r) => r.uri);
        assert.ok(uris.length > 0);
        assert.equal(new Set(uris).size, uris.length, 'a URI listed by two targets is served once');
        const doc = uris.find((u) => u.startsWith('demo://resource/static/document/'));
        assert.ok(doc, uris.join(', '));
        const read = await client.readResource({ uri: doc });
        assert.equal(read.contents[0]?.uri, doc);
        assert.ok(JSON.stringify(read.contents).length > 50);

        const { resourceTemplates } = await client.listResourceTemplates();
        const templates = resourceTemplates.map((t) => t.uriTemplate);
        assert.ok(templates.includes('demo://resource/dynamic/text/{resourceId}'), templates.join(', '));
        const dynamic = await client.readResource({ uri: 'demo://resource/dynamic/text/3' });
        assert.equal(dynamic.contents[0]?.uri, 'demo://resource/dynamic/text/3');
      } finally {
        await client.close();
      }
    });

    test(`${era} era: trigger-long-running-operation's progress notifications reach the client`, async () => {
      const client = await connect(era);
      try {
        const progress: { progress: number; total?: number }[] = [];
        const result = await client.callTool(
          { name: 'everything___trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
          {
            onprogress: (p) =>
              progress.push({ progress: p.progress, ...(p.total === undefined ? {} : { total: p.total }) }),
          },
        );
        assert.match(text(result), /Long running operation completed\. Duration: 1 seconds, Steps: 4/);
        assert.deepEqual(progress, [
          { progress: 1, total: 4 },
          { progress: 2, total: 4 },
          { progress: 3, total: 4 },
          { progress: 4, total: 4 },
        ]);
      } finally {
        await client.close();
      }
    });
  }

  for (const era of ['2025', '2026-07-28'] as const) {
    test(`${era} era: progress notifications arrive while the tool runs, in order, then the result`, async () => {
      const client = await connect(era);
      try {
        // The fault server sends the next progress only once the client has got this one (a
        // gate): had the gateway held them until the end of the invocation, the call would never end.
        const got = gate(dir);
        got.pass('log'); // its log message is not what this test waits for
        const progress: number[] = [];
        const result = await client.callTool(
          { name: 'fault___progress', arguments: { gate: got.dir } },
          {
            onprogress: (p) => {
              progress.push(p.progress);
              got.pass(p.progress);
            },
          },
        );
        assert.equal(
          text(result),
          'progress done',
          'each notification reached the client while the tool ran',
        );
        assert.deepEqual(progress, [1, 2, 3]);
        // A Lambda target in the same fleet still answers.
        const viaLambda = await client.callTool({ name: 'lowered___echo', arguments: { message: 'after' } });
        assert.match(text(viaLambda), /Echo: after/);
      } finally {
        await client.close();
      }
    });
  }

  test('a log message is passed on as soon as the server sends it, before the progress and the result', async () => {
    const client = await connect('2025');
    try {
      // The server goes on after each message only once the client has got it (a gate).
      const got = gate(dir);
      const seen: string[] = [];
      client.setNotificationHandler('notifications/message', (n) => {
        seen.push(`log ${String(n.params.data)}`);
        got.pass('log');
      });
      const result = await client.callTool(
        { name: 'fault___progress', arguments: { gate: got.dir } },
        {
          onprogress: (p) => {
            seen.push(`progress ${p.progress}`);
            got.pass(p.progress);
          },
        },
      );
      assert.equal(text(result), 'progress done', 'the log message reached the client while the tool ran');
      assert.deepEqual(seen, ['log working', 'progress 1', 'progress 2', 'progress 3']);
    } finally {
      await client.close();
    }
  });

  test('a call that outlasts the function timeout: the notifications sent so far, then a clear error', async () => {
    const client = await connect('2025');
    try {
      const progress: number[] = [];
      const before = invocations.length;
      await assert.rejects(
        client.callTool(
          { name: 'short___trigger-long-running-operation', arguments: { duration: 60, steps: 60 } },
          { onprogress: (p) => progress.push(p.progress), timeout: 120_000 },
        ),
        // The runtime stops the server just before Lambda's timeout and says so in the stream
        // (a timeout of the platform itself is in test/local/streaming.test.ts).
        (err: Error) => {
          const within = /tools\/call did not answer within (\d+) ms; the server process was stopped/.exec(
            err.message,
          );
          assert.ok(within, err.message);
          assert.ok(
            Number(within[1]) < 6_000,
            `the runtime's budget is below the 6 s timeout: ${within[1]} ms`,
          );
          return true;
        },
      );
      assert.ok(progress.length >= 2, `progress before the timeout: ${progress.join(', ')}`);
      assert.deepEqual(
        progress,
        progress.map((_, i) => i + 1),
      );
      const call = invocations.slice(before).find((r) => r.serverId === 'short');
      assert.equal(call?.streamed?.contentType, 'application/vnd.awslambda.http-integration-response');
      // Answered before the function timeout: by the runtime, not cut by the platform.
      assert.equal(call.functionError, undefined);
      assert.equal(call.report.status, undefined, `not a platform timeout: ${JSON.stringify(call.report)}`);
      assert.equal(fleet.lambda.resolve('mcp-server-short').stats.timeouts, 0);
      // The server was replaced; the next call starts a new one.
      const echo = await client.callTool({ name: 'short___echo', arguments: { message: 'again' } });
      assert.match(text(echo), /Echo: again/);
    } finally {
      await client.close();
    }
  });

  test('a resource URI two mcp targets list is read from the one with the lower resourcePriority', async () => {
    const client = await connect('2025');
    try {
      const { resources } = await client.listResources();
      const doc = resources.find((r) => r.uri.startsWith('demo://resource/static/document/'));
      assert.ok(doc);
      const before = invocations.length;
      await client.readResource({ uri: doc.uri });
      const reads = invocations.slice(before).map((r) => r.serverId);
      // everything-copy has resourcePriority 5, everything the default 1000.
      assert.deepEqual(reads, ['everything-copy']);
    } finally {
      await client.close();
    }
  });

  test('a server→client request (sampling) through an mcp target is refused with the reason', async () => {
    const client = await connect('2025');
    try {
      const result = await client.callTool({ name: 'fault___ask', arguments: {} });
      const answer = JSON.parse(text(result)) as Record<string, { code?: number; message?: string }>;
      assert.equal(answer['sampling']?.code, -32601);
      assert.match(answer['sampling']?.message ?? '', /sampling is not offered through this front/);
      assert.match(answer['sampling']?.message ?? '', /may land on another Lambda environment/);
    } finally {
      await client.close();
    }
  });

  test('logging and progress notifications of an mcp target come in the SSE answer, before the result', async () => {
    const res = await fetch(`${fleet.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: { name: 'fault___progress', arguments: {}, _meta: { progressToken: 'tok' } },
      }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const messages = messagesOf('text/event-stream', await res.text()) as Record<string, unknown>[];
    assert.deepEqual(
      messages.map((m) => m['method'] ?? `response ${String(m['id'])}`),
      [
        'notifications/message',
        'notifications/progress',
        'notifications/progress',
        'notifications/progress',
        'response 9',
      ],
    );
    assert.deepEqual(messages[0]?.['params'], { level: 'info', data: 'working' });
    assert.equal((messages[1]?.['params'] as { progressToken?: unknown }).progressToken, 'tok');
  });

  test('a client that accepts only JSON gets a JSON answer from a streaming target (no notifications)', async () => {
    const res = await fetch(`${fleet.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 10,
        method: 'tools/call',
        params: { name: 'fault___progress', arguments: { gapMs: 50 }, _meta: { progressToken: 'tok' } },
      }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as { id?: number; result?: { content?: { text?: string }[] } };
    assert.equal(body.id, 10);
    assert.equal(body.result?.content?.[0]?.text, 'progress done');
  });

  test('errors: an unknown prompt, a resource nobody serves, a prompt name without a target', async () => {
    const unknownPrompt = await rpc(`${fleet.url}/mcp`, {
      id: 1,
      method: 'prompts/get',
      params: { name: 'memory___anything' },
    });
    assert.match(JSON.stringify(unknownPrompt.body), /Unknown prompt: memory___anything/);
    const missing = await rpc(`${fleet.url}/mcp`, {
      id: 2,
      method: 'resources/read',
      params: { uri: 'nothing://here' },
    });
    const error = (missing.body as { error?: { code?: number; message?: string; data?: { uri?: string } } })
      .error;
    assert.equal(error?.code, -32602, 'resource not found is -32602 with the URI in data (2026-07-28)');
    assert.equal(error?.data?.uri, 'nothing://here');
    assert.match(error?.message ?? '', /Resource not found: nothing:\/\/here/);
    const noName = await rpc(`${fleet.url}/mcp`, { id: 3, method: 'prompts/get', params: {} });
    assert.match(JSON.stringify(noName.body), /prompts\/get needs params\.name/);
  });
});

/**
 * A tools/call of the fault server's progress tool behind a gate (see {@link gate}): its log
 * message and three progress notifications, each sent once the one before has reached the test.
 */
const gatedProgress = (id: number, gateDir: string): Record<string, unknown> => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'progress', arguments: { gate: gateDir }, _meta: { progressToken: `p${id}` } },
});

/** Passes the gate for each message of the fault server's progress tool found in what came so far. */
function passSeen(got: ReturnType<typeof gate>, sofar: string): void {
  if (sofar.includes('notifications/message')) got.pass('log');
  for (const m of sofar.matchAll(/"progress":(\d+)/g)) got.pass(m[1] ?? '');
}

const PROGRESS_MESSAGES = [
  'notifications/message',
  'notifications/progress',
  'notifications/progress',
  'notifications/progress',
];

describe('streaming past the gateway: the Invoke API and the Function URL', () => {
  test('InvokeWithResponseStream (AWS SDK): PayloadChunk events as the function writes, then InvokeComplete', async () => {
    const client = new LambdaClient({
      endpoint: fleet.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const got = gate(dir);
    const out = await client.send(
      new InvokeWithResponseStreamCommand({
        FunctionName: 'mcp-server-fault',
        Payload: Buffer.from(
          JSON.stringify(mcpPostEvent('fault', JSON.stringify(gatedProgress(21, got.dir)))),
        ),
      }),
    );
    assert.equal(out.StatusCode, 200);
    assert.equal(out.ResponseStreamContentType, 'application/vnd.awslambda.http-integration-response');
    let all = '';
    let complete: Record<string, unknown> | undefined;
    for await (const event of out.EventStream ?? []) {
      if (event.PayloadChunk?.Payload) {
        all += Buffer.from(event.PayloadChunk.Payload).toString('utf8');
        // The function writes each message only once the one before has come as a chunk.
        passSeen(got, all);
      }
      if (event.InvokeComplete) complete = { ...event.InvokeComplete };
    }
    assert.ok(complete, 'an InvokeComplete event ends the stream');
    assert.equal(complete['ErrorCode'], undefined, JSON.stringify(complete));
    const at = all.indexOf('\0'.repeat(8));
    assert.deepEqual(JSON.parse(all.slice(0, at)), {
      statusCode: 200,
      headers: {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      },
    });
    const messages = messagesOf('text/event-stream', all.slice(at + 8)) as Record<string, unknown>[];
    assert.deepEqual(
      messages.map((m) => m['method'] ?? `response ${String(m['id'])}`),
      [...PROGRESS_MESSAGES, 'response 21'],
    );

    // A Lambda target (a buffered function): its whole answer in one chunk.
    const buffered = await client.send(
      new InvokeWithResponseStreamCommand({
        FunctionName: 'mcp-server-lowered',
        Payload: Buffer.from(JSON.stringify({ message: 'whole' })),
        ClientContext: Buffer.from(
          JSON.stringify({ custom: { bedrockAgentCoreToolName: 'lowered___echo' } }),
        ).toString('base64'),
      }),
    );
    const pieces: string[] = [];
    for await (const event of buffered.EventStream ?? []) {
      if (event.PayloadChunk?.Payload) pieces.push(Buffer.from(event.PayloadChunk.Payload).toString('utf8'));
    }
    assert.equal(pieces.length, 1);
    assert.match(pieces[0] ?? '', /Echo: whole/);
    client.destroy();
  });

  test('/servers/<id>/mcp (its Function URL) streams the SSE answer as the function writes it', async () => {
    const got = gate(dir);
    const res = await fetch(`${fleet.url}/servers/fault/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(gatedProgress(22, got.dir)),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const decoder = new TextDecoder();
    let text = '';
    for await (const piece of res.body ?? []) {
      text += decoder.decode(piece as Uint8Array, { stream: true });
      // The function writes each message only once the one before has reached this reader.
      passSeen(got, text);
    }
    const messages = messagesOf('text/event-stream', text) as Record<string, unknown>[];
    assert.deepEqual(
      messages.map((m) => m['method'] ?? `response ${String(m['id'])}`),
      [...PROGRESS_MESSAGES, 'response 22'],
    );
  });
});

describe('helpers', () => {
  test('templateMatcher: simple and reserved expansions', () => {
    assert.ok(
      templateMatcher('demo://resource/dynamic/text/{index}').test('demo://resource/dynamic/text/12'),
    );
    assert.ok(
      !templateMatcher('demo://resource/dynamic/text/{index}').test('demo://resource/dynamic/text/1/2'),
    );
    assert.ok(templateMatcher('file:///{+path}').test('file:///a/b/c.txt'));
    assert.ok(!templateMatcher('a.b/{x}').test('aXb/1'), 'literal characters are escaped');
  });

  test('messagesOf: JSON, batches and SSE; garbage is a clear error', () => {
    assert.deepEqual(messagesOf('application/json', '{"jsonrpc":"2.0","id":1,"result":{}}'), [
      { jsonrpc: '2.0', id: 1, result: {} },
    ]);
    const sse =
      'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n' +
      'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n';
    assert.equal(messagesOf('text/event-stream', sse).length, 2);
    assert.throws(
      () => messagesOf('application/json', '<html>'),
      /the answer is not JSON \(application\/json\)/,
    );
    assert.throws(
      () => messagesOf('text/event-stream', 'data: nope\n\n'),
      /an SSE event of the answer is not JSON/,
    );
  });
});
