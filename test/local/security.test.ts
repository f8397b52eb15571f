import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { LocalGateway } from '../../src/local/gateway/gateway.js';
import { LocalLambda } from '../../src/local/lambda/service.js';
import {
  AccessPolicy,
  hostName,
  parseAllowedHost,
  parseAllowedOrigin,
} from '../../src/local/dev/security.js';
import { startDevServer } from '../../src/local/dev/server.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { CLI, tempDir } from '../helpers.js';
import { assertNoneLeft, BIN, FAULT_SERVER, marker, text } from '../runtime/support.js';
import { memoryServer } from './support.js';
import { eventually, exited, outputOf, waitForText } from '../support/eventually.js';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

/** The secret the developer's environment holds (the dev fallback of `secrets:`). */
const SECRET = 'sk-dev-7f3a9c2e41b8';
const ALLOWED = 'http://localhost:6274';
const EVIL = 'http://evil.example';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A raw HTTP request (node:http: fetch would not let a test set Host). */
function raw(
  base: string,
  method: string,
  pathname: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<Answer> {
  const url = new URL(pathname, base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path: url.pathname + url.search, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const mcpCall = (id: number, name: string, args: Record<string, unknown> = {}): string =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INVOKE = (fn: string): string => `/2015-03-31/functions/${fn}/invocations`;

/** Every route of the dev server, as a client would call it. */
const ROUTES: {
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}[] = [
  { name: 'the status page', method: 'GET', path: '/', headers: {} },
  { name: '/status', method: 'GET', path: '/status', headers: {} },
  {
    name: 'the gateway',
    method: 'POST',
    path: '/mcp',
    headers: JSON_HEADERS,
    body: mcpCall(1, 'everything___echo', { message: 'hi' }),
  },
  {
    name: 'a per-server front',
    method: 'POST',
    path: '/servers/everything/mcp',
    headers: JSON_HEADERS,
    body: mcpCall(1, 'echo', { message: 'hi' }),
  },
  {
    name: 'the Invoke API',
    method: 'POST',
    path: INVOKE('mcp-server-everything'),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ toolName: 'everything___echo', message: 'hi' }),
  },
  { name: 'ListFunctions', method: 'GET', path: '/2015-03-31/functions/', headers: {} },
  { name: 'an unknown path', method: 'GET', path: '/nope', headers: {} },
  {
    name: 'a preflight',
    method: 'OPTIONS',
    path: '/mcp',
    headers: { 'access-control-request-method': 'POST' },
  },
];

let dir: string;
let cleanup: () => Promise<void>;
let configFile: string;
let mark: ReturnType<typeof marker>;
let env: NodeJS.ProcessEnv;
let fleet: RunningFleet;
let host: string;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  mark = marker();
  configFile = path.join(dir, 'servers.yaml');
  const node = JSON.stringify(process.execPath);
  const fault = JSON.stringify(FAULT_SERVER);
  await writeFile(
    configFile,
    `stack: SecurityTest
gateway: { name: security-test }
defaults:
  timeout: 30
  env:
    MCP_FLEET_TEST_MARKER: "${mark.value}"
servers:
  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    secrets: { API_TOKEN: { ssm: /dev/api-token } }
${memoryServer(dir)}
  leaky:
    description: prints its secret on stderr at start
    command: 'echo "starting with token $API_TOKEN" >&2; exec ${node.slice(1, -1)} ${fault.slice(1, -1)}'
    shell: true
    secrets: { API_TOKEN: { ssm: /dev/api-token } }
  leaky-broken:
    description: fails at start with its secret in the message
    command: 'echo "fatal: login refused for token $API_TOKEN" >&2; exit 3'
    shell: true
    secrets: { API_TOKEN: { secretsManager: dev/api-token } }
`,
  );
  env = { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true', API_TOKEN: SECRET };
  const config = await loadConfigOrThrow(configFile);
  fleet = await startFleet(config, { port: 0, env, allowedOrigins: [ALLOWED] });
  host = new URL(fleet.url).host;
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(mark.value);
  await cleanup();
});

