// The local AgentCore Gateway in process: naming, the catalog (lowering warnings, relisting),
// search, AgentCore Policy on the caller the request carries, interceptor outputs read strictly,
// and the deadline of a gateway request — over a local Lambda service of scripted environments.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getEventListeners } from 'node:events';
import { after, describe, test } from 'node:test';
import { loadConfigOrThrow, parseConfig } from '../../src/config/index.js';
import type { FleetConfig } from '../../src/config/model.js';
import { gatewayToolName, splitGatewayToolName } from '../../src/config/tool-names.js';
import { RELIST_AFTER_MS } from '../../src/local/gateway/catalog.js';
import { GatewayEndpoint } from '../../src/local/gateway/endpoint.js';
import { LocalGateway } from '../../src/local/gateway/gateway.js';
import { DEV_PRINCIPAL, identify, UNAUTHORIZED } from '../../src/local/gateway/identity.js';
import {
  interceptorEvent,
  readRequestOutput,
  readResponseOutput,
} from '../../src/local/gateway/interceptor-contract.js';
import { DENIED_PREFIX, GatewayAccess } from '../../src/local/gateway/policy.js';
import { search, SEARCH_TOOL } from '../../src/local/gateway/search.js';
import { GatewayDeadlineError, invokeTarget } from '../../src/local/gateway/target-call.js';
import { CallerGoneError } from '../../src/local/lambda/pool.js';
import { LocalLambda } from '../../src/local/lambda/service.js';
import type { Caller } from '../../src/protocol/bridge.js';
import { McpBridge } from '../../src/protocol/bridge.js';
import type { JsonRpcRequest, JsonRpcResponse } from '../../src/protocol/jsonrpc.js';
import { ManualClock, settle } from '../support/clock.js';
import { scriptedEnvironments, type EnvironmentScript } from '../support/scripted-environment.js';
import { lambdaTarget, mcpTarget } from '../support/scripted-functions.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'mcp-fleet-unit-gateway-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
});

function fleetOf(yaml: string): FleetConfig {
  const { config, problems } = parseConfig(yaml);
  assert.ok(config, JSON.stringify(problems));
  return config;
}

const FLEET = `gateway: { name: unit-gateway }
servers:
  notes:
    command: notes-server
  files:
    command: files-server
  live:
    command: live-server
    gateway: { targetType: mcp }
`;

/** A gateway over scripted functions: each server's script chosen by its function's name. */
function gatewayOver(
  scripts: Record<string, EnvironmentScript>,
  opts: { yaml?: string; search?: boolean; clock?: ManualClock } = {},
) {
  const config = fleetOf(opts.yaml ?? FLEET);
  const clock = opts.clock ?? new ManualClock();
  const envs = scriptedEnvironments((_n, spec) => {
    const id = Object.keys(scripts).find((k) => spec.name.startsWith(`mcp-server-${k}.`));
    assert.ok(id, `a script for ${spec.name}`);
    return scripts[id] ?? {};
  });
  const lambda = new LocalLambda(config.servers, {
    workDir: work,
    cwd: work,
    environments: envs.factory,
    clock,
  });
  const gateway = new LocalGateway(lambda, {
    name: 'unit-gateway',
    version: '1',
    search: opts.search ?? false,
    clock,
  });
  const bridge = new McpBridge(gateway);
  const call = async (req: Omit<JsonRpcRequest, 'jsonrpc'>, caller?: Caller): Promise<JsonRpcResponse> => {
    const out = await bridge.handle(
      { jsonrpc: '2.0', ...req },
      { deadline: clock.now() + 60_000, ...(caller ? { caller } : {}) },
    );
    assert.ok(out);
    return out;
  };
  return { config, lambda, gateway, call, clock, envs };
}

const SCRIPTS = {
  notes: lambdaTarget([
    { name: 'add_note' },
    { name: 'list_notes', description: 'Lists every note you wrote' },
  ]),
  files: lambdaTarget([{ name: 'read_file', description: 'Reads a file from disk' }]),
  live: mcpTarget([{ name: 'progress', description: 'Streams progress' }]),
};

const toolsOf = (r: JsonRpcResponse): string[] =>
  'result' in r
    ? (r.result['tools'] as { name: string }[]).map((t) => t.name)
    : assert.fail(JSON.stringify(r));

