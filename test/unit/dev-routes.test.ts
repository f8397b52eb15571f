// The dev server's routes in process: the table (each route's paths and methods), the access step
// in front of it (Host, Origin, preflight, token), and each route's answers in its own protocol —
// over a local Lambda service of scripted environments, on a loopback port of this process.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { agentCoreClientContext } from '../../src/contract/function-call.js';
import { findRoute, ROUTES } from '../../src/local/dev/routes.js';
import { startDevServer, type DevServer } from '../../src/local/dev/server.js';
import { fleetStatus } from '../../src/local/dev/status.js';
import { LocalGateway } from '../../src/local/gateway/gateway.js';
import { LocalLambda } from '../../src/local/lambda/service.js';
import { scriptedEnvironments, type EnvironmentScript } from '../support/scripted-environment.js';
import { lambdaTarget, mcpTarget } from '../support/scripted-functions.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'mcp-fleet-unit-routes-'));
const TOKEN = 'route-test-token';
let lambda: LocalLambda;
let server: DevServer;
let guarded: DevServer;

const SCRIPTS: Record<string, EnvironmentScript> = {
  notes: lambdaTarget([{ name: 'add_note' }]),
  live: mcpTarget([{ name: 'progress' }]),
  busy: { answer: () => undefined },
};

before(async () => {
  const { config, problems } = parseConfig(`gateway: { name: routes }
servers:
  notes: { command: notes-server }
  live: { command: live-server, gateway: { targetType: mcp } }
  busy: { command: busy-server, aws: { reservedConcurrency: 0 } }
`);
  assert.ok(config, JSON.stringify(problems));
  const envs = scriptedEnvironments((_n, spec) => {
    const id = Object.keys(SCRIPTS).find((k) => spec.name.startsWith(`mcp-server-${k}.`));
    return (id === undefined ? undefined : SCRIPTS[id]) ?? {};
  });
  lambda = new LocalLambda(config.servers, { workDir: work, cwd: work, environments: envs.factory });
  const gateway = new LocalGateway(lambda, { name: 'routes', version: '1', search: false });
  const common = { lambda, gateway, host: '127.0.0.1', port: 0, limits: { maxBodyBytes: 4096 } };
  server = await startDevServer({ ...common, status: () => fleetStatus(lambda, gateway) });
  guarded = await startDevServer({ ...common, token: TOKEN });
});

after(async () => {
  await server.close();
  await guarded.close();
  await lambda.shutdown();
  rmSync(work, { recursive: true, force: true });
});

