import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { loadConfigOrThrow, type FleetConfig } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { INTERCEPTOR_ERROR_CODE } from '../../src/local/gateway/interceptors.js';
import { ROOT } from '../helpers.js';
import { processTree } from '../../src/platform/processes.js';
import { assertNoneLeft, isAlive, marker, text } from '../runtime/support.js';
import { eventually, exited, outputOf, waitForText } from '../support/eventually.js';
import { memoryServer, rpc } from './support.js';

/*
 * AgentCore Gateway interceptors in the dev gateway, through its real /mcp endpoint with the MCP
 * SDK's client, on both protocol eras: a REQUEST interceptor (headers → arguments, a refusal that
 * short-circuits, faults) and a RESPONSE interceptor written in TypeScript that redacts, each run
 * in its own local Lambda environments, in front of a real MCP server (server-memory).
 */

const mark = marker();
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'interceptors');
let dir: string;
let config: FleetConfig;
let fleet: RunningFleet;
const lines: string[] = [];

/**
 * A fleet folder as a user keeps it: the handler files beside servers.yaml, a gateway `name` with
 * both interceptors (the REQUEST one's further settings `request`), server-memory behind it.
 */
async function interceptedFleet(folder: string, name: string, request = ''): Promise<void> {
  await copyFile(path.join(FIXTURES, 'gate.mjs'), path.join(folder, 'gate.mjs'));
  await copyFile(path.join(FIXTURES, 'redact.ts'), path.join(folder, 'redact.ts'));
  await writeFile(
    path.join(folder, 'servers.yaml'),
    `gateway:
  name: ${name}
  interceptors:
    request: { handler: gate.mjs${request === '' ? '' : `, ${request}`} }
    response: { handler: "redact.ts#redact" }
defaults:
  env:
    MCP_FLEET_TEST_MARKER: "${mark.value}"
servers:
${memoryServer(folder)}
`,
  );
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-interceptors-'));
  await interceptedFleet(dir, 'intercepted', 'passRequestHeaders: true, timeout: 2, memory: 256');
  config = await loadConfigOrThrow(path.join(dir, 'servers.yaml'));
  fleet = await startFleet(config, {
    port: 0,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    buildDir: false,
    onInterceptor: (line) => lines.push(line),
    watchInterceptors: true,
  });
  const seed = await connect('2025');
  await seed.callTool({
    name: 'memory___create_entities',
    arguments: {
      entities: [
        { name: 'acme-customer', entityType: 'customer', observations: ['tenant acme', 'ssn 123-45-6789'] },
        {
          name: 'globex-customer',
          entityType: 'customer',
          observations: ['tenant globex', 'ssn 987-65-4321'],
        },
      ],
    },
  });
  await seed.close();
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(mark.value);
  await rm(dir, { recursive: true, force: true });
});

type Era = '2025' | '2026-07-28';

/** An interceptor event as the fixtures hand it back. */
interface SeenEvent {
  interceptorInputVersion: string;
  mcp: {
    rawGatewayRequest: { body: string };
    gatewayRequest: {
      path: string;
      httpMethod: string;
      headers?: Record<string, string>;
      body: {
        method: string;
        params: { name: string; arguments: Record<string, unknown>; _meta?: Record<string, unknown> };
      };
    };
    gatewayResponse?: { statusCode: number };
  };
}

