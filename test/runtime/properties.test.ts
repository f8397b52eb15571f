/**
 * Hostile inputs, generated (fast-check): the HTTP front, the AgentCore front, the direct JSON-RPC
 * front and the stdio reader get malformed and random inputs; nothing crashes, every answer is a
 * well-formed HTTP / JSON-RPC / Lambda answer, no stack trace reaches a client, and the server
 * keeps serving afterwards. Each property reports how many inputs it ran.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { LineSplitter, StderrSink } from '../../src/runtime/lines.js';
import { Redactor } from '../../src/runtime/redact.js';
import { createHandler, type McpLambdaHandler } from '../../src/runtime/index.js';
import { fixture } from '../helpers.js';
import { assertNoStackTrace, hostileJson, property } from '../properties.js';
import { assertNoneLeft, BIN, lambdaContext, marker, RecordingLog, text } from './support.js';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

const mark = marker();
let everything: McpLambdaHandler;
let throwing: McpLambdaHandler;
let noise: McpLambdaHandler;

before(async () => {
  const launch = { id: 'everything', command: BIN('mcp-server-everything'), args: ['stdio'], env: mark.env };
  everything = createHandler(launch, { log: new RecordingLog() });
  throwing = createHandler(launch, { log: new RecordingLog(), throwOnError: true });
  noise = createHandler(
    { id: 'noise', command: process.execPath, args: [fixture('servers', 'noise-server.mjs')], env: mark.env },
    { log: new RecordingLog() },
  );
  await Promise.all([everything.ready, throwing.ready, noise.ready]);
});

after(async () => {
  await Promise.all([everything.close(), throwing.close(), noise.close()]);
  await assertNoneLeft(mark.value);
});

const TOOLS = [
  'echo',
  'get-sum',
  'get-tiny-image',
  'get-annotated-message',
  'get-structured-content',
  'nope',
];
const METHODS = [
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/read',
  'prompts/list',
  'prompts/get',
  'server/discover',
  'completion/complete',
  'logging/setLevel',
  'notifications/initialized',
  'notifications/cancelled',
  'sampling/createMessage',
];

/** Ids: ordinary, huge, of the wrong type. */
const id = fc.oneof(
  { arbitrary: fc.integer(), weight: 4 },
  { arbitrary: fc.string({ maxLength: 20 }), weight: 2 },
  fc.constantFrom(1e308, -0, 1.5, Number.MAX_SAFE_INTEGER + 2, 'x'.repeat(50_000), null, true, [], {}),
  hostileJson,
);

/** Something shaped like a JSON-RPC message, often wrongly. */
const message = fc
  .record(
    {
      jsonrpc: fc.oneof({ arbitrary: fc.constant('2.0'), weight: 8 }, hostileJson),
      id,
      method: fc.oneof(
        { arbitrary: fc.constantFrom(...METHODS), weight: 6 },
        fc.string({ maxLength: 30 }),
        hostileJson,
      ),
      params: fc.oneof(
        fc.record(
          {
            name: fc.oneof(fc.constantFrom(...TOOLS), hostileJson),
            arguments: fc.oneof(
              fc.record({ message: hostileJson, a: hostileJson, b: hostileJson }, { requiredKeys: [] }),
              hostileJson,
            ),
            uri: hostileJson,
            protocolVersion: fc.oneof(fc.constantFrom('2025-11-25', '2025-03-26', '2026-07-28'), hostileJson),
            capabilities: hostileJson,
            clientInfo: hostileJson,
            _meta: fc.oneof(
              fc.record(
                {
                  'io.modelcontextprotocol/protocolVersion': fc.constantFrom('2026-07-28', 'bogus'),
                  progressToken: hostileJson,
                },
                { requiredKeys: [] },
              ),
              hostileJson,
            ),
          },
          { requiredKeys: [] },
        ),
        hostileJson,
      ),
      result: hostileJson,
      error: hostileJson,
    },
    { requiredKeys: ['jsonrpc'] },
  )
  .map((m) => m as Record<string, unknown>);

/** A request body: a message, a batch, random JSON, random text, or a number beyond double precision. */
const body = fc.oneof(
  { arbitrary: message.map((m) => JSON.stringify(m)), weight: 6 },
  { arbitrary: fc.array(message, { maxLength: 12 }).map((b) => JSON.stringify(b)), weight: 2 },
  hostileJson.map((v) => JSON.stringify(v) ?? ''),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc
    .bigInt()
    .map((n) => `{"jsonrpc":"2.0","id":${n.toString()}123456789012345678901234567890,"method":"ping"}`),
  fc.constantFrom(
    '',
    '{',
    '[',
    '[]',
    '{}',
    'null',
    '"',
    '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
  ),
);