const noPermissiveCors = (a: Answer, what: string): void => {
  assert.equal(
    a.headers['access-control-allow-origin'],
    undefined,
    `${what}: no Access-Control-Allow-Origin`,
  );
};

describe('Host: DNS rebinding', () => {
  for (const foreign of [
    'evil.example',
    'evil.example:80',
    '127.0.0.1.nip.io',
    'localhost.evil.example',
    'attacker.test:4040',
  ])
    test(`Host ${foreign} is refused on every route with 403, naming --allowed-host`, async () => {
      for (const r of ROUTES) {
        const a = await raw(fleet.url, r.method, r.path, { ...r.headers, host: foreign }, r.body);
        assert.equal(a.status, 403, `${r.name}: ${a.body}`);
        noPermissiveCors(a, r.name);
        const name = foreign.split(':')[0] ?? '';
        assert.match(a.body, new RegExp(`Host \\\\?"${name.replace(/\./g, '\\.')}`), r.name);
        assert.match(a.body, new RegExp(`--allowed-host ${name.replace(/\./g, '\\.')}`), r.name);
      }
    });

  test('the refusal speaks each route’s protocol: JSON-RPC, Lambda errors, plain JSON', async () => {
    const mcp = await raw(
      fleet.url,
      'POST',
      '/mcp',
      { ...JSON_HEADERS, host: 'evil.example' },
      mcpCall(1, 'x'),
    );
    assert.equal((JSON.parse(mcp.body) as { error: { code: number } }).error.code, -32600);
    const invoke = await raw(fleet.url, 'POST', INVOKE('mcp-server-memory'), { host: 'evil.example' }, '{}');
    assert.equal(invoke.headers['x-amzn-errortype'], 'AccessDeniedException');
    assert.equal((JSON.parse(invoke.body) as { Type: string }).Type, 'User');
    const status = await raw(fleet.url, 'GET', '/status', { host: 'evil.example' });
    assert.match((JSON.parse(status.body) as { error: string }).error, /^Forbidden: Host/);
  });

  test('loopback names, *.localhost and IP addresses are this server', async () => {
    const port = new URL(fleet.url).port;
    for (const h of [
      host,
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `[::1]:${port}`,
      `app.localhost:${port}`,
      '127.0.0.1',
      '10.1.2.3:80',
    ]) {
      const a = await raw(fleet.url, 'GET', '/status', { host: h });
      assert.equal(a.status, 200, `${h}: ${a.body}`);
    }
  });
});

