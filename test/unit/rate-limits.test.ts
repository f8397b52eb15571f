import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Principal } from '../../src/config/cedar.js';
import type { RateLimitConfig } from '../../src/config/rate-limits.js';
import {
  BUCKETS_KEPT,
  dimensionValue,
  GatewayRateLimits,
  matchEntry,
  type Admission,
  type RateLimitedRequest,
  type Throttle,
} from '../../src/local/gateway/rate-limits.js';
import { principalsFrom } from '../../src/local/gateway/identity.js';
import { ManualClock } from '../support/clock.js';

/*
 * The dev gateway's rate limits on a manual clock: AgentCore's matching (the most specific entry,
 * trailing fallback to '*'), a count per combination of values, every limit must admit, and the
 * windows rolling over.
 */

const SOURCE = { file: 'servers.yaml', line: 1, column: 1 };
const alice: Principal = { kind: 'oauth', id: 'alice', claims: { sub: 'alice', tier: 'free' } };
const bob: Principal = { kind: 'oauth', id: 'bob', claims: { sub: 'bob', tier: 'free' } };

const perUser: RateLimitConfig = {
  id: 'per-user',
  dimensionKeys: ['$.context.jwt.sub'],
  entries: [
    { dimensions: { '$.context.jwt.sub': 'batch' }, requests: { rate: 100, period: 'second' } },
    { dimensions: { '$.context.jwt.sub': '*' }, requests: { rate: 3, period: 'minute' } },
  ],
  source: SOURCE,
};

const perTool: RateLimitConfig = {
  id: 'per-tool',
  dimensionKeys: ['targetName', 'toolName'],
  entries: [
    { dimensions: { targetName: 'git', toolName: 'git___git_log' }, requests: { rate: 1, period: 'second' } },
    { dimensions: { targetName: 'git', toolName: '*' }, requests: { rate: 5, period: 'second' } },
    { dimensions: { targetName: '*', toolName: '*' }, connections: 2 },
  ],
  source: SOURCE,
};

const call = (principal: Principal, toolName = 'git___git_status'): RateLimitedRequest => ({
  method: 'tools/call',
  toolName,
  principal,
});

function admitted(a: Admission): () => void {
  assert.ok('release' in a, `expected admitted, got ${JSON.stringify(a)}`);
  return () => {
    a.release();
  };
}

function refused(a: Admission): Throttle {
  assert.ok('throttled' in a, 'expected refused, got admitted');
  return a.throttled;
}

describe('matching', () => {
  test('the most specific entry wins: exact, then trailing keys replaced by * one at a time', () => {
    assert.equal(matchEntry(perTool, ['git', 'git___git_log']), perTool.entries[0]);
    assert.equal(matchEntry(perTool, ['git', 'git___git_status']), perTool.entries[1]);
    assert.equal(matchEntry(perTool, ['memory', 'memory___read_graph']), perTool.entries[2]);
    const noFallback: RateLimitConfig = { ...perTool, entries: perTool.entries.slice(0, 2) };
    assert.equal(
      matchEntry(noFallback, ['memory', 'memory___read_graph']),
      undefined,
      'no match, no *: skipped',
    );
  });

  test("the request's values: tool and target of a tools/call, the caller's claims and IAM identity", () => {
    const req = call(alice, 'git___git_log');
    assert.equal(dimensionValue('toolName', req), 'git___git_log');
    assert.equal(dimensionValue('targetName', req), 'git');
    assert.equal(dimensionValue('$.context.jwt.sub', req), 'alice');
    assert.equal(dimensionValue('$.context.jwt.team', req), undefined, 'a claim the caller does not have');
    assert.equal(dimensionValue('$.context.iam.principal', req), undefined);
    const role: Principal = { kind: 'iam', arn: 'arn:aws:iam::123456789012:role/R', sourceIdentity: 'dev@x' };
    assert.equal(
      dimensionValue('$.context.iam.principal', { method: 'tools/list', principal: role }),
      role.arn,
    );
    assert.equal(
      dimensionValue('$.context.iam.sourceIdentity', { method: 'tools/list', principal: role }),
      'dev@x',
    );
    assert.equal(dimensionValue('toolName', { method: 'tools/list', principal: role }), undefined);
  });
});