const headerValue = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }));
/** Absent most of the time (weight 6 to 1). */
const rarely = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: arb, weight: 1 });

const headers = fc
  .record({
    'content-type': fc.oneof(
      { arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8'), weight: 6 },
      fc.constantFrom('APPLICATION/JSON', 'text/plain', ''),
      headerValue,
    ),
    accept: fc.oneof(
      { arbitrary: fc.constantFrom('application/json, text/event-stream', 'application/json'), weight: 6 },
      fc.constantFrom('text/event-stream', '*/*', 'text/html'),
      headerValue,
    ),
    'mcp-protocol-version': rarely(
      fc.oneof(fc.constantFrom('2025-11-25', '2025-06-18', '2026-07-28'), headerValue),
    ),
    'mcp-method': rarely(fc.oneof(fc.constantFrom(...METHODS), headerValue)),
    'mcp-name': rarely(fc.oneof(fc.constantFrom(...TOOLS), headerValue)),
    origin: rarely(fc.oneof(fc.constantFrom('https://evil.example', 'null'), headerValue)),
    extra: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), headerValue, { maxKeys: 4 }),
  })
  .map(({ extra, ...known }) => {
    const out: Record<string, string> = { ...extra };
    for (const [k, v] of Object.entries(known)) if (v !== undefined) out[k] = v;
    return out;
  });

/** An HTTP event of each kind AWS sends (Function URL, API Gateway v1 and v2), or a broken one. */
const httpEvent = fc
  .record({
    kind: fc.oneof(
      { arbitrary: fc.constantFrom('function-url', 'apigw-v1', 'apigw-v2'), weight: 9 },
      { arbitrary: fc.constant('broken'), weight: 1 },
    ),
    method: fc.oneof(
      { arbitrary: fc.constant('POST'), weight: 8 },
      fc.constantFrom('GET', 'OPTIONS', 'DELETE', 'PUT'),
      fc.string({ maxLength: 8 }),
    ),
    headers,
    body,
    base64: fc.boolean(),
    multi: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.array(headerValue, { maxLength: 3 })), {
      nil: undefined,
    }),
  })
  .map(({ kind, method, headers: h, body: b, base64, multi }) => {
    const encoded = base64 ? Buffer.from(b, 'utf8').toString('base64') : b;
    if (kind === 'apigw-v1')
      return {
        resource: '/mcp',
        path: '/mcp',
        httpMethod: method,
        headers: h,
        ...(multi ? { multiValueHeaders: multi } : {}),
        requestContext: { stage: 'prod' },
        body: encoded,
        isBase64Encoded: base64,
      };
    const requestContext =
      kind === 'apigw-v2'
        ? {
            apiId: 'abc',
            domainName: 'abc.execute-api.us-east-1.amazonaws.com',
            http: { method, path: '/mcp' },
          }
        : { domainName: 'x.lambda-url.us-east-1.on.aws', http: { method, path: '/mcp' } };
    if (kind === 'broken')
      return {
        rawPath: 7,
        headers: 'not an object',
        requestContext: { http: { method }, apiId: 1 },
        body: [b],
      };
    return {
      version: '2.0',
      rawPath: '/mcp',
      headers: h,
      requestContext,
      body: encoded,
      isBase64Encoded: base64,
    };
  });

interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** A well-formed HTTP answer: JSON-RPC errors for refusals, JSON-RPC responses or SSE for calls. */
function checkHttp(result: unknown, where: string): void {
  const r = result as HttpResult;
  assert.ok(Number.isInteger(r.statusCode) && r.statusCode >= 100 && r.statusCode <= 599, `${where}: status`);
  assert.ok(typeof r.headers === 'object' && r.headers !== null, `${where}: headers`);
  for (const [k, v] of Object.entries(r.headers)) assert.equal(typeof v, 'string', `${where}: header ${k}`);
  assert.equal(r.headers['access-control-allow-origin'], undefined, `${where}: no CORS by default`);
  assert.equal(typeof r.body, 'string', `${where}: body`);
  assertNoStackTrace(r.body, where);
  const type = r.headers['content-type'] ?? '';
  if (r.body === '') {
    assert.ok([202, 204].includes(r.statusCode), `${where}: empty body with ${r.statusCode}`);
    return;
  }
  const messages: unknown[] = [];
  if (type.startsWith('text/event-stream')) {
    for (const line of r.body.split('\n'))
      if (line.startsWith('data: ')) messages.push(JSON.parse(line.slice(6)));
  } else {
    assert.match(type, /^application\/json/, `${where}: content type`);
    const parsed: unknown = JSON.parse(r.body);
    messages.push(...(Array.isArray(parsed) ? (parsed as unknown[]) : [parsed]));
  }
  for (const m of messages) {
    const msg = m as {
      jsonrpc?: unknown;
      error?: { code?: unknown; message?: unknown };
      result?: unknown;
      method?: unknown;
    };
    assert.equal(msg.jsonrpc, '2.0', `${where}: a JSON-RPC message`);
    if (msg.method !== undefined) continue; // a notification in an SSE stream
    assert.ok('result' in msg !== 'error' in msg, `${where}: result or error`);
    if (msg.error) {
      assert.ok(Number.isInteger(msg.error.code), `${where}: error code`);
      assert.equal(typeof msg.error.message, 'string', `${where}: error message`);
    }
  }
  if (r.statusCode >= 400)
    assert.ok(messages.length === 1 && 'error' in (messages[0] as object), `${where}: an error`);
}