async function connect(era: Era, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client(
    { name: 'interceptor-test', version: '1' },
    era === '2025' ? {} : { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`), { requestInit: { headers } }),
  );
  assert.equal(client.getProtocolEra(), era === '2025' ? 'legacy' : 'modern');
  return client;
}

const memoryCalls = (): number => fleet.lambda.forServer('memory')?.stats.calls ?? -1;

function interceptorStatus(point: 'request' | 'response'): Record<string, unknown> {
  const all = fleet.gateway.interceptors?.status() ?? [];
  const s = all.find((x) => x['point'] === point);
  assert.ok(s, `no ${point} interceptor in the status`);
  return s;
}

/** A call the interceptors refuse with a JSON-RPC error: its message. */
async function failing(
  client: Client,
  args: Record<string, unknown>,
): Promise<{ code: number; message: string }> {
  try {
    const r = await client.callTool({ name: 'memory___search_nodes', arguments: args });
    assert.fail(`expected a JSON-RPC error, got ${JSON.stringify(r)}`);
  } catch (err) {
    const e = err as { code?: number; message: string };
    return { code: e.code ?? 0, message: e.message };
  }
}

describe('interceptors in the dev gateway', () => {
  test('config: both interceptors resolved beside servers.yaml, each its own function', () => {
    const i = config.gateway.interceptors;
    assert.equal(i?.request?.export, 'handler');
    assert.equal(i?.request?.passRequestHeaders, true);
    assert.equal(i?.request?.timeout, 2);
    assert.equal(i?.response?.export, 'redact');
    assert.equal(i?.response?.passRequestHeaders, false);
    assert.equal(i?.response?.timeout, 10);
    assert.deepEqual(
      fleet.gateway.interceptors?.functions.map((f) => f.name),
      ['mcp-fleet-interceptor-request-intercepted', 'mcp-fleet-interceptor-response-intercepted'],
    );
    // Not functions of the fleet's servers (no tools listed from them).
    assert.deepEqual([...fleet.lambda.functions.keys()], ['mcp-server-memory']);
  });

  for (const era of ['2025', '2026-07-28'] as const) {
    test(`${era}: the RESPONSE interceptor redacts a field of a tool result`, async () => {
      const client = await connect(era);
      const r = await client.callTool({ name: 'memory___read_graph', arguments: {} });
      assert.notEqual(r.isError, true, text(r));
      assert.match(text(r), /acme-customer/);
      assert.match(text(r), /ssn \[redacted\]/);
      assert.doesNotMatch(text(r), /123-45-6789|987-65-4321/);
      await client.close();
    });

    test(`${era}: the REQUEST interceptor maps a header to an argument`, async () => {
      const client = await connect(era, { 'X-Interceptor-Mode': 'map-tenant', 'X-Tenant': 'globex' });
      const before = memoryCalls();
      const r = await client.callTool({ name: 'memory___search_nodes', arguments: { query: 'acme' } });
      assert.notEqual(r.isError, true, text(r));
      // The server searched for the header's tenant, not the caller's argument.
      assert.match(text(r), /globex-customer/);
      assert.doesNotMatch(text(r), /acme-customer/);
      assert.equal(memoryCalls(), before + 1);
      await client.close();
    });

    test(`${era}: a REQUEST interceptor that refuses short-circuits; the target is not called`, async () => {
      const client = await connect(era, { 'X-Interceptor-Mode': 'refuse' });
      const before = memoryCalls();
      const shortCircuits = Number(interceptorStatus('request')['shortCircuits']);
      const r = await client.callTool({
        name: 'memory___create_entities',
        arguments: { entities: [{ name: 'intruder', entityType: 'x', observations: [] }] },
      });
      assert.equal(r.isError, true);
      assert.equal(text(r), 'refused by the gate: memory___create_entities');
      assert.equal(memoryCalls(), before, 'a short-circuited call never reaches the function');
      assert.equal(interceptorStatus('request')['shortCircuits'], shortCircuits + 1);
      await client.close();
      const check = await connect(era);
      assert.doesNotMatch(
        text(await check.callTool({ name: 'memory___read_graph', arguments: {} })),
        /intruder/,
      );
      await check.close();
    });

    test(`${era}: the events are AgentCore's (version 1.0, raw and parsed body, headers only when asked for)`, async () => {
      const client = await connect(era, {
        'X-Interceptor-Mode': 'event',
        Authorization: 'Bearer caller-token-123456',
      });
      const seen = JSON.parse(
        text(await client.callTool({ name: 'memory___search_nodes', arguments: { query: 'q' } })),
      ) as SeenEvent;
      assert.equal(seen['interceptorInputVersion'], '1.0');
      const mcp = seen['mcp'];
      assert.deepEqual(Object.keys(mcp).sort(), ['gatewayRequest', 'rawGatewayRequest']);
      assert.equal(mcp.gatewayRequest.path, '/mcp');
      assert.equal(mcp.gatewayRequest.httpMethod, 'POST');
      assert.equal(mcp.gatewayRequest.body.method, 'tools/call');
      assert.equal(mcp.gatewayRequest.body.params.name, 'memory___search_nodes');
      assert.equal(typeof mcp.rawGatewayRequest.body, 'string');
      assert.deepEqual(JSON.parse(mcp.rawGatewayRequest.body), mcp.gatewayRequest.body);
      if (era === '2026-07-28') {
        assert.equal(
          mcp.gatewayRequest.body.params._meta?.['io.modelcontextprotocol/protocolVersion'],
          '2026-07-28',
        );
      }
      // passRequestHeaders: the caller's headers, Authorization included; not the dev server's own.
      const headers = mcp.gatewayRequest.headers ?? {};
      assert.equal(headers['x-interceptor-mode'], 'event');
      assert.equal(headers['authorization'], 'Bearer caller-token-123456');
      assert.equal(headers['x-mcp-fleet-token'], undefined);
      await client.close();

      // The RESPONSE interceptor (no passRequestHeaders): no headers, and the gateway's response.
      const plain = await connect(era, { 'X-Tenant': 'acme' });
      const r = JSON.parse(
        text(await plain.callTool({ name: 'memory___search_nodes', arguments: { query: 'response-event' } })),
      ) as SeenEvent;
      assert.equal(r['interceptorInputVersion'], '1.0');
      assert.equal('headers' in r['mcp'].gatewayRequest, false);
      assert.equal(r['mcp'].gatewayResponse?.statusCode, 200);
      assert.equal(r['mcp'].gatewayRequest.body.params.arguments.query, 'response-event');
      await plain.close();
    });

    test(`${era}: a failing interceptor is a clear JSON-RPC error; the fleet keeps serving`, async () => {
      const cases: [string, Record<string, string>, Record<string, unknown>, RegExp][] = [
        [
          'throw',
          { 'X-Interceptor-Mode': 'throw' },
          { query: 'x' },
          /REQUEST interceptor mcp-fleet-interceptor-request-intercepted \(gate\.mjs#handler\) failed: its handler failed: .*the gate fell over/,
        ],
        [
          'bad-version',
          { 'X-Interceptor-Mode': 'bad-version' },
          { query: 'x' },
          /REQUEST interceptor .* failed: interceptorOutputVersion is "2\.0"; AgentCore accepts "1\.0"/,
        ],
        [
          'malformed',
          { 'X-Interceptor-Mode': 'malformed' },
          { query: 'x' },
          /REQUEST interceptor .* failed: mcp\.transformedGatewayRequest\.body is "not json-rpc", not a JSON-RPC request/,
        ],
        [
          'wrong-id',
          { 'X-Interceptor-Mode': 'wrong-id' },
          { query: 'x' },
          /REQUEST interceptor .* failed: mcp\.transformedGatewayResponse\.body has id "someone-else"/,
        ],
        [
          'response-throw',
          {},
          { query: 'response-throw' },
          /RESPONSE interceptor mcp-fleet-interceptor-response-intercepted \(redact\.ts#redact\) failed: its handler failed: .*the redactor fell over/,
        ],
        [
          'response-nothing',
          {},
          { query: 'response-nothing' },
          /RESPONSE interceptor .* failed: its output has no mcp\.transformedGatewayResponse/,
        ],
      ];
      for (const [name, headers, args, expected] of cases) {
        const client = await connect(era, headers);
        const e = await failing(client, args);
        assert.equal(e.code, INTERCEPTOR_ERROR_CODE, name);
        assert.match(e.message, expected, name);
        await client.close();
      }
      // And the next call is served.
      const ok = await connect(era);
      assert.notEqual((await ok.callTool({ name: 'memory___read_graph', arguments: {} })).isError, true);
      await ok.close();
    });
  }

  test('a REQUEST interceptor over its timeout: a clear error, its environment ended, the fleet serves on', async () => {
    const client = await connect('2025', { 'X-Interceptor-Mode': 'hang' });
    const request = fleet.gateway.interceptors?.functions[0];
    assert.ok(request);
    // Every request so far is answered: its environments are all idle, and the hung call takes one.
    const environments = request.environments.total;
    const timeouts = Number(interceptorStatus('request')['timeouts']);
    const e = await failing(client, { query: 'x' });
    // Answered at the interceptor's 2 s timeout (to the millisecond: test/unit/interceptors.test.ts).
    assert.match(
      e.message,
      /REQUEST interceptor mcp-fleet-interceptor-request-intercepted .* failed: timed out after 2 s/,
    );
    assert.equal(interceptorStatus('request')['timeouts'], timeouts + 1, 'a platform timeout');
    assert.equal(request.environments.total, Math.max(0, environments - 1), 'its environment ended');
    await client.close();
    const ok = await connect('2026-07-28');
    assert.match(text(await ok.callTool({ name: 'memory___read_graph', arguments: {} })), /globex-customer/);
    await ok.close();
  });

  test("a short-circuit's status code is the HTTP status, as on AgentCore", async () => {
    const r = await rpc(
      `${fleet.url}/mcp`,
      { id: 7, method: 'tools/call', params: { name: 'memory___read_graph', arguments: {} } },
      { 'x-interceptor-mode': 'forbidden' },
    );
    assert.equal(r.status, 403);
    assert.deepEqual(r.body['error'], { code: -32001, message: 'no tenant, no tools' });
    assert.equal(r.body['id'], 7);
  });

  test('/status lists both interceptors with what they did; each has its own function.log; no header is printed', async () => {
    const res = await fetch(`${fleet.url}/status`);
    const status = (await res.json()) as { interceptors: Record<string, unknown>[] };
    assert.deepEqual(
      status.interceptors.map((i) => [i['point'], i['functionName'], i['handler']]),
      [
        ['request', 'mcp-fleet-interceptor-request-intercepted', 'gate.mjs#handler'],
        ['response', 'mcp-fleet-interceptor-response-intercepted', 'redact.ts#redact'],
      ],
    );
    const request = status.interceptors[0] ?? {};
    assert.ok(Number(request['calls']) > 10, `request interceptor calls: ${String(request['calls'])}`);
    assert.ok(Number(request['rewrites']) >= 2);
    assert.deepEqual(Object.keys(request['failures'] as object).sort(), [
      'error',
      'malformed',
      'timeout',
      'version',
    ]);
    const response = status.interceptors[1] ?? {};
    assert.ok(Number(response['rewrites']) >= 2, 'the redactions');
    assert.deepEqual(Object.keys(response['failures'] as object).sort(), ['error', 'malformed']);
    for (const i of status.interceptors) {
      const log = await readFile(String(i['log']), 'utf8');
      assert.match(log, /^START RequestId: /m);
      assert.match(log, /^REPORT RequestId: /m);
    }
    const printed = JSON.stringify(status) + lines.join('\n');
    assert.doesNotMatch(printed, /caller-token-123456/);
    assert.ok(lines.some((l) => l.includes('the gate fell over')));
  });

  test('a saved handler file is bundled again and runs on the next call; a broken save keeps the last good one', async () => {
    const file = path.join(dir, 'gate.mjs');
    const original = await readFile(file, 'utf8');
    const refuse = async (): Promise<string> => {
      const client = await connect('2025', { 'X-Interceptor-Mode': 'refuse' });
      try {
        return text(await client.callTool({ name: 'memory___read_graph', arguments: {} }));
      } finally {
        await client.close();
      }
    };
    // The terminal line that says what the watcher did comes once it is done (the new function
    // in place, or the failure kept): wait for it, then the very next call shows the outcome.
    const said = async (what: RegExp): Promise<void> => {
      const from = lines.length;
      await eventually(() => lines.slice(from).some((l) => what.test(l)), {
        what: String(what),
        seen: () => lines.slice(from).join('\n'),
      });
    };
    const rebuilt = /interceptor request: gate\.mjs changed; rebuilt/;
    const before = fleet.gateway.interceptors?.functions[0];
    let saved = said(rebuilt);
    await writeFile(file, original.replace('refused by the gate', 'refused by the new gate'));
    await saved;
    assert.notEqual(fleet.gateway.interceptors?.functions[0], before, 'a fresh function');
    assert.equal(await refuse(), 'refused by the new gate: memory___read_graph');

    saved = said(/the last good build keeps running/);
    await writeFile(file, `${original}\nexport const broken = ;\n`);
    await saved;
    assert.equal(await refuse(), 'refused by the new gate: memory___read_graph');
    saved = said(rebuilt);
    await writeFile(file, original);
    await saved;
    assert.equal(await refuse(), 'refused by the gate: memory___read_graph');
  });
});

