import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  cedarVersion,
  gatewayArn,
  parseCedar,
  PolicySet,
  textLocator,
  type PolicyDefinition,
  type Principal,
} from '../../src/policy/cedar.js';
import { runCli, tempDir } from '../helpers.js';

function policies(text: string): PolicyDefinition[] {
  const r = parseCedar({ name: 'p', text, file: 'x.cedar', locate: textLocator('x.cedar', text) });
  assert.deepEqual(r.problems, []);
  return r.policies;
}

const reader: Principal = { kind: 'oauth', id: 'bob', claims: { sub: 'bob', role: 'reader', scope: 'a b' } };
const admin: Principal = { kind: 'oauth', id: 'alice', claims: { sub: 'alice', role: 'admin' } };
const role: Principal = { kind: 'iam', arn: 'arn:aws:iam::123456789012:role/ci' };

describe('the Cedar engine with AgentCore names', () => {
  test('it is the real engine, 4.x', () => {
    assert.match(cedarVersion(), /^4\.\d+\.\d+$/);
  });

  test('several statements in one text: named <name>_<n>, each at its line', () => {
    const defs = policies(
      '// a comment\npermit(principal, action, resource);\n\n  forbid(principal, action, resource);\n',
    );
    assert.deepEqual(
      defs.map((d) => [d.id, d.effect, d.at.line, d.at.column]),
      [
        ['p_1', 'permit', 2, 1],
        ['p_2', 'forbid', 4, 3],
      ],
    );
  });

  test('the tools a scope names are read from the engine', () => {
    const [one] = policies(
      'permit(principal, action in [AgentCore::Action::"a___x", AgentCore::Action::"b___y"], resource);',
    );
    assert.deepEqual(one?.actions, ['a___x', 'b___y']);
    const [group] = policies('permit(principal, action in AgentCore::Action::"CallTool", resource);');
    assert.equal(group?.actions, undefined);
    assert.deepEqual(group?.groups, ['CallTool']);
  });

  test('a syntax error: where, and what was expected', () => {
    const text = 'permit(principal, action, resource)\nwhen { context.input.n > };';
    const r = parseCedar({ name: 'p', text, file: 'x.cedar', locate: textLocator('x.cedar', text) });
    assert.equal(r.policies.length, 0);
    assert.equal(r.problems.length, 1);
    assert.deepEqual([r.problems[0]?.line, r.problems[0]?.column], [2, 26]);
    assert.match(r.problems[0]?.message ?? '', /^Cedar: unexpected token `\}`; expected/);
  });

  test('default deny, permit by claim (tags), forbid wins, conditions on the input', () => {
    const set = new PolicySet(
      policies(`
permit(principal is AgentCore::OAuthUser, action == AgentCore::Action::"fs___read", resource is AgentCore::Gateway)
  when { principal.hasTag("role") && principal.getTag("role") == "reader" };
permit(principal is AgentCore::OAuthUser, action in AgentCore::Action::"Mcp", resource)
  when { principal.hasTag("role") && principal.getTag("role") == "admin" };
forbid(principal, action == AgentCore::Action::"fs___read", resource)
  when { context.input has size && context.input.size > 1000 };
permit(principal is AgentCore::IamEntity, action == AgentCore::Action::"fs___list", resource)
  when { principal.id like "arn:aws:iam::123456789012:role/*" };
`),
      gatewayArn('g'),
    );
    assert.equal(set.authorize(reader, 'fs___read', { path: 'a' }).decision, 'allow');
    assert.deepEqual(set.authorize(reader, 'fs___read', { path: 'a' }).policies, ['p_1']);
    const none = set.authorize(reader, 'fs___write', {});
    assert.deepEqual(
      [none.decision, none.policies, none.reason],
      ['deny', [], 'Policy evaluation denied due to no determining policies'],
    );
    assert.equal(set.authorize(admin, 'fs___write', {}).decision, 'allow', 'CallTool is in Mcp');
    const big = set.authorize(admin, 'fs___read', { size: 5000 });
    assert.deepEqual([big.decision, big.policies], ['deny', ['p_3']]);
    assert.equal(set.authorize(admin, 'fs___read', { size: 10 }).decision, 'allow');
    assert.equal(set.authorize(role, 'fs___list', {}).decision, 'allow');
    assert.equal(set.authorize(role, 'fs___read', {}).decision, 'deny');
    // Listing: what some input could allow.
    assert.equal(set.mayList(reader, 'fs___read'), true);
    assert.equal(set.mayList(reader, 'fs___write'), false);
    assert.equal(set.mayList(admin, 'fs___write'), true);
  });

  test('input values become Cedar values: decimals, sets, records; a forbid on a listed tool can hide it', () => {
    const set = new PolicySet(
      policies(`
permit(principal, action, resource) when { context.input.price.lessThan(decimal("9.5")) && context.input.tags.contains("ok") && context.input.who.name == "x" };
forbid(principal, action == AgentCore::Action::"t___never", resource);
`),
      gatewayArn('g'),
    );
    const args = { price: 3.25, tags: ['ok', 'b'], who: { name: 'x', gone: null } };
    assert.equal(set.authorize(reader, 't___a', args).decision, 'allow');
    assert.equal(set.authorize(reader, 't___a', { ...args, price: 12.75 }).decision, 'deny');
    assert.equal(set.mayList(reader, 't___a'), true);
    assert.equal(set.mayList(reader, 't___never'), false, 'an unconditional forbid hides the tool');
  });
});