/** An MCP tool result: content items with a type, or a Lambda function error (thrown). */
function checkToolResult(result: unknown, where: string): void {
  const r = result as { content?: unknown; isError?: unknown };
  assert.ok(Array.isArray(r.content), `${where}: content`);
  for (const c of r.content as { type?: unknown }[])
    assert.equal(typeof c.type, 'string', `${where}: content type`);
  assert.ok(r.isError === undefined || typeof r.isError === 'boolean', `${where}: isError`);
  assertNoStackTrace(JSON.stringify(result), where);
}

async function stillServing(handler: McpLambdaHandler): Promise<void> {
  const r = await handler({ message: 'after the storm' }, lambdaContext({ toolName: 'everything___echo' }));
  assert.match(text(r), /Echo: after the storm/);
}

describe('the HTTP front (Function URL, API Gateway v1 and v2)', () => {
  test('random events, headers, bodies, JSON-RPC shapes, batches, huge ids: well-formed answers only', async (t) => {
    const pid = everything.pid;
    const statuses = new Map<number, number>();
    await property(
      t,
      'HTTP front: events',
      httpEvent,
      async (event) => {
        const result = await everything(event, lambdaContext({ remainingMs: 10_000 }));
        checkHttp(result, JSON.stringify(event).slice(0, 300));
        const status = (result as HttpResult).statusCode;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      },
      800,
    );
    t.diagnostic(
      `HTTP statuses: ${[...statuses]
        .sort((a, b) => a[0] - b[0])
        .map(([k, v]) => `${k}x${v}`)
        .join(', ')}`,
    );
    // Not a property that only ever met the first check: many inputs reached the server.
    const served = (statuses.get(200) ?? 0) + (statuses.get(202) ?? 0);
    assert.ok(served >= 80, `only ${served} inputs were served`);
    await stillServing(everything);
    assert.equal(everything.pid, pid, 'the same server process: nothing crashed it');
  });
});