describe('naming: <target>___<name>', () => {
  test('built and split in one place; a name without the delimiter has no target', () => {
    assert.equal(gatewayToolName('notes', 'add_note'), 'notes___add_note');
    assert.deepEqual(splitGatewayToolName('notes___add___note'), { target: 'notes', name: 'add___note' });
    assert.equal(splitGatewayToolName('add_note'), undefined);
  });

  test("every target's tools, in the fleet's order, under <target>___<tool>", async () => {
    const { call, lambda } = gatewayOver(SCRIPTS);
    const listed = toolsOf(await call({ id: 1, method: 'tools/list' }));
    assert.deepEqual(listed, [
      'notes___add_note',
      'notes___list_notes',
      'files___read_file',
      'live___progress',
    ]);
    await lambda.shutdown();
  });

  test("a call reaches its target under the tool's own name; an unknown target is refused", async () => {
    const { call, lambda } = gatewayOver(SCRIPTS);
    const r = await call({
      id: 2,
      method: 'tools/call',
      params: { name: 'files___read_file', arguments: { path: 'a' } },
    });
    assert.deepEqual('result' in r && r.result['content'], [
      { type: 'text', text: 'read_file {"path":"a"}' },
    ]);
    const live = await call({
      id: 3,
      method: 'tools/call',
      params: { name: 'live___progress', arguments: {} },
    });
    assert.deepEqual('result' in live && live.result['content'], [{ type: 'text', text: 'progress {}' }]);
    const unknown = await call({
      id: 4,
      method: 'tools/call',
      params: { name: 'nowhere___x', arguments: {} },
    });
    assert.ok('error' in unknown && /Unknown tool: nowhere___x/.test(unknown.error.message));
    await lambda.shutdown();
  });

  test("once a Lambda target's tools are listed, a tool it does not have is refused without invoking it", async () => {
    const { call, lambda } = gatewayOver(SCRIPTS);
    await call({ id: 1, method: 'tools/list' });
    const files = lambda.resolve('mcp-server-files');
    const calls = files.stats.calls;
    const unknown = await call({
      id: 2,
      method: 'tools/call',
      params: { name: 'files___nope', arguments: {} },
    });
    assert.ok('error' in unknown && /Unknown tool: files___nope/.test(unknown.error.message));
    assert.equal(files.stats.calls, calls, 'the function was not invoked');
    const known = await call({
      id: 3,
      method: 'tools/call',
      params: { name: 'files___read_file', arguments: { path: 'b' } },
    });
    assert.ok('result' in known);
    assert.equal(files.stats.calls, calls + 1);
    await lambda.shutdown();
  });
});

