import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { chromium } from 'playwright-core';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import type { FleetStatus } from '../../src/local/dev/status.js';
import { principalsFrom } from '../../src/local/gateway/identity.js';
import { ManualClock } from '../support/clock.js';
import { eventually } from '../support/eventually.js';
import { assertNoneLeft, FAULT_SERVER, marker, text } from '../runtime/support.js';
import { gate, memoryServer, rpc } from './support.js';

/*
 * Rate limits in the dev gateway, through its real /mcp endpoint with the MCP SDK's client and
 * plain HTTP: four principals (static dev tokens with their claims), AgentCore's matching and
 * error, the windows counted on a manual clock.
 */

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const mark = marker();
const clock = new ManualClock();
let dir: string;
let fleet: RunningFleet;

const TOKENS = {
  alice: 'alice-token-0123456789',
  bob: 'bob-token-0123456789',
  carol: 'carol-token-0123456789',
  dave: 'dave-token-0123456789',
};

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-limits-'));
  await writeFile(
    path.join(dir, 'servers.yaml'),
    `gateway:
  name: limits-gateway
  rateLimits:
    per-user:
      description: Each caller's requests
      dimensionKeys: [$.context.jwt.sub]
      entries:
        - dimensions: { $.context.jwt.sub: "*" }
          requests: 5/minute
    per-tool:
      dimensionKeys: [targetName, toolName]
      entries:
        - dimensions: { targetName: memory, toolName: memory___read_graph }
          requests: 2/minute
        - dimensions: { targetName: memory, toolName: "*" }
          requests: 100/minute
        - dimensions: { targetName: fault, toolName: "*" }
          connections: 1
defaults:
  env:
    MCP_FLEET_TEST_MARKER: "${mark.value}"
servers:
${memoryServer(dir)}
  fault:
    command: node
    args: [${JSON.stringify(FAULT_SERVER)}]
`,
  );
  const config = await loadConfigOrThrow(path.join(dir, 'servers.yaml'));
  fleet = await startFleet(config, {
    port: 0,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    buildDir: false,
    rateLimitClock: clock,
    principals: principalsFrom(
      Object.fromEntries(Object.entries(TOKENS).map(([sub, token]) => [token, { sub }])),
      'test principals',
    ),
  });
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(mark.value);
  await rm(dir, { recursive: true, force: true });
});

