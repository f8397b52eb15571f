/**
 * The dev server under generated hostile requests (fast-check): the Invoke API, the gateway, the
 * per-server fronts and every other route get random methods, paths, headers (Host, Origin,
 * invocation types, client contexts) and bodies; raw sockets get random bytes. Every answer is
 * well-formed HTTP in the route's own protocol, no permissive CORS header is ever sent, no stack
 * trace reaches the client, and the fleet keeps serving. Each property reports its input count.
 */
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { tempDir } from '../helpers.js';
import { assertNoStackTrace, hostileJson, property } from '../properties.js';
import { assertNoneLeft, BIN, marker, text } from '../runtime/support.js';
import { memoryServer } from './support.js';

const ALLOWED = 'http://localhost:6274';

let fleet: RunningFleet;
let dir: string;
let cleanup: () => Promise<void>;
const mark = marker();
let port: string;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  const configFile = path.join(dir, 'servers.yaml');
  await writeFile(
    configFile,
    `stack: Fuzz
gateway: { name: fuzz }
defaults: { timeout: 20, env: { MCP_FLEET_TEST_MARKER: "${mark.value}" } }
servers:
  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
${memoryServer(dir)}
`,
  );
  fleet = await startFleet(await loadConfigOrThrow(configFile), {
    port: 0,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    allowedOrigins: [ALLOWED],
  });
  port = new URL(fleet.url).port;
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(mark.value);
  await cleanup();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function send(
  method: string,
  pathname: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<Answer> {
  const withBody = method !== 'GET' && method !== 'HEAD';
  // Node's client frames no body for OPTIONS and DELETE by itself: say its length.
  if (withBody) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: pathname, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.on('error', reject);
    req.end(withBody ? body : undefined);
  });
}