describe('the catalog', () => {
  test("a Lambda target's schemas are lowered, each lossy change a warning; an MCP-server target's are kept", async () => {
    const union = { type: 'object', properties: { v: { oneOf: [{ type: 'string' }, { type: 'number' }] } } };
    const { gateway, lambda } = gatewayOver({
      ...SCRIPTS,
      notes: lambdaTarget([{ name: 'pick', inputSchema: union }]),
      live: mcpTarget([{ name: 'pick', inputSchema: union }]),
    });
    const entries = await gateway.discover();
    const notes = entries.find((e) => e.serverId === 'notes');
    const live = entries.find((e) => e.serverId === 'live');
    assert.ok(notes && notes.warnings.length > 0, 'lowering warned');
    assert.notDeepEqual(notes.tools[0]?.inputSchema, union);
    assert.deepEqual(live?.tools[0]?.inputSchema, union);
    assert.deepEqual(live?.warnings, []);
    await lambda.shutdown();
  });

  test('a listing that failed is tried again in the background after RELIST_AFTER_MS, never while tools/list waits', async () => {
    let healthy = false;
    const flaky: EnvironmentScript = {
      answer: (msg, env, onChunk) =>
        healthy
          ? lambdaTarget([{ name: 'back' }]).answer?.(msg, env, onChunk)
          : {
              type: 'error',
              requestId: msg.requestId,
              errorType: 'Runtime.ExitError',
              errorMessage: 'not yet',
            },
    };
    const { gateway, call, clock, lambda } = gatewayOver({ ...SCRIPTS, files: flaky });
    const first = await gateway.discover();
    assert.match(first.find((e) => e.serverId === 'files')?.error ?? '', /not yet/);
    healthy = true;
    assert.ok(
      !toolsOf(await call({ id: 1, method: 'tools/list' })).includes('files___back'),
      'not listed again yet',
    );
    await clock.advance(RELIST_AFTER_MS + 1);
    const answered = toolsOf(await call({ id: 2, method: 'tools/list' }));
    assert.ok(!answered.includes('files___back'), 'the relisting runs in the background');
    await settle();
    assert.ok(toolsOf(await call({ id: 3, method: 'tools/list' })).includes('files___back'));
    await lambda.shutdown();
  });

  test('a relisting that has not answered yet (a worker still starting) holds up no tools/list: answered with time standing still', async () => {
    let invocations = 0;
    const stalling: EnvironmentScript = {
      // The first listing fails; the next one does not answer until the function's timeout.
      answer: (msg) =>
        ++invocations === 1
          ? {
              type: 'error',
              requestId: msg.requestId,
              errorType: 'Runtime.ExitError',
              errorMessage: 'not yet',
            }
          : undefined,
    };
    const { gateway, call, clock, lambda } = gatewayOver({ ...SCRIPTS, files: stalling });
    const filesEntry = () => gateway.entries().find((e) => e.serverId === 'files');
    await gateway.discover();
    const failed = filesEntry();
    assert.match(failed?.error ?? '', /not yet/);
    await clock.advance(RELIST_AFTER_MS + 1);
    const answered: { tools?: string[] } = {};
    void call({ id: 1, method: 'tools/list' }).then((r) => (answered.tools = toolsOf(r)));
    await settle();
    // The clock stands still: the relisting cannot end, so an answer now did not wait for it.
    assert.ok(answered.tools, 'tools/list answered while the relisting of files runs');
    assert.equal(invocations, 2, 'the relisting is under way');
    assert.deepEqual(answered.tools, ['notes___add_note', 'notes___list_notes', 'live___progress']);
    assert.equal(filesEntry(), failed, 'the failed entry stands while files is listed again');
    toolsOf(await call({ id: 2, method: 'tools/list' }));
    assert.equal(invocations, 2, 'one relisting at a time: the next tools/list starts none');
    await clock.advance(lambda.resolve('mcp-server-files').server.timeout * 1000);
    const again = filesEntry();
    assert.ok(again && failed && again.listedAt > failed.listedAt, 'the relisting ended');
    assert.match(again.error ?? '', /Task timed out/, 'and its failure is kept');
    await lambda.shutdown();
  });

  test('start-up lists two functions at a time, side by side; one that fails at once holds up none', async () => {
    const yaml = `gateway: { name: unit-gateway }
servers:
  broken: { command: broken-server }
  a: { command: a-server }
  b: { command: b-server }
  c: { command: c-server }
`;
    const starting = { ...lambdaTarget([{ name: 'x' }]), initMs: 1_000 };
    const { gateway, clock, lambda } = gatewayOver(
      {
        broken: { initError: { errorType: 'Runtime.ExitError', errorMessage: 'exited with code 3' } },
        a: starting,
        b: starting,
        c: starting,
      },
      { yaml },
    );
    const listed = (): string[] => gateway.entries().map((e) => e.serverId);
    let done = false;
    void gateway.discover(2).then(() => (done = true));
    await settle();
    assert.deepEqual(listed(), ['broken'], 'the broken one failed at once');
    await clock.advance(1_000);
    assert.deepEqual(listed(), ['broken', 'a', 'b'], 'a and b started side by side, c waits for a place');
    await clock.advance(999);
    assert.equal(done, false);
    await clock.advance(1);
    assert.equal(done, true, 'three starts of 1 s, two at a time: 2 s');
    assert.deepEqual(listed(), ['broken', 'a', 'b', 'c']);
    await lambda.shutdown();
  });

  test("a reload's refresh drops removed servers and lists the changed ones again", async () => {
    const { gateway, lambda } = gatewayOver(SCRIPTS);
    await gateway.discover();
    await lambda.apply(fleetOf(FLEET.replace(/ {2}files:\n {4}command: files-server\n/, '')).servers);
    await gateway.refresh([]);
    assert.deepEqual(
      gateway.entries().map((e) => e.serverId),
      ['notes', 'live'],
    );
    await lambda.shutdown();
  });
});