/** A POST with a Host header of its own (fetch sends the URL's). */
function withHost(
  url: string,
  host: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('the route table', () => {
  test('each route by name, its argument decoded; a method a route refuses still finds it (405), one it ignores does not', () => {
    const name = (method: string, p: string): string | undefined => findRoute(method, p)?.route.name;
    assert.equal(name('POST', '/2015-03-31/functions/mcp-server-notes/invocations'), 'invoke');
    assert.equal(findRoute('POST', '/2015-03-31/functions/a%3Ab/invocations')?.arg, 'a:b');
    assert.equal(name('GET', '/2015-03-31/functions/x/invocations'), 'invoke');
    assert.equal(
      name('POST', '/2021-11-15/functions/x/response-streaming-invocations'),
      'invoke-with-response-stream',
    );
    assert.equal(name('GET', '/2015-03-31/functions/'), 'list-functions');
    assert.equal(name('POST', '/2015-03-31/functions'), undefined);
    assert.equal(name('POST', '/mcp'), 'gateway');
    assert.equal(name('POST', '/servers/notes/mcp/'), 'server');
    assert.equal(name('GET', '/status'), 'status');
    assert.equal(name('HEAD', '/'), 'page');
    assert.equal(name('POST', '/'), 'page', 'refused there (405)');
    assert.equal(name('DELETE', '/status'), 'status', 'refused there (405)');
    assert.deepEqual(
      ROUTES.filter((r) => r.public === true).map((r) => r.name),
      ['page'],
      'only the page is served without the token',
    );
  });
});

describe('the access step, in front of every route', () => {
  test("a foreign Host is refused (DNS rebinding), in the route's own protocol", async () => {
    const mcp = await withHost(`${server.url}/mcp`, 'evil.example');
    assert.equal(mcp.status, 403);
    assert.match(mcp.body, /jsonrpc.*--allowed-host evil\.example/);
    const invoke = await withHost(`${server.url}/2015-03-31/functions/x/invocations`, 'evil.example');
    assert.equal(invoke.headers['x-amzn-errortype'], 'AccessDeniedException');
  });

  test('a page of another origin is refused; no CORS header is sent to it', async () => {
    const r = await post(
      `${server.url}/mcp`,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { origin: 'https://evil.example' },
    );
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
  });

  test('with --token: every route but the page wants it (401), and it opens them', async () => {
    assert.equal((await fetch(`${guarded.url}/status`)).status, 401);
    assert.equal((await fetch(`${guarded.url}/`)).status, 200);
    const ok = await fetch(`${guarded.url}/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
  });

  test("an unknown path is a 404 in its kind's shape; a refused method a 405", async () => {
    const other = await fetch(`${server.url}/nowhere`);
    assert.equal(other.status, 404);
    assert.match(((await other.json()) as { error: string }).error, /try \/mcp/);
    const invoke = await fetch(`${server.url}/2015-03-31/functions/x/invocations`);
    assert.equal(invoke.status, 405);
    assert.equal(invoke.headers.get('x-amzn-errortype'), 'MethodNotAllowedException');
  });
});

describe('the routes', () => {
  test('Invoke: the event and client context reach the function; DryRun, bad JSON and unknown names answered as Lambda does', async () => {
    const url = `${server.url}/2015-03-31/functions/mcp-server-notes/invocations`;
    const context = Buffer.from(
      JSON.stringify(agentCoreClientContext({ toolName: 'notes___add_note' })),
    ).toString('base64');
    const r = await post(url, { text: 'hi' }, { 'x-amz-client-context': context });
    assert.equal(r.status, 200);
    assert.match(JSON.stringify(await r.json()), /add_note \{\\"text\\":\\"hi\\"\}/);
    assert.equal((await post(url, {}, { 'x-amz-invocation-type': 'DryRun' })).status, 204);
    const bad = await post(url, '{nope');
    assert.equal(bad.headers.get('x-amzn-errortype'), 'InvalidRequestContentException');
    const missing = await post(`${server.url}/2015-03-31/functions/mcp-server-ghost/invocations`, {});
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-amzn-errortype'), 'ResourceNotFoundException');
  });

  test('Invoke of a function at zero concurrency: 429 TooManyRequestsException', async () => {
    const r = await post(`${server.url}/2015-03-31/functions/mcp-server-busy/invocations`, {});
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('x-amzn-errortype'), 'TooManyRequestsException');
  });

  test('a body over the limit: 413 before anything is invoked', async () => {
    const r = await post(`${server.url}/mcp`, 'x'.repeat(5000));
    assert.equal(r.status, 413);
  });

  test('the status and the page take GET (405 otherwise), and a body announced over the limit is refused there too', async () => {
    for (const [method, path] of [
      ['POST', '/status'],
      ['PUT', '/status'],
      ['DELETE', '/'],
    ] as const)
      assert.equal((await fetch(`${server.url}${path}`, { method })).status, 405, `${method} ${path}`);
    for (const path of ['/status', '/']) {
      const big = await fetch(`${server.url}${path}`, { method: 'POST', body: 'x'.repeat(5000) });
      assert.equal(big.status, 413, path);
    }
  });

  test("/mcp lists the fleet's tools; /servers/<id>/mcp reaches one server; an unknown id is a 404", async () => {
    const list = await post(`${server.url}/mcp`, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const names = ((await list.json()) as { result: { tools: { name: string }[] } }).result.tools.map(
      (t) => t.name,
    );
    assert.deepEqual(
      names.filter((n) => n !== 'busy___x'),
      ['notes___add_note', 'live___progress'],
    );
    const one = await post(`${server.url}/servers/live/mcp`, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    assert.deepEqual(
      ((await one.json()) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name),
      ['progress'],
    );
    assert.equal((await post(`${server.url}/servers/ghost/mcp`, {})).status, 404);
  });

  test("/status answers the status model; ListFunctions the fleet's functions", async () => {
    const status = (await (await fetch(`${server.url}/status`)).json()) as { functions: { id: string }[] };
    assert.deepEqual(
      status.functions.map((f) => f.id),
      ['notes', 'live', 'busy'],
    );
    const list = (await (await fetch(`${server.url}/2015-03-31/functions/`)).json()) as {
      Functions: { FunctionName: string }[];
    };
    assert.deepEqual(
      list.Functions.map((f) => f.FunctionName),
      ['mcp-server-notes', 'mcp-server-live', 'mcp-server-busy'],
    );
  });
});