describe('GatewayRateLimits', () => {
  test('two principals: one over its limit is refused with retryAfter, the other is unaffected', () => {
    const clock = new ManualClock();
    const limits = new GatewayRateLimits([perUser], clock);
    for (let i = 0; i < 3; i++) admitted(limits.admit(call(alice)))();
    const t = refused(limits.admit(call(alice)));
    assert.deepEqual(t, {
      limitId: 'per-user',
      limitKey: 'per-user/$.context.jwt.sub=alice',
      metric: 'requests',
      retryAfter: 60,
    });
    for (let i = 0; i < 3; i++) admitted(limits.admit(call(bob)))();
    refused(limits.admit(call(bob)));
    const [status] = limits.status();
    assert.equal(status?.admitted, 6);
    assert.equal(status?.throttled, 2);
    assert.deepEqual(
      status?.buckets.map((b) => [b.limitKey, b.requests?.used, b.throttled]),
      [
        ['per-user/$.context.jwt.sub=alice', 3, 1],
        ['per-user/$.context.jwt.sub=bob', 3, 1],
      ],
    );
  });

  test('memory stays bounded whatever callers send: long values kept as a start and a hash, at most BUCKETS_KEPT counts, none in flight dropped', () => {
    const anyTool: RateLimitConfig = {
      id: 'any-tool',
      dimensionKeys: ['targetName', 'toolName'],
      entries: [
        { dimensions: { targetName: 'git', toolName: '*' }, requests: { rate: 5, period: 'minute' } },
      ],
      source: SOURCE,
    };
    const limits = new GatewayRateLimits([anyTool], new ManualClock());
    // A tool name of 100,000 characters (the tool need not exist): counted under a short key.
    const long = `git___${'x'.repeat(100_000)}`;
    for (let i = 0; i < 5; i++) admitted(limits.admit(call(alice, long)))();
    const t = refused(limits.admit(call(alice, long)));
    assert.ok(t.limitKey.length < 400, `limitKey of ${t.limitKey.length} characters`);
    assert.match(
      t.limitKey,
      /^any-tool\/targetName=git\/toolName=git___x{58}…\(100006 characters, sha256 [0-9a-f]{16}\)$/,
    );
    // Another long name with the same start is another count.
    admitted(limits.admit(call(alice, `${long}y`)))();
    // One request held in flight, then more new values in one window than BUCKETS_KEPT.
    const held = admitted(limits.admit(call(bob, 'git___held')));
    for (let i = 0; i < BUCKETS_KEPT + 2_000; i++) admitted(limits.admit(call(alice, `git___t${i}`)))();
    assert.ok(limits.kept <= BUCKETS_KEPT, `${limits.kept} counts kept`);
    // The request in flight kept its count: a sixth one of its value is still refused… after five.
    for (let i = 0; i < 4; i++) admitted(limits.admit(call(bob, 'git___held')))();
    refused(limits.admit(call(bob, 'git___held')));
    held();
    // The newest values are counted as before.
    const last = `git___t${BUCKETS_KEPT + 1_999}`;
    for (let i = 0; i < 4; i++) admitted(limits.admit(call(alice, last)))();
    refused(limits.admit(call(alice, last)));
  });

  test('a tool-specific entry wins over the * entry of its target', () => {
    const limits = new GatewayRateLimits([perTool], new ManualClock());
    admitted(limits.admit(call(alice, 'git___git_log')))();
    const t = refused(limits.admit(call(alice, 'git___git_log')));
    assert.equal(t.limitKey, 'per-tool/targetName=git/toolName=git___git_log');
    // The target's other tools have their own counts (each its own bucket of the * entry), of 5.
    for (let i = 0; i < 5; i++) admitted(limits.admit(call(alice, 'git___git_status')))();
    refused(limits.admit(call(alice, 'git___git_status')));
    for (let i = 0; i < 5; i++) admitted(limits.admit(call(alice, 'git___git_diff')))();
  });

  test('the window rolls over on the clock: refused until the next window, then admitted again', async () => {
    const clock = new ManualClock();
    const limits = new GatewayRateLimits([perUser], clock);
    await clock.advance(45_000);
    for (let i = 0; i < 3; i++) admitted(limits.admit(call(alice)))();
    assert.equal(refused(limits.admit(call(alice))).retryAfter, 15, 'the minute ends in 15 s');
    await clock.advance(14_999);
    assert.equal(refused(limits.admit(call(alice))).retryAfter, 1);
    await clock.advance(1);
    for (let i = 0; i < 3; i++) admitted(limits.admit(call(alice)))();
    refused(limits.admit(call(alice)));
    assert.equal(limits.status()[0]?.buckets[0]?.requests?.resetsInMs, 60_000);
  });

  test('connections: requests in flight, freed when answered', () => {
    const limits = new GatewayRateLimits([perTool], new ManualClock());
    const first = admitted(limits.admit(call(alice, 'memory___read_graph')));
    const second = admitted(limits.admit(call(bob, 'memory___read_graph')));
    const t = refused(limits.admit(call(alice, 'memory___read_graph')));
    assert.equal(t.metric, 'connections');
    assert.equal(t.limitKey, 'per-tool/targetName=memory/toolName=memory___read_graph');
    assert.deepEqual(limits.status()[0]?.buckets[0]?.connections, { inFlight: 2, limit: 2 });
    first();
    first(); // a second release changes nothing
    const third = admitted(limits.admit(call(alice, 'memory___read_graph')));
    refused(limits.admit(call(alice, 'memory___read_graph')));
    second();
    third();
    assert.deepEqual(limits.status()[0]?.buckets, [], 'nothing in flight: no count in use');
  });

  test('every limit must admit; the one with more keys answers first; a refused request counts against none', () => {
    const limits = new GatewayRateLimits([perUser, perTool], new ManualClock());
    admitted(limits.admit(call(alice, 'git___git_log')))();
    // per-tool refuses (1/second for git_log): per-user's count of alice stays at 1.
    assert.equal(refused(limits.admit(call(alice, 'git___git_log'))).limitId, 'per-tool');
    const user = limits.status().find((s) => s.id === 'per-user');
    assert.equal(user?.buckets[0]?.requests?.used, 1);
    admitted(limits.admit(call(alice, 'git___git_status')))();
    admitted(limits.admit(call(alice, 'git___git_status')))();
    assert.equal(refused(limits.admit(call(alice, 'git___git_status'))).limitId, 'per-user');
  });

  test('a limit applies only to requests that have a value for each of its keys', () => {
    const limits = new GatewayRateLimits([perTool, perUser], new ManualClock());
    // tools/list has no tool: per-tool does not count it; per-user does.
    for (let i = 0; i < 3; i++) admitted(limits.admit({ method: 'tools/list', principal: alice }))();
    refused(limits.admit({ method: 'tools/list', principal: alice }));
    // A caller without the claim is not counted by per-user.
    const anonymous: Principal = { kind: 'iam', arn: 'arn:aws:iam::123456789012:role/R' };
    for (let i = 0; i < 10; i++) admitted(limits.admit({ method: 'tools/list', principal: anonymous }))();
    assert.equal(limits.status().find((s) => s.id === 'per-tool')?.admitted, 0);
  });

  test('rate 0 blocks every request; a rate below 1 is one request per longer window', async () => {
    const clock = new ManualClock();
    const blocked: RateLimitConfig = {
      id: 'blocked',
      dimensionKeys: ['$.context.jwt.sub'],
      entries: [
        { dimensions: { '$.context.jwt.sub': 'eve' }, requests: { rate: 0, period: 'second' } },
        { dimensions: { '$.context.jwt.sub': '*' }, requests: { rate: 0.5, period: 'second' } },
      ],
      source: SOURCE,
    };
    const limits = new GatewayRateLimits([blocked], clock);
    const eve: Principal = { kind: 'oauth', id: 'eve', claims: { sub: 'eve' } };
    assert.equal(refused(limits.admit(call(eve))).retryAfter, 1);
    admitted(limits.admit(call(alice)))();
    refused(limits.admit(call(alice)));
    await clock.advance(2_000);
    admitted(limits.admit(call(alice)))();
    refused(limits.admit(call(eve)));
  });

  test('a reload keeps the counts of unchanged limits and starts changed ones afresh', () => {
    const limits = new GatewayRateLimits([perUser, perTool], new ManualClock());
    for (let i = 0; i < 3; i++) admitted(limits.admit(call(alice, 'git___git_status')))();
    limits.update([{ ...perUser }, { ...perTool, entries: perTool.entries.slice(1) }]);
    refused(limits.admit(call(alice, 'git___git_status')));
    const tool = limits.status().find((s) => s.id === 'per-tool');
    assert.equal(tool?.admitted, 0);
    assert.equal(tool?.throttled, 0, 'per-user refused it, before per-tool counted it');
    limits.update([perTool]);
    admitted(limits.admit(call(alice, 'git___git_status')))();
    assert.deepEqual(
      limits.status().map((s) => s.id),
      ['per-tool'],
    );
  });
});

describe('--principals: the IAM source identity rate limits may key on', () => {
  test('an iam entry may carry sourceIdentity; one that is not text is refused', () => {
    const p = principalsFrom(
      { 'role-token-0123': { iam: 'arn:aws:iam::123456789012:role/R', sourceIdentity: 'dev@example.com' } },
      'p.yaml',
    );
    const role = p.get('role-token-0123');
    assert.deepEqual(role, {
      kind: 'iam',
      arn: 'arn:aws:iam::123456789012:role/R',
      sourceIdentity: 'dev@example.com',
    });
    assert.equal(
      dimensionValue('$.context.iam.sourceIdentity', { method: 'ping', principal: role }),
      'dev@example.com',
    );
    assert.throws(
      () =>
        principalsFrom({ 'role-token-0123': { iam: 'arn:aws:iam::1:role/R', sourceIdentity: 5 } }, 'p.yaml'),
      /p\.yaml: the sourceIdentity of token role… is not text/,
    );
  });
});