describe('Origin: other sites’ pages', () => {
  for (const r of ROUTES) {
    test(`${r.name}: a request from ${EVIL} is refused with 403 and no CORS header`, async () => {
      const a = await raw(fleet.url, r.method, r.path, { ...r.headers, origin: EVIL }, r.body);
      assert.equal(a.status, 403, a.body);
      noPermissiveCors(a, r.name);
      assert.match(a.body, /origin http:\/\/evil\.example is not allowed/);
      assert.match(a.body, /--allowed-origin http:\/\/evil\.example/);
    });
  }

  test('cross-origin POST and preflight to /mcp and to /servers/<id>/mcp are refused', async () => {
    for (const p of ['/mcp', '/servers/everything/mcp', '/servers/memory/mcp']) {
      const pre = await raw(fleet.url, 'OPTIONS', p, {
        origin: EVIL,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, mcp-protocol-version',
      });
      assert.equal(pre.status, 403, p);
      noPermissiveCors(pre, p);
      const post = await raw(fleet.url, 'POST', p, { ...JSON_HEADERS, origin: EVIL }, mcpCall(1, 'echo'));
      assert.equal(post.status, 403, p);
      noPermissiveCors(post, p);
    }
  });

  test('a cross-origin text/plain Invoke (no preflight in a browser) does not reach the function', async () => {
    const before = fleet.lambda.resolve('mcp-server-memory').stats.calls;
    const a = await raw(
      fleet.url,
      'POST',
      INVOKE('mcp-server-memory'),
      { 'content-type': 'text/plain;charset=UTF-8', origin: EVIL },
      JSON.stringify({
        toolName: 'memory___create_entities',
        entities: [{ name: 'planted', entityType: 'x', observations: ['from another site'] }],
      }),
    );
    assert.equal(a.status, 403);
    assert.equal(a.headers['x-amzn-errortype'], 'AccessDeniedException');
    noPermissiveCors(a, 'invoke');
    assert.equal(
      fleet.lambda.resolve('mcp-server-memory').stats.calls,
      before,
      'the function was not called',
    );
    // A form post too.
    const form = await raw(
      fleet.url,
      'POST',
      INVOKE('mcp-server-memory'),
      { 'content-type': 'application/x-www-form-urlencoded', origin: EVIL },
      '{"toolName":"memory___delete_entities","entityNames":["x"]}',
    );
    assert.equal(form.status, 403);
    const graph = await raw(
      fleet.url,
      'POST',
      INVOKE('mcp-server-memory'),
      {},
      JSON.stringify({ toolName: 'memory___read_graph' }),
    );
    assert.doesNotMatch(graph.body, /planted/);
  });

  test('a browser request without Origin from another site (an <img>, a no-cors fetch) is refused; a navigation to the page is not', async () => {
    const img = await raw(fleet.url, 'GET', '/status', {
      'sec-fetch-site': 'cross-site',
      'sec-fetch-mode': 'no-cors',
    });
    assert.equal(img.status, 403);
    assert.match(img.body, /cross-site browser request without an Origin/);
    const nav = await raw(fleet.url, 'GET', '/', {
      'sec-fetch-site': 'cross-site',
      'sec-fetch-mode': 'navigate',
    });
    assert.equal(nav.status, 200);
    const own = await raw(fleet.url, 'GET', '/status', {
      'sec-fetch-site': 'same-origin',
      'sec-fetch-mode': 'cors',
    });
    assert.equal(own.status, 200);
  });

  test('opaque origins ("null": sandboxed frames, local files) are refused', async () => {
    const a = await raw(fleet.url, 'POST', '/mcp', { ...JSON_HEADERS, origin: 'null' }, mcpCall(1, 'x'));
    assert.equal(a.status, 403);
    assert.match(a.body, /opaque origin/);
  });

  test('without Origin (SDKs, curl) and from the server’s own origin, every route works as before', async () => {
    for (const origin of [undefined, fleet.url, `http://${host}`]) {
      for (const r of ROUTES) {
        const a = await raw(
          fleet.url,
          r.method,
          r.path,
          { ...r.headers, ...(origin !== undefined ? { origin } : {}) },
          r.body,
        );
        const expected = r.name === 'an unknown path' ? 404 : r.method === 'OPTIONS' ? 204 : 200;
        assert.equal(a.status, expected, `${r.name} from ${origin ?? 'no origin'}: ${a.body}`);
        noPermissiveCors(a, r.name);
      }
    }
    // The text/plain Invoke a curl user sends (curl -d): still a call.
    const curl = await raw(
      fleet.url,
      'POST',
      INVOKE('mcp-server-everything'),
      { 'content-type': 'application/x-www-form-urlencoded' },
      JSON.stringify({ toolName: 'everything___echo', message: 'curl' }),
    );
    assert.match(curl.body, /Echo: curl/);
  });

  test('the MCP SDK client and the AWS SDK work as before', async () => {
    const client = new Client({ name: 't', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)));
    assert.match(
      text(await client.callTool({ name: 'everything___echo', arguments: { message: 'sdk' } })),
      /Echo: sdk/,
    );
    await client.close();
    const lambda = new LambdaClient({
      endpoint: fleet.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const res = await lambda.send(
      new InvokeCommand({
        FunctionName: 'mcp-server-everything',
        Payload: Buffer.from(JSON.stringify({ toolName: 'everything___echo', message: 'aws sdk' })),
      }),
    );
    assert.match(Buffer.from(res.Payload ?? new Uint8Array()).toString('utf8'), /Echo: aws sdk/);
  });

  test('--allowed-origin lets exactly that origin in, with CORS headers for it alone', async () => {
    for (const p of ['/mcp', '/servers/everything/mcp', INVOKE('mcp-server-everything')]) {
      const pre = await raw(fleet.url, 'OPTIONS', p, {
        origin: ALLOWED,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, mcp-protocol-version, x-custom',
        'access-control-request-private-network': 'true',
      });
      assert.equal(pre.status, 204, p);
      assert.equal(pre.headers['access-control-allow-origin'], ALLOWED);
      assert.equal(pre.headers['vary'], 'Origin');
      assert.match(
        String(pre.headers['access-control-allow-headers']),
        /mcp-protocol-version.*x-custom|x-custom/,
      );
      assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
      assert.equal(pre.headers['access-control-allow-private-network'], 'true');
    }
    const post = await raw(
      fleet.url,
      'POST',
      '/mcp',
      { ...JSON_HEADERS, origin: ALLOWED },
      mcpCall(2, 'everything___echo', { message: 'inspector' }),
    );
    assert.equal(post.status, 200);
    assert.equal(post.headers['access-control-allow-origin'], ALLOWED);
    assert.match(String(post.headers['access-control-expose-headers']), /mcp-session-id/);
    assert.match(post.body, /Echo: inspector/);
    const single = await raw(
      fleet.url,
      'POST',
      '/servers/everything/mcp',
      { ...JSON_HEADERS, origin: ALLOWED },
      mcpCall(3, 'echo', { message: 'one server' }),
    );
    assert.equal(single.status, 200, single.body);
    assert.equal(single.headers['access-control-allow-origin'], ALLOWED);
    // Near misses: another port, another scheme, a longer name.
    for (const near of [
      'http://localhost:6275',
      'https://localhost:6274',
      'http://localhost:6274.evil.example',
      'http://127.0.0.1:6274',
    ]) {
      const a = await raw(fleet.url, 'POST', '/mcp', { ...JSON_HEADERS, origin: near }, mcpCall(4, 'x'));
      assert.equal(a.status, 403, near);
      noPermissiveCors(a, near);
    }
  });
});

describe('bounded inputs', () => {
  const big = Buffer.alloc(6 * 1024 * 1024 + 1, 0x20);

  test('a body over 6 MB on /mcp is 413 (with its length announced, or chunked), like the other routes', async () => {
    const declared = await raw(
      fleet.url,
      'POST',
      '/mcp',
      { ...JSON_HEADERS, 'content-length': String(big.length) },
      big,
    );
    assert.equal(declared.status, 413);
    const rpc = JSON.parse(declared.body) as { jsonrpc: string; error: { code: number; message: string } };
    assert.equal(rpc.jsonrpc, '2.0');
    assert.match(rpc.error.message, /Payload Too Large/);
    const chunked = await raw(
      fleet.url,
      'POST',
      '/mcp',
      { ...JSON_HEADERS, 'transfer-encoding': 'chunked' },
      big,
    );
    assert.equal(chunked.status, 413);
    const single = await raw(fleet.url, 'POST', '/servers/memory/mcp', JSON_HEADERS, big);
    assert.equal(single.status, 413);
    const invoke = await raw(fleet.url, 'POST', INVOKE('mcp-server-memory'), {}, big);
    assert.equal(invoke.status, 413);
    assert.equal(invoke.headers['x-amzn-errortype'], 'RequestTooLargeException');
    // fetch (undici) gets the answer too.
    const res = await fetch(`${fleet.url}/mcp`, { method: 'POST', headers: JSON_HEADERS, body: big });
    assert.equal(res.status, 413);
  });

  test('request targets a URL parser reads as a host (//…) are answered, and the server lives on (found by the properties)', async () => {
    const url = new URL(fleet.url);
    for (const target of ['//{_@>', '//evil.example/mcp', '//', '*', 'http://evil.example/status']) {
      const head = await new Promise<string>((resolve) => {
        const socket = connect(Number(url.port), url.hostname);
        let got = '';
        socket.setEncoding('latin1').on('data', (d: string) => (got += d));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          resolve(got);
        });
        socket.end(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      });
      assert.match(head, /^HTTP\/1\.1 (400|403|404) /, `${target}: ${head.slice(0, 80)}`);
    }
    assert.equal((await raw(fleet.url, 'GET', '/status')).status, 200);
  });

  test('Expect: 100-continue with a body over the limit is refused before the body is sent', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(fleet.url);
      const req = request({
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/mcp',
        headers: { ...JSON_HEADERS, expect: '100-continue', 'content-length': String(big.length) },
      });
      req.on('continue', () => {
        reject(new Error('the server asked for the body'));
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.equal(status, 413);
  });

  test('the per-function queue stays bounded: beyond it, throttling, and the fleet keeps serving', async () => {
    const fn = fleet.lambda.resolve('mcp-server-leaky');
    const limit = fn.concurrencyLimit + 64;
    const calls = await Promise.all(
      Array.from({ length: limit + 32 }, () =>
        raw(
          fleet.url,
          'POST',
          INVOKE('mcp-server-leaky'),
          {
            'x-amz-client-context': Buffer.from(
              JSON.stringify({ custom: { bedrockAgentCoreToolName: 'leaky___slow' } }),
            ).toString('base64'),
          },
          JSON.stringify({ ms: 300 }),
        ),
      ),
    );
    // Some may finish while the last ones arrive; at least one finds the queue full.
    const throttled = calls.filter((c) => c.status === 429);
    assert.ok(throttled.length >= 1, `${throttled.length} throttled`);
    assert.ok(calls.every((c) => c.status === 200 || c.status === 429));
    assert.equal(throttled[0]?.headers['x-amzn-errortype'], 'TooManyRequestsException');
    const ok = await raw(
      fleet.url,
      'POST',
      '/mcp',
      JSON_HEADERS,
      mcpCall(1, 'leaky___echo', { text: 'still here' }),
    );
    assert.match(ok.body, /still here/);
  });
});

describe('slow clients', () => {
  let small: Awaited<ReturnType<typeof startDevServer>>;
  let lambda: LocalLambda;
  const limits = { headersTimeoutMs: 600, requestTimeoutMs: 1500 };

  before(async () => {
    lambda = new LocalLambda([], { workDir: path.join(dir, 'small'), cwd: dir });
    const gateway = new LocalGateway(lambda, { name: 'small', version: '1', search: false });
    small = await startDevServer({ lambda, gateway, host: '127.0.0.1', port: 0, limits });
  });
  after(async () => {
    await small.close();
    await lambda.shutdown();
  });

  /** A socket that sends `head`, then one more byte every 100 ms; resolves when the server closes it. */
  function trickle(
    head: string,
    drip: string,
  ): { closed: Promise<{ ms: number; got: string }>; socket: Socket } {
    const url = new URL(small.url);
    const socket = connect(Number(url.port), url.hostname);
    const t0 = Date.now();
    let got = '';
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('utf8').on('data', (d: string) => (got += d));
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(drip);
      }, 100);
    });
    socket.on('error', () => undefined);
    const closed = new Promise<{ ms: number; got: string }>((resolve) => {
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ ms: Date.now() - t0, got });
      });
    });
    return { closed, socket };
  }

  test('headers that never end: the connection is closed (408) after the headers timeout', async () => {
    const slow = Array.from({ length: 20 }, () =>
      trickle('GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X'),
    );
    // Meanwhile, the server answers others at once.
    const status = await fetch(`${small.url}/status`);
    assert.equal(status.status, 200);
    const ends = await Promise.race([
      Promise.all(slow.map((s) => s.closed)),
      new Promise<never>((_, reject) =>
        setTimeout(() => {
          reject(new Error('still open after 15 s'));
        }, 15_000),
      ),
    ]);
    for (const e of ends) {
      assert.ok(e.ms >= limits.headersTimeoutMs - 50, `closed after ${e.ms} ms`);
      assert.match(e.got, /^HTTP\/1\.1 408|^$/);
    }
  });

  test('a body that trickles in: the connection is closed after the request timeout', async () => {
    const { closed } = trickle(
      'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
      '{',
    );
    const end = await Promise.race([
      closed,
      new Promise<never>((_, reject) =>
        setTimeout(() => {
          reject(new Error('still open after 15 s'));
        }, 15_000),
      ),
    ]);
    assert.ok(end.ms >= limits.requestTimeoutMs - 50, `closed after ${end.ms} ms`);
    assert.match(end.got, /^HTTP\/1\.1 408|^$/);
    assert.equal((await fetch(`${small.url}/status`)).status, 200);
  });
});