async function clientFor(token: string): Promise<Client> {
  const client = new Client({ name: 'rate-limit-test', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

const search = (client: Client) =>
  client.callTool({ name: 'memory___search_nodes', arguments: { query: 'x' } });

function callTool(token: string, name: string, args: Record<string, unknown> = {}) {
  return rpc(
    `${fleet.url}/mcp`,
    { id: 7, method: 'tools/call', params: { name, arguments: args } },
    { authorization: `Bearer ${token}` },
  );
}

function limitStatus(id: string): NonNullable<FleetStatus['rateLimits']>[number] {
  const found = fleet.status().rateLimits?.find((l) => l.id === id);
  assert.ok(found, `no status of limit ${id}`);
  return found;
}

describe('rate limits in the dev gateway', () => {
  test('two principals: one over its limit is refused with retryAfter, the other unaffected', async () => {
    const alice = await clientFor(TOKENS.alice); // initialize: 1 of alice's 5
    const bob = await clientFor(TOKENS.bob);
    for (let i = 0; i < 4; i++) assert.notEqual((await search(alice)).isError, true);
    // The MCP SDK client gets the refusal as an HTTP error carrying AgentCore's JSON-RPC error.
    await assert.rejects(search(alice), (err: Error) => {
      assert.match(err.message, /Rate limit exceeded/);
      assert.match(err.message, /"retryAfter":60/);
      return true;
    });
    // On the wire: 429, code -32003, the limit's key with the caller's value, the metric, the wait.
    const refused = await callTool(TOKENS.alice, 'memory___search_nodes', { query: 'x' });
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.body, {
      jsonrpc: '2.0',
      id: 7,
      error: {
        code: -32003,
        message: 'Rate limit exceeded',
        data: { limitKey: 'per-user/$.context.jwt.sub=alice', metric: 'requests', retryAfter: 60 },
      },
    });
    // Bob has his own count: his four calls all pass.
    for (let i = 0; i < 4; i++) {
      const r = await search(bob);
      assert.notEqual(r.isError, true, text(r));
    }
    const user = limitStatus('per-user');
    assert.equal(user.throttled, 2);
    assert.deepEqual(user.buckets.map((b) => [b.limitKey, b.requests?.used, b.throttled]).sort(), [
      ['per-user/$.context.jwt.sub=alice', 5, 2],
      ['per-user/$.context.jwt.sub=bob', 5, 0],
    ]);
    await Promise.all([alice.close(), bob.close()]);
  });

  test('a caller --principals does not know gets 401 before any limit counts it (no policy needed)', async () => {
    const before = fleet.status().rateLimits?.map((l) => [l.id, l.admitted, l.throttled]);
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer not-a-known-token' }];
    for (const headers of attempts) {
      const res = await rpc(
        `${fleet.url}/mcp`,
        { id: 41, method: 'tools/call', params: { name: 'memory___read_graph', arguments: {} } },
        headers,
      );
      assert.equal(res.status, 401);
      assert.deepEqual((res.body['error'] as { code: number }).code, -32001);
      assert.equal(res.body['id'], 41);
      const stream = await fetch(`${fleet.url}/mcp`, {
        headers: { accept: 'text/event-stream', ...headers },
      });
      assert.equal(stream.status, 401);
      assert.equal(stream.headers.get('www-authenticate'), 'Bearer');
      await stream.body?.cancel();
    }
    // The MCP SDK client is refused at its initialize, with the status.
    const stranger = new Client({ name: 'stranger', version: '1' });
    await assert.rejects(
      stranger.connect(
        new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`), {
          requestInit: { headers: { Authorization: 'Bearer not-a-known-token' } },
        }),
      ),
      (err: Error & { data?: { status?: number } }) => {
        assert.equal(err.data?.status, 401, String(err));
        assert.match(err.message, /not one of --principals/);
        return true;
      },
    );
    assert.deepEqual(
      fleet.status().rateLimits?.map((l) => [l.id, l.admitted, l.throttled]),
      before,
    );
  });

  test("a tool's own entry wins over its target's * entry; the target's other tools are unaffected", async () => {
    const carol = await clientFor(TOKENS.carol);
    for (let i = 0; i < 2; i++) {
      const r = await carol.callTool({ name: 'memory___read_graph', arguments: {} });
      assert.match(text(r), /entities/);
    }
    const refused = await callTool(TOKENS.carol, 'memory___read_graph');
    assert.equal(refused.status, 429);
    assert.deepEqual((refused.body['error'] as { data: unknown }).data, {
      limitKey: 'per-tool/targetName=memory/toolName=memory___read_graph',
      metric: 'requests',
      retryAfter: 60,
    });
    const other = await search(carol);
    assert.notEqual(other.isError, true, text(other));
    await carol.close();
  });

  test('the window rolls over: a minute later the refused caller is admitted again', async () => {
    const refused = await callTool(TOKENS.alice, 'memory___search_nodes', { query: 'x' });
    assert.equal(refused.status, 429);
    await clock.advance(45_000);
    const later = await callTool(TOKENS.alice, 'memory___search_nodes', { query: 'x' });
    assert.equal((later.body['error'] as { data: { retryAfter: number } }).data.retryAfter, 15);
    await clock.advance(15_000);
    const next = await callTool(TOKENS.alice, 'memory___search_nodes', { query: 'x' });
    assert.equal(next.status, 200);
    assert.equal(next.body['error'], undefined, JSON.stringify(next.body));
  });

  test('connections: a second call while one is in flight is refused with 429; once it ends, admitted', async () => {
    const held = gate(dir);
    const first = callTool(TOKENS.dave, 'fault___progress', { gate: held.dir });
    await eventually(() => limitStatus('per-tool').buckets.find((b) => b.connections?.inFlight === 1), {
      what: 'the first call in flight',
      seen: () => JSON.stringify(limitStatus('per-tool')),
    });
    // The same tool: each tool of the target has its own count of the * entry.
    const second = await callTool(TOKENS.dave, 'fault___progress', { gate: held.dir });
    assert.equal(second.status, 429);
    assert.deepEqual((second.body['error'] as { data: unknown }).data, {
      limitKey: 'per-tool/targetName=fault/toolName=fault___progress',
      metric: 'connections',
      retryAfter: 1,
    });
    const otherTool = await callTool(TOKENS.dave, 'fault___echo', { text: 'other' });
    assert.equal(otherTool.status, 200);
    held.pass('log');
    const done = await first;
    assert.equal(done.status, 200);
    assert.match(JSON.stringify(done.body), /progress done/);
    const third = await callTool(TOKENS.dave, 'fault___progress');
    assert.equal(third.status, 200);
    assert.match(JSON.stringify(third.body), /progress done/);
  });

  test('/status shows each limit and the counts in use', async () => {
    const res = await fetch(`${fleet.url}/status`);
    assert.equal(res.status, 200);
    const status = (await res.json()) as FleetStatus;
    assert.deepEqual(
      status.rateLimits?.map((l) => [l.id, l.dimensionKeys, l.entries]),
      [
        ['per-user', ['$.context.jwt.sub'], 1],
        ['per-tool', ['targetName', 'toolName'], 3],
      ],
    );
    const tool = status.rateLimits?.find((l) => l.id === 'per-tool');
    assert.ok(tool !== undefined && tool.throttled >= 2, JSON.stringify(tool));
    assert.equal(status.rateLimits?.[0]?.description, "Each caller's requests");
  });

  test(
    'the status page shows each limit, its counts and what is in use now',
    { skip: CHROMIUM === undefined ? 'Chromium is not installed (Debian package chromium)' : false },
    async () => {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu'],
      });
      try {
        const page = await browser.newPage();
        await page.goto(`${fleet.url}/`);
        await page.waitForSelector('tr[data-limit="per-tool"]');
        assert.equal(await page.locator('#limits').isVisible(), true);
        const cells = await page.locator('tr[data-limit="per-user"] td').allTextContents();
        assert.equal(cells[0], 'per-user');
        assert.equal(cells[1], '$.context.jwt.sub');
        assert.equal(Number(cells[3]), limitStatus('per-user').throttled);
        assert.match(cells[4] ?? '', /per-user\/\$\.context\.jwt\.sub=\w+ \d+ \/ 5 per minute/);
      } finally {
        await browser.close();
      }
    },
  );
});