describe('the AgentCore front and the direct JSON-RPC front', () => {
  const clientContext = fc.oneof(
    fc.constant(undefined),
    hostileJson,
    fc.record(
      {
        custom: fc.oneof(
          fc.record(
            {
              bedrockAgentCoreToolName: fc.oneof(
                fc.constantFrom(...TOOLS).map((n) => `everything___${n}`),
                fc.constantFrom(...TOOLS),
                fc.string({ maxLength: 40 }).map((s) => `everything___${s}`),
                hostileJson,
              ),
              bedrockAgentCoreMcpMessageId: hostileJson,
              bedrockAgentCoreMessageVersion: hostileJson,
            },
            { requiredKeys: [] },
          ),
          hostileJson,
        ),
        Custom: hostileJson,
      },
      { requiredKeys: [] },
    ),
  );
  const event = fc.oneof(
    hostileJson,
    fc.record(
      { message: hostileJson, a: hostileJson, b: hostileJson, toolName: hostileJson, headers: hostileJson },
      { requiredKeys: [] },
    ),
  );

  test('random events and client contexts: a CallToolResult, or (throwOnError) a Lambda function error', async (t) => {
    await property(
      t,
      'AgentCore front: events x client contexts',
      fc.record({ event, clientContext }),
      async ({ event: e, clientContext: cc }) => {
        const context = {
          ...lambdaContext(),
          clientContext: cc,
        } as unknown as Parameters<McpLambdaHandler>[1];
        const where = JSON.stringify({ e, cc }).slice(0, 300);
        const result = await everything(e, context);
        // Without a tool name, an event may also be a JSON-RPC message or an HTTP event: its front answers.
        if (Array.isArray((result as { content?: unknown }).content)) checkToolResult(result, where);
        else if (result !== null && typeof result === 'object' && 'statusCode' in result)
          checkHttp(result, where);
        else assertNoStackTrace(JSON.stringify(result), where);
        try {
          const thrown = await throwing(e, context);
          if (Array.isArray((thrown as { content?: unknown }).content)) checkToolResult(thrown, where);
        } catch (err) {
          assert.ok(err instanceof Error, `${where}: an Error`);
          assert.equal(typeof err.message, 'string');
          assertNoStackTrace(err.message, where);
        }
      },
      600,
    );
    await stillServing(everything);
    await stillServing(throwing);
  });

  test('random JSON-RPC messages and batches invoked directly: JSON-RPC responses only', async (t) => {
    const pid = everything.pid;
    await property(
      t,
      'direct JSON-RPC front: messages and batches',
      fc.oneof(message, fc.array(message, { minLength: 1, maxLength: 10 })),
      async (m) => {
        const result = await everything(m, lambdaContext({ remainingMs: 10_000 }));
        const where = JSON.stringify(m).slice(0, 300);
        assertNoStackTrace(JSON.stringify(result) ?? '', where);
        // A request the server silently drops would hold the call to its deadline, then cost the process.
        assert.doesNotMatch(JSON.stringify(result) ?? '', /did not answer within/, where);
        if (result === null) return;
        for (const r of Array.isArray(result) ? (result as unknown[]) : [result]) {
          const msg = r as Record<string, unknown>;
          if ('content' in msg) continue; // not JSON-RPC after all: served as AgentCore arguments
          if ('statusCode' in msg) continue;
          assert.equal(msg['jsonrpc'], '2.0', where);
          assert.ok('result' in msg !== 'error' in msg, where);
        }
      },
      600,
    );
    await stillServing(everything);
    assert.equal(everything.pid, pid, 'the same server process: nothing crashed or hung it');
  });

  test('found by the property above: params that are not an object are refused at once, not dropped by the server', async () => {
    const pid = everything.pid;
    for (const params of [null, 'x', [1, 2], 5, { _meta: 'x' }, { _meta: { progressToken: {} } }]) {
      // Refused by the bridge: a request the server dropped would be answered at its deadline with a
      // timeout, and cost the process (the pid below). That nothing reaches the server, and the
      // answer comes with the clock standing still, is checked in test/unit/runtime.test.ts.
      const r = (await everything(
        { jsonrpc: '2.0', id: 9, method: 'tools/list', params },
        lambdaContext({ remainingMs: 4000 }),
      )) as {
        id: number;
        error: { code: number; message: string };
      };
      assert.equal(r.id, 9);
      assert.equal(r.error.code, -32602);
      assert.match(r.error.message, /^Invalid params: params(\._meta(\.progressToken)?)? must be/);
    }
    assert.equal(everything.pid, pid);
  });
});

