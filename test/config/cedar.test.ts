import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  cedarVersion,
  gatewayArn,
  parseCedar,
  PolicySet,
  textLocator,
  type PolicyDefinition,
  type Principal,
} from '../../src/config/cedar.js';

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