describe('tokens', () => {
  let guarded: Awaited<ReturnType<typeof startDevServer>>;
  let lambda: LocalLambda;
  const TOKEN = 'correct-horse-battery-staple';

  before(async () => {
    lambda = new LocalLambda([], { workDir: path.join(dir, 'guarded'), cwd: dir });
    const gateway = new LocalGateway(lambda, { name: 'guarded', version: '1', search: false });
    guarded = await startDevServer({ lambda, gateway, host: '127.0.0.1', port: 0, token: TOKEN });
  });
  after(async () => {
    await guarded.close();
    await lambda.shutdown();
  });

  test('from Authorization: Bearer or X-Mcp-Fleet-Token only; never from the query string', async () => {
    const status = (headers: Record<string, string>, query = ''): Promise<number> =>
      raw(guarded.url, 'GET', `/status${query}`, headers).then((a) => a.status);
    assert.equal(await status({}), 401);
    assert.equal(await status({}, `?token=${TOKEN}`), 401, 'a token in the URL is not taken');
    assert.equal(await status({ authorization: `Bearer ${TOKEN}` }), 200);
    assert.equal(await status({ authorization: `bearer ${TOKEN}` }), 200);
    assert.equal(await status({ 'x-mcp-fleet-token': TOKEN }), 200);
    // Wrong tokens: same length, a prefix, longer, empty.
    for (const wrong of ['correct-horse-battery-stapld', 'correct', `${TOKEN}x`, ''])
      assert.equal(await status({ authorization: `Bearer ${wrong}` }), 401, wrong);
    // A SigV4 Authorization (the AWS SDK) with the token in X-Mcp-Fleet-Token.
    assert.equal(
      await status({
        authorization: 'AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/lambda/aws4_request',
        'x-mcp-fleet-token': TOKEN,
      }),
      200,
    );
    const denied = await raw(guarded.url, 'POST', '/mcp', JSON_HEADERS, mcpCall(1, 'x'));
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['www-authenticate'], 'Bearer');
    assert.equal((JSON.parse(denied.body) as { error: { code: number } }).error.code, -32600);
    const invoke = await raw(guarded.url, 'POST', INVOKE('mcp-server-x'), {}, '{}');
    assert.equal(invoke.status, 401);
    assert.equal(invoke.headers['x-amzn-errortype'], 'UnauthorizedException');
  });

  test('the page is served without the token (it holds no secret, and asks for it)', async () => {
    const page = await raw(guarded.url, 'GET', '/');
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.body, new RegExp(TOKEN));
    assert.match(
      String(page.headers['content-security-policy']),
      /default-src 'none'.*frame-ancestors 'none'/,
    );
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.doesNotMatch(
      page.body,
      /URLSearchParams\(location\.search\)/,
      'the page reads no token from the query',
    );
  });

  test('a preflight needs no token (browsers send none), but gets no CORS answer for a foreign origin', async () => {
    const pre = await raw(guarded.url, 'OPTIONS', '/mcp', {
      origin: EVIL,
      'access-control-request-method': 'POST',
    });
    assert.equal(pre.status, 403);
    const own = await raw(guarded.url, 'OPTIONS', '/mcp', { 'access-control-request-method': 'POST' });
    assert.equal(own.status, 204);
  });

  test('defaults: 10 s for the headers, 60 s for the whole request, at most 512 connections', () => {
    assert.equal(guarded.server.headersTimeout, 10_000);
    assert.equal(guarded.server.requestTimeout, 60_000);
    assert.equal(guarded.server.maxConnections, 512);
  });

  test('the comparison works on digests: any length, in constant time', () => {
    const policy = new AccessPolicy({ host: '127.0.0.1', token: TOKEN });
    const req = (authorization: string) => ({ headers: { authorization } }) as never;
    assert.equal(policy.tokenValid(req(`Bearer ${TOKEN}`)), true);
    assert.equal(policy.tokenValid(req(`Bearer ${'x'.repeat(100_000)}`)), false);
    assert.equal(policy.tokenValid(req('Bearer \u00e9\u00e9')), false);
  });
});