describe('search', () => {
  const tools = [
    { name: 'notes___list_notes', description: 'Lists every note you wrote', inputSchema: {} },
    { name: 'files___read_file', description: 'Reads a file from disk', inputSchema: {} },
    { name: 'files___list_directory', description: 'Lists a folder', inputSchema: {} },
  ];

  test('words in the name weigh more than words in the description; nothing for an empty query', () => {
    assert.deepEqual(
      search(tools, 'list notes').map((t) => t.name),
      ['notes___list_notes', 'files___list_directory'],
    );
    assert.deepEqual(
      search(tools, 'disk').map((t) => t.name),
      ['files___read_file'],
    );
    assert.deepEqual(search(tools, '  '), []);
  });

  test('with gateway.search the tool is listed and answers from the catalog', async () => {
    const { call, lambda } = gatewayOver(SCRIPTS, { search: true });
    assert.ok(toolsOf(await call({ id: 1, method: 'tools/list' })).includes(SEARCH_TOOL));
    const r = await call({
      id: 2,
      method: 'tools/call',
      params: { name: SEARCH_TOOL, arguments: { query: 'file disk' } },
    });
    const found = (
      'result' in r ? (r.result['structuredContent'] as { tools: { name: string }[] }).tools : []
    ).map((t) => t.name);
    assert.equal(found[0], 'files___read_file');
    await lambda.shutdown();
  });
});

describe('policy on the caller the request carries', () => {
  const principals = new Map([
    ['reader-token-0123', { kind: 'oauth' as const, id: 'bob', claims: { sub: 'bob', role: 'reader' } }],
  ]);
  const callerWith = (headers: Record<string, string>): Caller => ({
    headers,
    rawBody: '{}',
    principal: identify(headers, principals),
  });

  async function withPolicy(mode: 'enforce' | 'log-only') {
    const dir = mkdtempSync(path.join(work, 'policy-'));
    const file = path.join(dir, 'servers.yaml');
    writeFileSync(
      file,
      `${FLEET}policy:
  mode: ${mode}
  policies:
    readers: |
      permit(principal is AgentCore::OAuthUser, action == AgentCore::Action::"notes___list_notes", resource)
      when { principal.hasTag("role") && principal.getTag("role") == "reader" };
`,
    );
    const config = await loadConfigOrThrow(file);
    const g = gatewayOver(SCRIPTS);
    const decisions: string[] = [];
    assert.ok(config.policy);
    g.gateway.access = new GatewayAccess(config.policy, {
      gatewayName: 'unit-gateway',
      principals,
      onDecision: (r) => decisions.push(`${r.tool} ${r.decision}`),
    });
    return { ...g, decisions };
  }

  test('identify: the bearer token names the principal; without --principals every caller is the dev user', () => {
    assert.deepEqual(identify({ authorization: 'Bearer reader-token-0123' }, principals), {
      principal: principals.get('reader-token-0123'),
    });
    const why = (who: Caller['principal']): string => ('error' in who ? who.error : '');
    assert.match(why(identify({}, principals)), /no principal/);
    assert.match(why(identify({ authorization: 'Bearer other' }, principals)), /not one of --principals/);
    assert.deepEqual(identify({}, undefined), { principal: DEV_PRINCIPAL });
  });

  test("enforce: tools/list shows what the caller may call; a denied call is refused with AgentCore's words", async () => {
    const { call, lambda, decisions } = await withPolicy('enforce');
    const reader = callerWith({ authorization: 'Bearer reader-token-0123' });
    assert.deepEqual(toolsOf(await call({ id: 1, method: 'tools/list' }, reader)), ['notes___list_notes']);
    const denied = await call(
      { id: 2, method: 'tools/call', params: { name: 'files___read_file', arguments: {} } },
      reader,
    );
    assert.ok('result' in denied && JSON.stringify(denied.result).includes(DENIED_PREFIX));
    const allowed = await call(
      { id: 3, method: 'tools/call', params: { name: 'notes___list_notes', arguments: {} } },
      reader,
    );
    assert.ok('result' in allowed && allowed.result['isError'] !== true);
    assert.deepEqual(decisions, ['files___read_file deny', 'notes___list_notes allow']);
    await lambda.shutdown();
  });

  test('a caller without a known principal gets the unauthorized error, as does a request with no caller', async () => {
    const { call, lambda } = await withPolicy('enforce');
    const nobody = await call({ id: 1, method: 'tools/list' }, callerWith({}));
    assert.ok('error' in nobody && nobody.error.code === UNAUTHORIZED);
    const none = await call({
      id: 2,
      method: 'tools/call',
      params: { name: 'notes___list_notes', arguments: {} },
    });
    assert.ok('error' in none && none.error.code === UNAUTHORIZED);
    await lambda.shutdown();
  });

  test('log-only: a deny is recorded and the call goes through', async () => {
    const { call, lambda, decisions } = await withPolicy('log-only');
    const reader = callerWith({ authorization: 'Bearer reader-token-0123' });
    const r = await call(
      { id: 1, method: 'tools/call', params: { name: 'files___read_file', arguments: { path: 'x' } } },
      reader,
    );
    assert.ok('result' in r && JSON.stringify(r.result).includes('read_file'));
    assert.deepEqual(decisions, ['files___read_file deny']);
    await lambda.shutdown();
  });
});