describe('the stdio reader', () => {
  /** Bytes that are hard to read: random, UTF-8 cut in the middle of a character, long lines, stray messages. */
  const garbage = fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    fc.string({ unit: 'grapheme', maxLength: 100 }).map((s) => {
      const b = Buffer.from(s, 'utf8');
      return b.subarray(0, Math.max(0, b.length - 1)); // the last character cut short
    }),
    fc.constantFrom(
      Buffer.from('\xff\xfe\xfd not utf-8 \xc3'),
      Buffer.from(
        '{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"stray"}}',
      ),
      Buffer.from('{"jsonrpc":"2.0","id":"not-ours","result":{}}'),
      Buffer.from('{"jsonrpc":"2.0","id":"srv-1","method":"roots/list"}'),
      Buffer.from('{"jsonrpc":"2.0","id":"srv-2","method":"made/up","params":[1,2]}'),
      Buffer.from('{"jsonrpc":"2.0"'),
      Buffer.from('\r\n\r\n\u0000\u0000'),
      Buffer.alloc(300_000, 0x61), // one long line
    ),
  );
  const noiseArb = fc
    .array(fc.tuple(garbage, fc.boolean()), { maxLength: 8 })
    .map((parts) => Buffer.concat(parts.flatMap(([b, nl]) => (nl ? [b, Buffer.from('\n')] : [b]))));

  test('a server that writes garbage before its answers: every call is still answered, by the same process', async (t) => {
    await noise({ b64: '' }, lambdaContext({ toolName: 'noise___noise' }));
    const pid = noise.pid;
    await property(
      t,
      'stdio reader: garbage from a real server process',
      noiseArb,
      async (bytes) => {
        const result = await noise(
          { b64: bytes.toString('base64') },
          lambdaContext({ toolName: 'noise___noise' }),
        );
        assert.equal(text(result), `after ${bytes.length} bytes of noise`);
      },
      120,
    );
    assert.equal(noise.pid, pid, 'the same server process');
  });

  test('LineSplitter: any bytes in any chunks give the lines the model gives, none over the limit', async (t) => {
    await property(
      t,
      'stdio reader: LineSplitter framing',
      fc.record({
        chunks: fc.array(fc.oneof(fc.uint8Array({ maxLength: 60 }), fc.constant(new Uint8Array([0x0a]))), {
          maxLength: 30,
        }),
        max: fc.integer({ min: 1, max: 50 }),
      }),
      ({ chunks, max }) => {
        const got: string[] = [];
        const splitter = new LineSplitter(
          max,
          (line) => {
            assert.ok(line.length <= max);
            got.push(`line:${line.toString('hex')}`);
          },
          (bytes) => got.push(`over:${bytes}`),
        );
        for (const c of chunks) splitter.push(Buffer.from(c));
        splitter.end();
        const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
        const segments: Buffer[] = [];
        let start = 0;
        for (let i = all.indexOf(0x0a); i !== -1; i = all.indexOf(0x0a, start)) {
          segments.push(all.subarray(start, i));
          start = i + 1;
        }
        if (start < all.length) segments.push(all.subarray(start));
        const expected = segments.map((s) =>
          s.length > max ? `over:${s.length}` : `line:${s.toString('hex')}`,
        );
        assert.deepEqual(got, expected);
      },
      2000,
    );
  });

  test('StderrSink: characters split across chunks stay whole in the crash tail', async (t) => {
    await property(
      t,
      'stdio reader: StderrSink partial UTF-8 and tail',
      fc.record({
        text: fc.string({ unit: 'grapheme', maxLength: 300 }),
        cuts: fc.array(fc.nat(), { maxLength: 10 }),
        tailBytes: fc.integer({ min: 1, max: 64 }),
      }),
      ({ text: s, cuts, tailBytes }) => {
        const bytes = Buffer.from(s, 'utf8');
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const forwarded: string[] = [];
        const sink = new StderrSink({
          tailBytes,
          maxLineBytes: 32,
          bytesPerSecond: 1_000_000,
          forward: (line) => forwarded.push(line),
        });
        let at = 0;
        for (const p of [...points, bytes.length]) {
          sink.push(bytes.subarray(at, p));
          at = p;
        }
        sink.end();
        // The model: the end of the whole text, never starting with half a surrogate pair.
        const end = s.slice(-tailBytes);
        const expected = (/^[\uDC00-\uDFFF]/.test(end) ? end.slice(1) : end).trim();
        assert.equal(sink.lastOutput(), expected);
        for (const line of forwarded) assert.equal(typeof line, 'string');
      },
      2000,
    );
  });
});

describe('redaction', () => {
  const secret = fc
    .string({ unit: 'grapheme', minLength: 6, maxLength: 30 })
    .filter((s) => s.length >= 6 && !/[[\]]/.test(s) && !'[redacted TOKEN]'.includes(s) && s.trim() === s);

  test('a secret anywhere in text, JSON, or JSON in JSON is never in what leaves', async (t) => {
    await property(
      t,
      'redaction: secrets in text and nested JSON',
      fc.record({
        secret,
        before: fc.string({ maxLength: 20 }),
        after: fc.string({ maxLength: 20 }),
        levels: fc.integer({ min: 0, max: 3 }),
      }),
      ({ secret: value, before: b, after: a, levels }) => {
        const redactor = new Redactor();
        redactor.add({ TOKEN: value });
        let doc = `${b}${value}${a}`;
        for (let i = 0; i < levels; i++) doc = JSON.stringify({ text: doc });
        /** The text at the bottom of the nesting, as a reader of the document gets it. */
        const unwrap = (redacted: string): string => {
          let x = redacted;
          for (let i = 0; i < levels; i++) x = (JSON.parse(x) as { text: string }).text;
          return x;
        };
        assert.ok(!unwrap(redactor.redact(doc)).includes(value), 'the value is gone from the text');
        const out = redactor.redactDeep({ payload: doc, list: [doc], [value]: 1 });
        assert.ok(!unwrap(out.payload).includes(value), 'the value is gone from the document');
        assert.ok(!unwrap(out.list[0] ?? '').includes(value));
        assert.deepEqual(Object.keys(out).sort(), ['[redacted TOKEN]', 'list', 'payload']);
      },
      1500,
    );
  });
});