/** Printable ASCII without spaces: what a client can put in a request path. */
const pathChars = fc.string({
  unit: fc.constantFrom(...'abcXYZ019-_.~%:/@!$&()*+,;=[]{}|^`\'"<>'.split('')),
  maxLength: 30,
});
const functionName = fc.oneof(
  { arbitrary: fc.constantFrom('mcp-server-everything', 'mcp-server-memory'), weight: 5 },
  fc.constantFrom(
    'mcp-server-everything:$LATEST',
    'arn:aws:lambda:us-east-1:000000000000:function:mcp-server-memory',
    'mcp-server-nope',
    '%',
    '%E0%A4%A',
    '%2F..%2F',
  ),
  pathChars,
);
const route = fc.oneof(
  { arbitrary: fc.constant('/mcp'), weight: 3 },
  { arbitrary: fc.constantFrom('/servers/everything/mcp', '/servers/memory/mcp'), weight: 2 },
  { arbitrary: functionName.map((n) => `/2015-03-31/functions/${n}/invocations`), weight: 4 },
  fc.constantFrom('/2015-03-31/functions/', '/status', '/', '/servers/%/mcp', '/servers//mcp'),
  pathChars.map((p) => `/${p}`),
);
const method = fc.oneof(
  { arbitrary: fc.constant('POST'), weight: 6 },
  fc.constantFrom('GET', 'OPTIONS', 'PUT', 'DELETE', 'PATCH'),
);
/** A header value Node's client will send: tab, printable ASCII, Latin-1. */
const value = fc.string({
  unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c === 0x7f ? 0x20 : c)),
  maxLength: 40,
});
const base64Of = (v: unknown): string => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64');
const clientContext = fc.oneof(
  fc
    .oneof(
      fc.constantFrom('everything___echo', 'memory___read_graph', 'everything___get-sum', 'nope___x'),
      fc.string({ maxLength: 30 }),
    )
    .map((tool) => base64Of({ custom: { bedrockAgentCoreToolName: tool } })),
  hostileJson.map(base64Of),
  value,
);
const hostHeader = fc.oneof(
  { arbitrary: fc.constant('own'), weight: 8 },
  fc.constantFrom(
    'localhost',
    '[::1]',
    'app.localhost',
    '10.0.0.1',
    'evil.example',
    'evil.example:80',
    '127.0.0.1.nip.io',
  ),
);
const originHeader = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 6 },
  fc.constantFrom('own', ALLOWED, 'http://evil.example', 'null', 'http://localhost:6275'),
  value,
);
const message = fc.record(
  {
    jsonrpc: fc.oneof({ arbitrary: fc.constant('2.0'), weight: 6 }, hostileJson),
    id: fc.oneof({ arbitrary: fc.integer(), weight: 4 }, hostileJson),
    method: fc.oneof(
      {
        arbitrary: fc.constantFrom(
          'tools/list',
          'tools/call',
          'initialize',
          'ping',
          'resources/list',
          'server/discover',
        ),
        weight: 6,
      },
      fc.string({ maxLength: 20 }),
    ),
    params: fc.oneof(
      fc.record(
        {
          name: fc.oneof(
            fc.constantFrom('echo', 'everything___echo', 'read_graph', 'memory___read_graph'),
            hostileJson,
          ),
          arguments: fc.oneof(fc.record({ message: hostileJson }), hostileJson),
        },
        { requiredKeys: [] },
      ),
      hostileJson,
    ),
  },
  { requiredKeys: ['jsonrpc'] },
);
const body = fc.oneof(
  { arbitrary: message.map((m) => Buffer.from(JSON.stringify(m))), weight: 4 },
  fc.array(message, { maxLength: 5 }).map((m) => Buffer.from(JSON.stringify(m))),
  fc
    .record({ message: hostileJson, toolName: hostileJson }, { requiredKeys: [] })
    .map((m) => Buffer.from(JSON.stringify(m))),
  hostileJson.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
);
const requestArb = fc.record({
  method,
  route,
  host: hostHeader,
  origin: originHeader,
  contentType: fc.oneof(
    { arbitrary: fc.constant('application/json'), weight: 4 },
    fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'),
    value,
  ),
  accept: fc.oneof({ arbitrary: fc.constant('application/json, text/event-stream'), weight: 4 }, value),
  invocationType: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 4 },
    fc.constantFrom('RequestResponse', 'DryRun', 'Event'),
    value,
  ),
  clientContext: fc.option(clientContext, { nil: undefined }),
  secFetchSite: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 8 },
    fc.constantFrom('cross-site', 'same-site', 'same-origin', 'none'),
  ),
  body,
});

type Req = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function headersOf(r: Req): Record<string, string> {
  const h: Record<string, string> = {
    host: r.host === 'own' ? `127.0.0.1:${port}` : r.host,
    'content-type': r.contentType,
    accept: r.accept,
  };
  if (r.origin !== undefined) h['origin'] = r.origin === 'own' ? fleet.url : r.origin;
  if (r.invocationType !== undefined) h['x-amz-invocation-type'] = r.invocationType;
  if (r.clientContext !== undefined) h['x-amz-client-context'] = r.clientContext;
  if (r.secFetchSite !== undefined) h['sec-fetch-site'] = r.secFetchSite;
  return h;
}