test('order: the REQUEST interceptor runs before AgentCore Policy, which decides on the rewritten arguments', async () => {
  const policyDir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-interceptors-policy-'));
  await copyFile(path.join(FIXTURES, 'gate.mjs'), path.join(policyDir, 'gate.mjs'));
  await writeFile(
    path.join(policyDir, 'servers.yaml'),
    `gateway:
  name: ordered
  interceptors:
    request: { handler: gate.mjs, passRequestHeaders: true }
policy:
  mode: enforce
  policies:
    everyone: permit(principal, action in AgentCore::Action::"CallTool", resource);
    no_secret_tenant: |
      forbid(principal, action == AgentCore::Action::"memory___search_nodes", resource)
      when { context.input has query && context.input.query == "secret-tenant" };
defaults:
  env:
    MCP_FLEET_TEST_MARKER: "${mark.value}"
servers:
${memoryServer(policyDir)}
`,
  );
  const decisions: { tool: string; decision: string; policies: string[] }[] = [];
  const ordered = await startFleet(await loadConfigOrThrow(path.join(policyDir, 'servers.yaml')), {
    port: 0,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    buildDir: false,
    onDecision: (d) => decisions.push(d),
  });
  try {
    const client = new Client({ name: 'order-test', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${ordered.url}/mcp`), {
        requestInit: { headers: { 'X-Interceptor-Mode': 'map-tenant', 'X-Tenant': 'secret-tenant' } },
      }),
    );
    // The caller's own argument is harmless; the interceptor puts the header's tenant in its place.
    const r = await client.callTool({ name: 'memory___search_nodes', arguments: { query: 'harmless' } });
    assert.equal(r.isError, true);
    assert.match(text(r), /Tool Execution Denied.*denied by no_secret_tenant/);
    assert.deepEqual(decisions.at(-1), {
      ...decisions.at(-1),
      tool: 'memory___search_nodes',
      decision: 'deny',
      policies: ['no_secret_tenant'],
    });
    assert.equal(ordered.lambda.forServer('memory')?.stats.calls ?? 0, 1, 'only the listing reached memory');
    await client.close();
  } finally {
    await ordered.close();
    await rm(policyDir, { recursive: true, force: true });
  }
});

describe('dev killed outright (SIGKILL) with interceptors', () => {
  test("the interceptors' environments go with the servers': no process is left", async () => {
    const own = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-interceptors-kill-'));
    try {
      await interceptedFleet(own, 'killed');
      const child = spawn(
        process.execPath,
        [
          path.join(ROOT, 'dist', 'cli', 'main.js'),
          'dev',
          '--config',
          path.join(own, 'servers.yaml'),
          '--port',
          '0',
        ],
        { env: { ...process.env, ...mark.env }, stdio: ['ignore', 'pipe', 'ignore'] },
      );
      const output = outputOf(child);
      const ready = await waitForText(output.stdout, /http:\/\/127\.0\.0\.1:(\d+)/, {
        child,
        what: 'the ready line',
      });
      await waitForText(output.stdout, /Ctrl-C to stop/, { child, what: 'the ready line' });
      const answer = await rpc(`http://127.0.0.1:${ready[1] ?? ''}/mcp`, {
        id: 1,
        method: 'tools/call',
        params: { name: 'memory___read_graph', arguments: {} },
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      // Both interceptors ran: each has an environment (a worker process) beside the server's.
      const tree = processTree(child.pid ?? 0).slice(1);
      const interceptorEnvs = tree.filter((pid) =>
        /mcp-fleet-interceptor-(request|response)-killed/.test(environOf(pid)),
      );
      assert.equal(interceptorEnvs.length, 2, `interceptor environments among ${tree.join(' ')}`);
      child.kill('SIGKILL');
      await exited(child);
      let still: number[] = [];
      await eventually(
        async () => {
          still = [];
          for (const pid of tree) if (await isAlive(pid)) still.push(pid);
          return still.length === 0;
        },
        { what: 'every process of the fleet gone', seen: () => still.join(' ') },
      );
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });
});

/** A process's environment as text ('' once it is gone). */
function environOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return '';
  }
}