describe('mcp-fleet policy test', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let config: string;
  before(async () => {
    tmp = await tempDir();
    config = path.join(tmp.dir, 'servers.yaml');
    await writeFile(
      path.join(tmp.dir, 'guard.cedar'),
      'forbid(principal, action, resource)\n  when { context.input has path && context.input.path like "*secret*" };\n',
    );
    await writeFile(
      config,
      `policy:
  mode: enforce
  policies:
    readers: |
      permit(principal is AgentCore::OAuthUser, action == AgentCore::Action::"memory___read_graph", resource)
      when { principal.hasTag("role") && principal.getTag("role") == "reader" };
    guard: { file: guard.cedar }
servers:
  memory:
    command: mcp-server-memory
`,
    );
  });
  after(() => tmp.cleanup());

  test('allow: the decision and the permit that made it, with where it is', async () => {
    const r = await runCli([
      'policy',
      'test',
      'memory___read_graph',
      '-c',
      config,
      '--principal',
      '{"sub": "bob", "role": "reader"}',
      '--expect',
      'allow',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^ALLOW {2}AgentCore::OAuthUser::"bob" → AgentCore::Action::"memory___read_graph"\n/,
    );
    assert.match(
      r.stdout,
      new RegExp(`permit readers {2}${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:7`),
    );
  });

  test('deny by a forbid in a .cedar file, as JSON; --expect fails the command on a mismatch', async () => {
    const r = await runCli([
      'policy',
      'test',
      'memory___read_graph',
      '-c',
      config,
      '--principal',
      '{"sub": "bob", "role": "reader"}',
      '--arguments',
      '{"path": "top-secret.txt"}',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out['decision'], 'deny');
    assert.equal(out['refusedInMode'], true);
    assert.deepEqual(out['policies'], [
      { id: 'guard', effect: 'forbid', at: `${path.join(tmp.dir, 'guard.cedar')}:1:1` },
    ]);
    assert.equal(out['reason'], 'Policy evaluation denied by guard');
    const mismatch = await runCli([
      'policy',
      'test',
      'memory___read_graph',
      '-c',
      config,
      '--expect',
      'allow',
    ]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stdout, /^DENY {2}AgentCore::OAuthUser::"dev"/);
    assert.match(mismatch.stderr, /expected allow, got deny/);
  });

  test('usage errors exit 2', async () => {
    const bad = await runCli(['policy', 'test', 'memory___read_graph', '-c', config, '--principal', '{nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--principal: not JSON/);
    const noSub = await runCli([
      'policy',
      'test',
      'memory___read_graph',
      '-c',
      config,
      '--principal',
      '{"role": "x"}',
    ]);
    assert.equal(noSub.code, 2);
    assert.match(noSub.stderr, /no "sub" claim/);
  });
});