function checkAnswer(r: Req, a: Answer): void {
  const where = `${r.method} ${r.route} ${JSON.stringify(headersOf(r)).slice(0, 300)} -> ${a.status} ${a.body.slice(0, 200)}`;
  assert.ok(a.status >= 100 && a.status <= 599, where);
  assertNoStackTrace(a.body, where);
  // Nothing a client sends may leave a server hanging (it would be killed at the deadline).
  assert.doesNotMatch(a.body, /did not answer within/, where);
  const acao = a.headers['access-control-allow-origin'];
  const origin = r.origin === 'own' ? fleet.url : r.origin;
  if (acao !== undefined) assert.equal(acao, ALLOWED, `${where}: CORS only for the allowed origin`);
  if (acao !== undefined) assert.equal(origin, ALLOWED, where);
  // Node answers what it cannot take (431: headers too large; 400: unparsable) before any route.
  if (a.body === '' && (a.status === 431 || a.status === 400)) return;
  const foreignHost = ['evil.example', 'evil.example:80', '127.0.0.1.nip.io'].includes(r.host);
  if (foreignHost) assert.equal(a.status, 403, `${where}: foreign Host`);
  else if (origin !== undefined && origin !== fleet.url && origin !== ALLOWED)
    assert.equal(a.status, 403, `${where}: foreign Origin`);
  const type = a.headers['content-type'] ?? '';
  if (type.startsWith('application/json') && a.body !== '') JSON.parse(a.body);
  const invoke = r.route.startsWith('/2015-03-31/functions/') && r.route.endsWith('/invocations');
  // Node's own answers to what it cannot parse (400, 431: headers too large) have no body.
  if (invoke && a.status >= 400 && a.body !== '') {
    assert.equal(typeof a.headers['x-amzn-errortype'], 'string', `${where}: x-amzn-ErrorType`);
    const e = JSON.parse(a.body) as { Type?: unknown; message?: unknown };
    assert.equal(typeof e.message, 'string', where);
  }
  if (invoke && a.status === 200) {
    assert.equal(a.headers['x-amz-executed-version'], '$LATEST', where);
    const payload: unknown = JSON.parse(a.body);
    if (a.headers['x-amz-function-error'] !== undefined)
      assert.equal(typeof (payload as { errorMessage?: unknown }).errorMessage, 'string', where);
  }
  if (r.route === '/mcp' && a.status >= 400 && a.status !== 404 && type.startsWith('application/json')) {
    const e = JSON.parse(a.body) as { jsonrpc?: unknown; error?: { code?: unknown } };
    assert.equal(e.jsonrpc, '2.0', where);
    assert.ok(Number.isInteger(e.error?.code), where);
  }
}

async function stillServing(): Promise<void> {
  const client = new Client({ name: 'after', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)));
  assert.match(
    text(await client.callTool({ name: 'everything___echo', arguments: { message: 'still here' } })),
    /Echo: still here/,
  );
  await client.close();
  for (const fn of fleet.lambda.functions.values()) assert.notEqual(fn.state, 'failed', fn.name);
}

test('random requests to every route: well-formed answers in the route’s protocol, no permissive CORS', async (t) => {
  const statuses = new Map<number, number>();
  await property(
    t,
    'dev server: requests to every route (Invoke API, gateway, per-server fronts)',
    requestArb,
    async (r) => {
      const a = await send(r.method, r.route, headersOf(r), r.body);
      checkAnswer(r, a);
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    },
    600,
  );
  t.diagnostic(
    `statuses: ${[...statuses]
      .sort((a, b) => a[0] - b[0])
      .map(([k, v]) => `${k}x${v}`)
      .join(', ')}`,
  );
  assert.ok((statuses.get(200) ?? 0) >= 60, 'many requests were served, not only refused');
  await stillServing();
});

test('random bytes on a raw socket: a 4xx or a closed connection, and the server keeps serving', async (t) => {
  const junk = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
    fc
      .tuple(fc.constantFrom('GET', 'POST', 'OPTIONS', 'BREW'), pathChars, fc.string({ maxLength: 60 }))
      .map(([m, p, rest]) => Buffer.from(`${m} /${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n${rest}`)),
    fc.constantFrom(
      Buffer.from('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n'),
      Buffer.from('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
      Buffer.from(`GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`),
      Buffer.from('GET /status HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'),
      Buffer.from('\r\n\r\n\r\n'),
    ),
  );
  await property(
    t,
    'dev server: random bytes on a raw socket',
    junk,
    async (bytes) => {
      const got = await new Promise<string>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1');
        let out = '';
        socket.setEncoding('latin1').on('data', (d: string) => (out += d));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          resolve(out);
        });
        socket.end(bytes);
        setTimeout(() => socket.destroy(), 5_000).unref();
      });
      if (got !== '') {
        assert.match(got, /^HTTP\/1\.[01] \d{3} /, got.slice(0, 100));
        assertNoStackTrace(got, got.slice(0, 200));
        assert.doesNotMatch(got, /access-control-allow-origin: \*/i);
      }
    },
    200,
  );
  await stillServing();
});
