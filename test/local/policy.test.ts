import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { loadConfigOrThrow, type FleetConfig } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { DENIED_PREFIX, type DecisionRecord } from '../../src/local/gateway/policy.js';
import { principalsFrom } from '../../src/local/gateway/identity.js';
import { assertNoneLeft, BIN, marker, text } from '../runtime/support.js';
import { memoryServer, rpc } from './support.js';

/*
 * AgentCore Policy in the dev gateway, through its real /mcp endpoint with the MCP SDK's client:
 * two principals (static dev tokens with their claims), Cedar policies from servers.yaml.
 */

const mark = marker();
let dir: string;
let config: FleetConfig;
let fleet: RunningFleet;
const decisions: DecisionRecord[] = [];

const TOKENS = {
  admin: 'admin-token-0123456789',
  reader: 'reader-token-0123456789',
  nobody: 'nobody-token-0123456789',
};

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-policy-'));
  await writeFile(path.join(dir, 'notes.txt'), 'plain notes\n');
  await writeFile(path.join(dir, 'secret-plan.txt'), 'the secret plan\n');
  // One policy in a .cedar file beside the config, the others inline.
  await writeFile(
    path.join(dir, 'guard.cedar'),
    `// Nobody reads a file whose path says "secret", whatever else allows it.
forbid(
  principal,
  action == AgentCore::Action::"filesystem___read_text_file",
  resource
) when { context.input has path && context.input.path like "*secret*" };
`,
  );
  await writeFile(
    path.join(dir, 'servers.yaml'),
    `gateway: { name: policy-gateway }
policy:
  mode: enforce
  policies:
    readers_read: |
      permit(
        principal is AgentCore::OAuthUser,
        action in [
          AgentCore::Action::"memory___read_graph",
          AgentCore::Action::"memory___search_nodes",
          AgentCore::Action::"filesystem___read_text_file",
          AgentCore::Action::"filesystem___list_directory"
        ],
        resource is AgentCore::Gateway
      ) when { principal.hasTag("role") && principal.getTag("role") == "reader" };
    admins_all: |
      permit(principal is AgentCore::OAuthUser, action in AgentCore::Action::"CallTool", resource)
      when { principal.hasTag("role") && principal.getTag("role") == "admin" };
    guard: { file: guard.cedar }
defaults:
  env:
    MCP_FLEET_TEST_MARKER: "${mark.value}"
servers:
${memoryServer(dir)}
  filesystem:
    command: ${BIN('mcp-server-filesystem')}
    args: [${JSON.stringify(dir)}]
`,
  );
  config = await loadConfigOrThrow(path.join(dir, 'servers.yaml'));
  fleet = await startFleet(config, {
    port: 0,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    buildDir: false,
    principals: principalsFrom(
      {
        [TOKENS.admin]: { sub: 'alice', role: 'admin' },
        [TOKENS.reader]: { sub: 'bob', role: 'reader' },
        [TOKENS.nobody]: { sub: 'eve' },
      },
      'test principals',
    ),
    onDecision: (r) => decisions.push(r),
  });
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(mark.value);
  await rm(dir, { recursive: true, force: true });
});