describe('interceptor outputs, read strictly', () => {
  const request: JsonRpcRequest = {
    jsonrpc: '2.0',
    id: 7,
    method: 'tools/call',
    params: { name: 'notes___x' },
  };
  const config = {
    point: 'request' as const,
    passRequestHeaders: true,
  } as Parameters<typeof interceptorEvent>[0];

  test("the event carries the raw body and, when asked for, the caller's headers without the dev token", () => {
    const caller: Caller = {
      headers: { authorization: 'Bearer t', 'x-mcp-fleet-token': 'dev-secret', 'x-team': 'blue' },
      rawBody: '{"raw":true}',
      principal: { principal: DEV_PRINCIPAL },
    };
    const event = interceptorEvent(config, request, caller) as {
      mcp: Record<string, Record<string, unknown>>;
    };
    assert.deepEqual(event.mcp['rawGatewayRequest'], { body: '{"raw":true}' });
    assert.deepEqual(event.mcp['gatewayRequest']?.['headers'], {
      authorization: 'Bearer t',
      'x-team': 'blue',
    });
    const quiet = interceptorEvent({ ...config, passRequestHeaders: false }, request, caller) as {
      mcp: Record<string, Record<string, unknown>>;
    };
    assert.equal(quiet.mcp['gatewayRequest']?.['headers'], undefined);
  });

  test('a short-circuit response keeps its status; a body for another request id is refused', () => {
    const ok = readRequestOutput(
      { transformedGatewayResponse: { statusCode: 403, body: { jsonrpc: '2.0', id: 7, result: {} } } },
      request,
    );
    assert.deepEqual('ok' in ok && ok.ok, {
      response: { jsonrpc: '2.0', id: 7, result: {} },
      statusCode: 403,
    });
    const wrong = readRequestOutput({ transformedGatewayRequest: { body: { ...request, id: 8 } } }, request);
    assert.ok('failure' in wrong && /would not reach the caller/.test(wrong.detail));
    const missing = readResponseOutput({}, request);
    assert.ok('failure' in missing && missing.failure === 'malformed');
    const status = readResponseOutput({ transformedGatewayResponse: { statusCode: 99, body: {} } }, request);
    assert.ok('failure' in status && /not an HTTP status/.test(status.detail));
  });
});