describe('flags', () => {
  test('--allowed-origin and --allowed-host values are checked', () => {
    assert.equal(parseAllowedOrigin('http://LOCALHOST:6274/'), 'http://localhost:6274');
    assert.equal(parseAllowedOrigin('https://app.example:443'), 'https://app.example');
    assert.throws(() => parseAllowedOrigin('*'), /every web page/);
    assert.throws(() => parseAllowedOrigin('localhost:6274'), /only http and https|not an origin/);
    assert.throws(
      () => parseAllowedOrigin('http://localhost:6274/app'),
      /did you mean http:\/\/localhost:6274/,
    );
    assert.equal(parseAllowedHost('DevBox.Local'), 'devbox.local');
    assert.throws(() => parseAllowedHost('*'), /undo the DNS-rebinding check/);
    assert.throws(() => parseAllowedHost('http://devbox'), /not a host name/);
    const policy = new AccessPolicy({ host: '0.0.0.0', allowedHosts: ['devbox.local', '.example.test'] });
    for (const ok of [
      'devbox.local:4040',
      'example.test',
      'a.b.example.test:1',
      '[::1]:4040',
      '192.168.1.5:4040',
    ])
      assert.ok(policy.hostAllowed(ok), ok);
    for (const no of ['devbox.local.evil', 'evilexample.test', 'example.test.evil', 'x:y:z', '[nope]:1', ''])
      assert.ok(!policy.hostAllowed(no), no);
    assert.equal(hostName('[::1]:80'), '::1');
  });
});