async function clientFor(token: string): Promise<Client> {
  const client = new Client({ name: 'policy-test', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

function callsOf(id: string): number {
  const fn = [...fleet.lambda.functions.values()].find((f) => f.server.id === id);
  assert.ok(fn);
  return fn.stats.calls;
}

describe('policy in the dev gateway (enforce)', () => {
  test('config: the policies are parsed, the file one named after its key', () => {
    assert.deepEqual(
      config.policy?.policies.map((p) => p.id),
      ['readers_read', 'admins_all', 'guard'],
    );
    assert.equal(config.policy?.mode, 'enforce');
  });

  test('tools/list: two principals see different tool sets; one with no permit sees none', async () => {
    const admin = await clientFor(TOKENS.admin);
    const reader = await clientFor(TOKENS.reader);
    const nobody = await clientFor(TOKENS.nobody);
    const all = (await admin.listTools()).tools.map((t) => t.name).sort();
    const read = (await reader.listTools()).tools.map((t) => t.name).sort();
    const none = (await nobody.listTools()).tools.map((t) => t.name);
    assert.ok(all.length > 15, `admin sees ${all.length} tools`);
    assert.ok(all.includes('memory___create_entities'));
    assert.ok(all.includes('filesystem___write_file'));
    assert.deepEqual(read, [
      'filesystem___list_directory',
      'filesystem___read_text_file',
      'memory___read_graph',
      'memory___search_nodes',
    ]);
    assert.deepEqual(none, []);
    await Promise.all([admin.close(), reader.close(), nobody.close()]);
  });

  test('allow: a permitted call reaches its function and answers', async () => {
    const reader = await clientFor(TOKENS.reader);
    const before = callsOf('memory');
    const r = await reader.callTool({ name: 'memory___read_graph', arguments: {} });
    assert.notEqual(r.isError, true, text(r));
    assert.match(text(r), /entities/);
    assert.equal(callsOf('memory'), before + 1);
    const d = decisions.at(-1);
    assert.equal(d?.decision, 'allow');
    assert.deepEqual(d.policies, ['readers_read']);
    assert.equal(d.principal, 'AgentCore::OAuthUser::"bob"');
    await reader.close();
  });

  test("deny (no permit): refused with AgentCore's error, the function is not called", async () => {
    const reader = await clientFor(TOKENS.reader);
    const before = callsOf('memory');
    const r = await reader.callTool({
      name: 'memory___create_entities',
      arguments: { entities: [{ name: 'x', entityType: 't', observations: [] }] },
    });
    assert.equal(r.isError, true);
    assert.equal(text(r), `${DENIED_PREFIX} [Policy evaluation denied due to no determining policies]`);
    assert.equal(callsOf('memory'), before, 'a refused call never reaches the function');
    const d = decisions.at(-1);
    assert.equal(d?.decision, 'deny');
    assert.equal(d.refused, true);
    assert.deepEqual(d.policies, []);
    await reader.close();
  });

  test('a condition on the input, and forbid wins over a permit', async () => {
    const admin = await clientFor(TOKENS.admin);
    const ok = await admin.callTool({
      name: 'filesystem___read_text_file',
      arguments: { path: path.join(dir, 'notes.txt') },
    });
    assert.notEqual(ok.isError, true, text(ok));
    assert.match(text(ok), /plain notes/);
    assert.deepEqual(decisions.at(-1)?.policies, ['admins_all']);

    const before = callsOf('filesystem');
    const secret = await admin.callTool({
      name: 'filesystem___read_text_file',
      arguments: { path: path.join(dir, 'secret-plan.txt') },
    });
    assert.equal(secret.isError, true);
    assert.equal(text(secret), `${DENIED_PREFIX} [Policy evaluation denied by guard]`);
    assert.doesNotMatch(text(secret), /the secret plan/);
    assert.equal(callsOf('filesystem'), before);
    // The forbid decided, though admins_all (and readers_read for bob) permit the action.
    assert.deepEqual(decisions.at(-1)?.policies, ['guard']);

    const reader = await clientFor(TOKENS.reader);
    const alsoSecret = await reader.callTool({
      name: 'filesystem___read_text_file',
      arguments: { path: path.join(dir, 'secret-plan.txt') },
    });
    assert.equal(alsoSecret.isError, true);
    await Promise.all([admin.close(), reader.close()]);
  });

  test('no known principal: 401 and a JSON-RPC error, nothing listed or called', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer not-a-known-token' }];
    for (const headers of attempts) {
      const list = await rpc(`${fleet.url}/mcp`, { id: 1, method: 'tools/list' }, headers);
      assert.equal(list.status, 401);
      assert.equal((list.body['error'] as { code: number }).code, -32001);
      const call = await rpc(
        `${fleet.url}/mcp`,
        { id: 2, method: 'tools/call', params: { name: 'memory___read_graph', arguments: {} } },
        headers,
      );
      assert.equal(call.status, 401);
      assert.equal((call.body['error'] as { code: number }).code, -32001);
    }
  });

  test('/status shows the mode, the policies and the decisions', async () => {
    const res = await fetch(`${fleet.url}/status`);
    const status = (await res.json()) as {
      policy: {
        mode: string;
        policies: string[];
        decisions: { allow: number; deny: number; refused: number };
        recent: DecisionRecord[];
      };
    };
    assert.equal(status.policy.mode, 'enforce');
    assert.deepEqual(status.policy.policies, ['readers_read', 'admins_all', 'guard']);
    assert.ok(status.policy.decisions.allow >= 2);
    assert.ok(status.policy.decisions.refused >= 2);
    assert.equal(status.policy.decisions.deny, status.policy.decisions.refused);
    assert.ok(
      status.policy.recent.some((r) => r.tool === 'filesystem___read_text_file' && r.decision === 'deny'),
    );
  });
});

describe('policy in the dev gateway (log-only)', () => {
  before(() => {
    const policy = config.policy;
    assert.ok(policy && fleet.gateway.access);
    fleet.gateway.access.update({ ...policy, mode: 'log-only' });
  });

  test('a denied call is logged and goes through; tools/list is not filtered', async () => {
    const reader = await clientFor(TOKENS.reader);
    const listed = (await reader.listTools()).tools.map((t) => t.name);
    assert.ok(listed.includes('memory___create_entities'), 'log-only does not hide tools');
    const before = callsOf('memory');
    const r = await reader.callTool({
      name: 'memory___create_entities',
      arguments: { entities: [{ name: 'logged', entityType: 't', observations: [] }] },
    });
    assert.notEqual(r.isError, true, text(r));
    assert.match(text(r), /logged/);
    assert.equal(callsOf('memory'), before + 1);
    const d = decisions.at(-1);
    assert.equal(d?.decision, 'deny');
    assert.equal(d.refused, false);
    assert.equal(d.mode, 'log-only');
    assert.equal(d.reason, 'Policy evaluation denied due to no determining policies');
    await reader.close();
  });
});
