// The Web Function entry: the bundle (as `npm run build` makes dist/runtime/web.bundle.mjs) run as
// Lambda runs it — a plain Node.js with no node_modules, AWS_LAMBDA_HTTP_ENDPOINT, SIGTERM at the
// end — and the HTTP rules of its front, in process.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bundleRuntime, type BundleResult } from '../../src/build/bundle.js';
import type { LaunchInput } from '../../src/runtime/index.js';
import { parseEndpoint, startWebFunction, type WebFunction } from '../../src/runtime/web-function.js';
import { freePort, ROOT } from '../helpers.js';
import { eventually, exited, outputOf, waitForText } from '../support/eventually.js';
import { assertNoneLeft, BIN, FAULT_SERVER, marker, markedProcesses, RecordingLog } from './support.js';
import { answerText, post, toolCall } from './web-support.js';

process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

let dir: string;
let bundle: BundleResult;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-web-'));
  bundle = await bundleRuntime(path.join(dir, 'web.bundle.mjs'), { entry: 'web' });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The Node.js builds on this machine: the running one, and Lambda's 22 and 24 when installed. */
function nodes(): { name: string; command: string }[] {
  const found = [{ name: `the running Node.js ${process.version}`, command: process.execPath }];
  const node22 = path.join(ROOT, '.mcp-fleet', 'tools', 'lambda', 'node', 'bin', 'node');
  const node24 = path.join(ROOT, '.mcp-fleet', 'tools', 'node24', '24.22.3', 'bin', 'node');
  if (existsSync(node22)) found.push({ name: 'Node.js 22 (Lambda tools)', command: node22 });
  if (existsSync(node24)) found.push({ name: 'Node.js 24 (web functions)', command: node24 });
  return found;
}

interface Running {
  child: ChildProcess;
  url: string;
  output: ReturnType<typeof outputOf>;
}