describe("a gateway request's deadline", () => {
  /** The notes server never answering, on at most one environment (a second call queues). */
  const silentNotesOnOneEnvironment = (clock: ManualClock) =>
    gatewayOver(
      { ...SCRIPTS, notes: { answer: () => undefined } },
      {
        clock,
        yaml: FLEET.replace(
          'command: notes-server',
          'command: notes-server\n    aws: { reservedConcurrency: 1 }',
        ),
      },
    );

  test('a target that does not answer in time: the caller is answered at the deadline; a queued call leaves the queue', async () => {
    const clock = new ManualClock();
    const { lambda } = silentNotesOnOneEnvironment(clock);
    const fn = lambda.resolve('mcp-server-notes');
    const first = invokeTarget(lambda, fn, {}, {}, clock.now() + 1_000, clock);
    const second = invokeTarget(lambda, fn, {}, {}, clock.now() + 500, clock);
    await settle();
    assert.equal(fn.environments.queued, 1);
    // Each refusal is listened for before time moves (it comes while the clock advances).
    const secondRefused = assert.rejects(second, GatewayDeadlineError);
    const firstRefused = assert.rejects(
      first,
      (err: unknown) =>
        err instanceof GatewayDeadlineError && /within the gateway's deadline \(1000 ms\)/.test(err.message),
    );
    await clock.advance(500);
    await secondRefused;
    assert.equal(fn.environments.queued, 0, 'the queued call left the queue');
    await clock.advance(500);
    await firstRefused;
    await lambda.shutdown();
  });
  test("the caller's going away reaches a queued call, and nothing is left listening on the caller's signal", async () => {
    const clock = new ManualClock();
    const { lambda } = silentNotesOnOneEnvironment(clock);
    const fn = lambda.resolve('mcp-server-notes');
    const busy = new AbortController();
    const first = invokeTarget(lambda, fn, {}, { signal: busy.signal }, clock.now() + 1_000, clock);
    const caller = new AbortController();
    const second = invokeTarget(lambda, fn, {}, { signal: caller.signal }, clock.now() + 60_000, clock);
    await settle();
    assert.equal(fn.environments.queued, 1);
    assert.equal(getEventListeners(caller.signal, 'abort').length, 1);
    const gone = assert.rejects(
      second,
      (err: unknown) =>
        err instanceof CallerGoneError && /the client closed its connection/.test(err.message),
    );
    caller.abort(new Error('the client closed its connection'));
    await gone;
    assert.equal(fn.environments.queued, 0, 'the queued call left the queue');
    assert.equal(getEventListeners(caller.signal, 'abort').length, 0);
    // A call that ends (here at the deadline) takes its listener off its caller's signal too.
    const late = assert.rejects(first, GatewayDeadlineError);
    await clock.advance(1_000);
    await late;
    assert.equal(getEventListeners(busy.signal, 'abort').length, 0);
    // A signal already aborted: the call never waits.
    const already = new AbortController();
    already.abort(new Error('gone before the call'));
    await assert.rejects(
      invokeTarget(lambda, fn, {}, { signal: already.signal }, clock.now() + 60_000, clock),
      CallerGoneError,
    );
    await lambda.shutdown();
  });
});

describe("a session's event stream (GET /mcp) where the gateway has none", () => {
  const get = async (gateway: LocalGateway, headers: Record<string, string>) =>
    new GatewayEndpoint(gateway).serve(
      { method: 'GET', path: '/mcp', headers, body: '' },
      {
        deadline: Date.now() + 60_000,
        stream: { start: () => assert.fail('no stream is opened'), write: () => undefined },
        signal: new AbortController().signal,
      },
    );
  const sse = { accept: 'text/event-stream', 'mcp-session-id': 'any' };

  test('without sessions, or with response streaming off: 405, saying which setting', async () => {
    const { lambda } = gatewayOver(SCRIPTS);
    const plain = new LocalGateway(lambda, { name: 'g', version: '1', search: false });
    const none = await get(plain, sse);
    assert.equal(none.statusCode, 405);
    assert.equal(none.headers['allow'], 'POST, OPTIONS');
    assert.match(none.body, /keeps no sessions \(gateway\.sessionTimeout\)/);
    const quiet = new LocalGateway(lambda, {
      name: 'g',
      version: '1',
      search: false,
      sessionTimeoutMs: 60_000,
      responseStreaming: false,
    });
    const off = await get(quiet, sse);
    assert.equal(off.statusCode, 405);
    assert.match(off.body, /does not stream \(gateway\.responseStreaming\)/);
    const on = new LocalGateway(lambda, {
      name: 'g',
      version: '1',
      search: false,
      sessionTimeoutMs: 60_000,
      responseStreaming: true,
    });
    assert.equal((await get(on, sse)).statusCode, 404, 'an unknown session, once the gateway streams');
    assert.equal((await get(on, { 'mcp-session-id': 'any' })).statusCode, 406);
    await lambda.shutdown();
  });
});