describe('secrets in output', () => {
  test('the dev fallback’s value never appears in /status, answers, error texts, function.log or launch.json', async () => {
    // A real registry server that prints its whole environment.
    const env = await raw(fleet.url, 'POST', '/mcp', JSON_HEADERS, mcpCall(1, 'everything___get-env'));
    assert.match(
      env.body,
      /API_TOKEN\\+": \\+"\[redacted API_TOKEN\]/,
      'the server had it; the answer names it',
    );
    const single = await raw(
      fleet.url,
      'POST',
      '/servers/everything/mcp',
      JSON_HEADERS,
      mcpCall(1, 'get-env'),
    );
    assert.match(single.body, /\[redacted API_TOKEN\]/);
    // A crash: the message quotes the server's stderr (its start-up line has the token).
    const crash = await raw(fleet.url, 'POST', '/mcp', JSON_HEADERS, mcpCall(2, 'leaky___crash'));
    assert.match(crash.body, /starting with token \[redacted API_TOKEN\]/);
    const invoke = await raw(
      fleet.url,
      'POST',
      INVOKE('mcp-server-leaky-broken'),
      {},
      JSON.stringify({ toolName: 'leaky-broken___x' }),
    );
    assert.match(invoke.body, /login refused for token \[redacted API_TOKEN\]/);
    const status = await raw(fleet.url, 'GET', '/status');
    assert.match(status.body, /login refused for token \[redacted API_TOKEN\]/);
    // Logs, written by the worker processes.
    const work = path.join(dir, '.mcp-fleet', 'dev');
    const readLogs = async (): Promise<string> => {
      const logs: string[] = [];
      for (const id of await readdir(work)) {
        for (const f of ['function.log', 'launch.json']) {
          logs.push(await readFile(path.join(work, id, f), 'utf8').catch(() => ''));
        }
      }
      return logs.join('\n');
    };
    // The stderr line reaches the log through a pipe and a stream, not with the call's answer:
    // wait for it rather than guess a delay.
    let all = '';
    await eventually(async () => (all = await readLogs()).includes('starting with token'), {
      what: "the server's start-up line in a function.log",
      seen: () => all,
    });
    assert.match(
      all,
      /starting with token \[redacted API_TOKEN\]/,
      'the stderr line is in function.log, redacted',
    );
    for (const [what, out] of [
      ['get-env answer', env.body],
      ['per-server answer', single.body],
      ['crash message', crash.body],
      ['invoke', invoke.body],
      ['/status', status.body],
      ['logs and launch files', all],
    ] as const)
      assert.ok(!out.includes(SECRET), `${what} has the secret`);
  });

  test('mcp-fleet dev: the terminal shows no secret and no token; the flags reach the server', async () => {
    const TOKEN = 'cli-token-5b1d2e';
    const child = spawn(
      process.execPath,
      [
        CLI,
        'dev',
        '--config',
        configFile,
        '--port',
        '0',
        '--token',
        TOKEN,
        '--allowed-origin',
        'http://localhost:5173',
        '--allowed-host',
        'devbox.test',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = outputOf(child);
    const out = output.all;
    try {
      await waitForText(out, /Ctrl-C to stop/, { child, what: 'the ready line' });
      assert.match(out(), /leaky-broken\s+FAILED .*login refused for token \[redacted API_TOKEN\]/);
      assert.match(out(), /browser pages allowed .*http:\/\/localhost:5173/);
      assert.match(out(), /it asks for the --token/);
      const url = /MCP gateway \(AgentCore-compatible\)\s+(\S+)\/mcp/.exec(out())?.[1] ?? '';
      assert.ok(url);
      const auth = { authorization: `Bearer ${TOKEN}` };
      const pre = await raw(url, 'OPTIONS', '/mcp', {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'POST',
      });
      assert.equal(pre.headers['access-control-allow-origin'], 'http://localhost:5173');
      const other = await raw(url, 'OPTIONS', '/mcp', {
        origin: ALLOWED,
        'access-control-request-method': 'POST',
      });
      assert.equal(other.status, 403);
      const named = await raw(url, 'GET', '/status', { ...auth, host: 'devbox.test:4040' });
      assert.equal(named.status, 200);
      const crash = await raw(url, 'POST', '/mcp', { ...JSON_HEADERS, ...auth }, mcpCall(1, 'leaky___crash'));
      assert.match(crash.body, /\[redacted API_TOKEN\]/);
      // The terminal's line for the crash (with its reason) is what could show the secret.
      await waitForText(out, /mcp-server-leaky leaky___crash .* MB /, { child, what: "the crash's line" });
      assert.ok(!out().includes(SECRET), 'the terminal shows the secret');
      assert.ok(!out().includes(TOKEN), 'the terminal shows the token');
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
    const bad = spawn(process.execPath, [CLI, 'dev', '--config', configFile, '--allowed-origin', '*'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const err = outputOf(bad).stderr;
    assert.equal(await exited(bad), 2);
    // Its last output may come after the exit event: the stream ends on its own time.
    await waitForText(err, /--allowed-origin '\*' would let every web page/);
  });
});