/** The bundle as a function root (`index.mjs` and `launch.json`, nothing else), run on `node`. */
async function runBundle(
  name: string,
  node: string,
  launch: LaunchInput,
  env: Record<string, string>,
): Promise<Running> {
  const root = path.join(dir, name);
  await mkdir(root, { recursive: true });
  await copyFile(bundle.file, path.join(root, 'index.mjs'));
  await writeFile(path.join(root, 'launch.json'), JSON.stringify(launch));
  const port = await freePort();
  const child = spawn(node, [path.join(root, 'index.mjs')], {
    cwd: root,
    env: {
      PATH: process.env['PATH'] ?? '',
      AWS_LAMBDA_HTTP_ENDPOINT: `127.0.0.1:${port}`,
      POWERTOOLS_METRICS_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = outputOf(child);
  await waitForText(output.all, /"message":"listening"/, { child, what: 'the listening line' });
  return { child, url: `http://127.0.0.1:${port}/mcp`, output };
}

describe('the web bundle, as Lambda runs it', () => {
  test('the web bundle holds the runtime alone (no CLI, CDK, local-server or MCP SDK code)', () => {
    const inputs = Object.keys(bundle.metafile.inputs);
    assert.ok(
      inputs.some((i) => /(src|dist)\/runtime\/web-function\.(ts|js)$/.test(i)),
      inputs.join('\n'),
    );
    const forbidden = inputs.filter((i) =>
      /(src|dist)\/(cli|local|build|infra|deploy|verify)\/|node_modules\/(commander|yaml|zod|aws-cdk-lib|constructs|esbuild|@aws-cdk|@modelcontextprotocol)\//.test(
        i,
      ),
    );
    assert.deepEqual(forbidden, []);
  });

  for (const node of nodes()) {
    test(`${node.name}: serves calls from launch.json, and on SIGTERM kills the server's whole group and exits, leaving no process`, async () => {
      const mark = marker();
      const run = await runBundle(
        `sigterm-${path.basename(path.dirname(path.dirname(node.command)))}`,
        node.command,
        { id: 'everything', command: BIN('mcp-server-everything'), args: ['stdio'], env: mark.env },
        mark.env,
      );
      const echo = await post(run.url, toolCall(1, 'echo', { message: 'bundled' }));
      assert.equal(answerText(echo), 'Echo: bundled');
      // A call in flight when the signal comes.
      const inFlight = post(
        run.url,
        toolCall(2, 'trigger-long-running-operation', { duration: 60, steps: 2 }),
      );
      inFlight.catch(() => undefined);
      const before = await markedProcesses(mark.value);
      assert.ok(before.length >= 2, `the web server and the MCP server run: ${JSON.stringify(before)}`);
      run.child.kill('SIGTERM');
      assert.equal(await exited(run.child), 0, run.output.all());
      // Lambda kills the environment 1 s after SIGTERM: nothing may be left by then.
      await assertNoneLeft(mark.value, 1_000);
      // The call in flight was answered before the connection went: an error naming the stop.
      const stopped = await inFlight;
      assert.match(JSON.stringify(stopped.messages), /"code":-32603.*shutting down/, stopped.text);
    });
  }

  test('the listener answers before a slow server has started; the first call waits for that start', async () => {
    const mark = marker();
    const gate = path.join(dir, 'slow-start-gate');
    const run = await runBundle(
      'slow',
      process.execPath,
      {
        id: 'slow',
        // Does not even exec the server before the gate file exists.
        command: `while [ ! -e '${gate}' ]; do sleep 0.02; done; exec '${process.execPath}' '${FAULT_SERVER}'`,
        shell: true,
        env: mark.env,
      },
      mark.env,
    );
    const get = await post(run.url, undefined, { method: 'GET' });
    assert.equal(get.status, 405);
    const ping = await post(run.url, { jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.deepEqual(ping.messages[0], { jsonrpc: '2.0', id: 1, result: {} });
    const first = post(run.url, toolCall(2, 'echo', { text: 'after the start' }));
    assert.ok(
      !(await markedProcesses(mark.value)).some((p) =>
        p.cmdline.startsWith(`${process.execPath} ${FAULT_SERVER}`),
      ),
      'not started yet',
    );
    await writeFile(gate, '');
    assert.equal(answerText(await first), 'after the start');
    run.child.kill('SIGTERM');
    assert.equal(await exited(run.child), 0, run.output.all());
    await assertNoneLeft(mark.value, 1_000);
  });

  test("with mcp-fleet dev's MCP_FLEET_LOCAL_KEY: a request without that key, or with another, is 403; the key is kept from the server", async () => {
    const mark = marker();
    const key = 'a-key-only-dev-knows-0123456789';
    const run = await runBundle(
      'local-key',
      process.execPath,
      { id: 'fault', command: process.execPath, args: [FAULT_SERVER], env: mark.env },
      { ...mark.env, MCP_FLEET_LOCAL_KEY: key },
    );
    try {
      for (const headers of [
        {},
        { 'x-mcp-fleet-local-key': 'a-guess' },
        { 'x-mcp-fleet-local-key': '' },
      ] as Record<string, string>[]) {
        const refused = await post(run.url, toolCall(1, 'echo', { text: 'around dev' }), { headers });
        assert.equal(refused.status, 403, JSON.stringify(headers));
        assert.match(
          (refused.messages[0]?.['error'] as { message: string }).message,
          /takes requests from mcp-fleet dev only \(the x-mcp-fleet-local-key header is missing or wrong\)/,
        );
      }
      const ok = { headers: { 'x-mcp-fleet-local-key': key } };
      assert.equal(
        answerText(await post(run.url, toolCall(2, 'echo', { text: 'through dev' }), ok)),
        'through dev',
      );
      // Neither in the server's environment nor in the entry's own once read.
      const env = await post(run.url, toolCall(3, 'env', { text: 'MCP_FLEET_LOCAL_KEY,PATH' }), ok);
      const seen = JSON.parse(answerText(env)) as Record<string, string | null>;
      assert.equal(seen['MCP_FLEET_LOCAL_KEY'], null);
      assert.notEqual(seen['PATH'], null, 'the env tool reads the environment');
      assert.doesNotMatch(run.output.all(), new RegExp(key), 'the key is never logged');
    } finally {
      run.child.kill('SIGTERM');
      await exited(run.child);
      await assertNoneLeft(mark.value, 1_000);
    }
  });

  test('without AWS_LAMBDA_HTTP_ENDPOINT the entry says so and exits 2', async () => {
    const root = path.join(dir, 'no-endpoint');
    await mkdir(root, { recursive: true });
    await copyFile(bundle.file, path.join(root, 'index.mjs'));
    const child = spawn(process.execPath, [path.join(root, 'index.mjs')], {
      env: { PATH: process.env['PATH'] ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = outputOf(child);
    assert.equal(await exited(child), 2);
    await waitForText(output.stderr, /AWS_LAMBDA_HTTP_ENDPOINT is not set/);
  });
});

describe('the web front, in process', () => {
  const mark = marker();
  let web: WebFunction;
  let log: RecordingLog;
  before(async () => {
    log = new RecordingLog();
    web = await startWebFunction(
      { id: 'fault', command: process.execPath, args: [FAULT_SERVER], env: mark.env, timeout: 30 },
      { endpoint: '127.0.0.1:0', log, maxBodyBytes: 64 * 1024 },
    );
  });
  after(async () => {
    await web.close();
    await assertNoneLeft(mark.value);
  });

  test('POST /mcp and POST / serve MCP; other paths are 404 with a JSON-RPC error', async () => {
    const root = web.url.replace(/\/mcp$/, '/');
    for (const url of [web.url, root])
      assert.equal(answerText(await post(url, toolCall(1, 'echo', { text: url }))), url);
    const other = await post(web.url.replace(/\/mcp$/, '/other'), toolCall(1, 'echo', {}));
    assert.equal(other.status, 404);
    assert.match(
      (other.messages[0]?.['error'] as { message: string }).message,
      /Not found: \/other; the MCP endpoint is POST \/mcp/,
    );
  });

  test('GET is 405 with Allow; a page from another origin is refused; no CORS headers', async () => {
    const get = await post(web.url, undefined, { method: 'GET' });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST, OPTIONS');
    const cross = await post(web.url, toolCall(1, 'echo', { text: 'x' }), {
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(cross.status, 403);
    assert.equal(cross.headers.get('access-control-allow-origin'), null);
    const plain = await post(web.url, toolCall(1, 'echo', { text: 'x' }));
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
  });

  test('bad bodies get JSON-RPC errors with their reason, and the server goes on', async () => {
    const cases: [string, Record<string, string>, number, RegExp][] = [
      ['{not json', {}, 400, /Parse error/],
      ['[]', {}, 400, /empty batch/],
      ['{"hello":1}', {}, 400, /not a JSON-RPC 2.0 message/],
      [
        '{"jsonrpc":"2.0","id":1,"method":"tools/call"}',
        { 'content-type': 'text/plain' },
        415,
        /application\/json/,
      ],
      [
        JSON.stringify({ pad: 'x'.repeat(70 * 1024) }),
        {},
        413,
        /Payload too large: the request body is over 65536 bytes/,
      ],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":7}', {}, 200, /params must be an object/],
    ];
    for (const [body, headers, status, message] of cases) {
      const answer = await post(web.url, body, { headers });
      assert.equal(answer.status, status, `${body.slice(0, 40)}: ${answer.text}`);
      assert.match(
        String((answer.messages[0]?.['error'] as { message?: string } | undefined)?.message),
        message,
      );
    }
    assert.equal(answerText(await post(web.url, toolCall(1, 'echo', { text: 'still' }))), 'still');
  });

  test("each request's record names its JSON-RPC method, and a tools/call its tool (not `http`)", async () => {
    const from = log.entries.length;
    const records = () =>
      log.entries
        .slice(from)
        .filter((e) => e.message === 'tool call')
        .map((e) => [e.extra?.['method'], e.extra?.['tool'], e.extra?.['error'], e.extra?.['front']]);
    await post(web.url, toolCall(41, 'echo', { text: 'recorded' }));
    await post(web.url, '{not json');
    await post(web.url, '{"jsonrpc":"2.0","id":42,"method":"tools/call","params":7}');
    await post(web.url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    // Up to the fourth request's record, the last four: one of the test before (written as its
    // request ends) may come after `from`.
    await eventually(() => records().at(-1)?.[0] === 'notifications/initialized', {
      what: "the fourth request's record",
    });
    const [call, unread, failed, notified] = records().slice(-4);
    assert.deepEqual(call, ['tools/call', 'echo', undefined, 'web']);
    assert.deepEqual(
      unread,
      ['http', '', 'HTTP 400', 'web'],
      'a body that is not JSON-RPC is an HTTP request',
    );
    assert.deepEqual(failed?.slice(0, 2), ['tools/call', '']);
    assert.match(String(failed?.[2]), /params must be an object/);
    assert.deepEqual(notified, ['notifications/initialized', '', undefined, 'web']);
  });

  test('an Mcp-Session-Id the environment never issued is no reason to refuse a request (no 404)', async () => {
    const answer = await post(web.url, toolCall(1, 'echo', { text: 'any session' }), {
      headers: { 'mcp-session-id': 'issued-by-someone-else' },
    });
    assert.equal(answer.status, 200);
    assert.equal(answerText(answer), 'any session');
    assert.equal(answer.headers.get('mcp-session-id'), null, 'and none is issued');
  });

  test("a call's progress and log messages stream as SSE to a client that accepts it; JSON to one that does not", async () => {
    const progress = toolCall(3, 'progress', {}, { progressToken: 'tok' });
    const sse = await post(web.url, progress, { sse: true });
    assert.equal(sse.headers.get('content-type'), 'text/event-stream');
    assert.deepEqual(
      sse.messages.map((m) => m['method'] ?? `answer ${String(m['id'])}`),
      [
        'notifications/message',
        'notifications/progress',
        'notifications/progress',
        'notifications/progress',
        'answer 3',
      ],
    );
    const json = await post(web.url, progress);
    assert.equal(json.headers.get('content-type'), 'application/json');
    assert.deepEqual(
      json.messages.map((m) => m['id']),
      [3],
    );
  });

  test('the 2026-07-28 era, stateless: server/discover and a tools/call with its headers', async () => {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
    const answer = await post(web.url, toolCall(1, 'echo', { text: 'modern' }, meta), { headers });
    assert.equal(answerText(answer), 'modern');
    assert.equal((answer.messages[0]?.['result'] as { resultType?: string }).resultType, 'complete');
  });

  test('the endpoint is host:port as Lambda writes it', () => {
    assert.deepEqual(parseEndpoint('0.0.0.0:3000'), { host: '0.0.0.0', port: 3000 });
    assert.deepEqual(parseEndpoint('[::1]:8080'), { host: '::1', port: 8080 });
    for (const bad of ['3000', 'host:', ':80', 'h:99999'])
      assert.throws(() => parseEndpoint(bad), /host:port/);
  });
});
