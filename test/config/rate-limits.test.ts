import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { configJsonSchema, formatProblem, parseConfig } from '../../src/config/index.js';
import { cfnRateLimit } from '../../src/config/rate-limits.js';

/*
 * `gateway.rateLimits`: AgentCore's rules checked where they are written (file:line:col), the
 * shorthand rates read, and warnings for entries that can never apply.
 */

const SERVERS = `servers:
  git:
    command: mcp-server-git
  memory:
    command: mcp-server-memory
`;

function problems(yaml: string): string[] {
  return parseConfig(yaml).problems.map(formatProblem);
}

test('a valid set of limits resolves, in file order, with its rates read', () => {
  const r = parseConfig(`gateway:
  rateLimits:
    per-user:
      description: Each user's calls
      dimensionKeys: [$.context.jwt.sub]
      entries:
        - dimensions: { $.context.jwt.sub: alice }
          requests: 100/minute
        - dimensions: { $.context.jwt.sub: "*" }
          requests: 2.5 per second
          connections: 4
    git.tools:
      dimensionKeys: [targetName, toolName]
      entries:
        - dimensions: { targetName: git, toolName: git___git_log }
          requests: { rate: 0, period: second }
        - dimensions: { targetName: git, toolName: "*" }
          connections: 1
${SERVERS}`);
  assert.deepEqual(r.problems.map(formatProblem), []);
  const limits = r.config?.gateway.rateLimits;
  assert.deepEqual(
    limits?.map((l) => l.id),
    ['per-user', 'git.tools'],
  );
  assert.deepEqual(limits?.[0]?.entries, [
    { dimensions: { '$.context.jwt.sub': 'alice' }, requests: { rate: 100, period: 'minute' } },
    { dimensions: { '$.context.jwt.sub': '*' }, requests: { rate: 2.5, period: 'second' }, connections: 4 },
  ]);
  assert.deepEqual(limits?.[1]?.source, { file: 'servers.yaml', line: 12, column: 5 });
  const second = limits?.[1];
  assert.ok(second);
  assert.deepEqual(cfnRateLimit(second), {
    rateLimitId: 'git.tools',
    dimensionKeys: ['targetName', 'toolName'],
    entries: [
      {
        dimensions: { targetName: 'git', toolName: 'git___git_log' },
        requests: [{ period: 'second', rate: 0 }],
      },
      { dimensions: { targetName: 'git', toolName: '*' }, connections: [{ period: 'second', rate: 1 }] },
    ],
  });
});

test("AgentCore's rules, each reported where it is broken", () => {
  assert.deepEqual(
    problems(`gateway:
  rateLimits:
    limits:
      dimensionKeys: [targetName, toolName]
      entries:
        - dimensions: { targetName: git }
          requests: 1/second
        - dimensions: { targetName: git, toolName: x, team: a }
          requests: 1/minute
        - dimensions: { targetName: "*", toolName: git___git_log }
          requests: 1/minute
        - dimensions: { targetName: memory, toolName: "*" }
          requests: 1/minute
        - dimensions: { targetName: memory, toolName: "*" }
    keys:
      dimensionKeys: [qualifiedModelId, $.context.jwt.a, targetName, targetName]
      entries: []
${SERVERS}`),
    [
      "servers.yaml:6:23 gateway.rateLimits.limits.entries[0].dimensions: no value for toolName: an entry gives every dimension key a value (or '*')",
      "servers.yaml:8:61 gateway.rateLimits.limits.entries[1].dimensions.team: team is not one of this limit's dimensionKeys (targetName, toolName)",
      "servers.yaml:10:52 gateway.rateLimits.limits.entries[2].dimensions.toolName: '*' is allowed in trailing positions only: targetName is '*', so toolName, after it, must be '*' too",
      'servers.yaml:14:11 gateway.rateLimits.limits.entries[4]: the entry sets no rate; give requests (e.g. 10/second), connections, or both',
      'servers.yaml:14:23 gateway.rateLimits.limits.entries[4].dimensions: the same dimension values as entries[3]; give each combination one entry',
      'servers.yaml:16:23 gateway.rateLimits.keys.dimensionKeys[0]: qualifiedModelId applies to inference targets only, and a fleet of MCP servers has none; use targetName, toolName, $.context.jwt.<claim>, $.context.iam.principal or $.context.iam.sourceIdentity',
      `servers.yaml:16:41 gateway.rateLimits.keys.dimensionKeys[1]: "$.context.jwt.a" is not a dimension key; use targetName, toolName, $.context.jwt.<claim> (a claim name of 2–63 letters, digits, '_', '-', '.'), $.context.iam.principal or $.context.iam.sourceIdentity`,
      'servers.yaml:17:16 gateway.rateLimits.keys.entries: the list is empty; give at least one entry',
    ],
  );
});

test('rates, ids and the count of limits are checked against AgentCore’s ranges', () => {
  assert.deepEqual(
    problems(`gateway:
  rateLimits:
    x:
      dimensionKeys: [toolName]
      entries: [{ dimensions: { toolName: "*" }, requests: 1/second }]
    rates:
      dimensionKeys: [toolName]
      entries:
        - { dimensions: { toolName: a }, requests: 5/hour }
        - { dimensions: { toolName: b }, requests: { rate: 3, period: hour } }
        - { dimensions: { toolName: c }, requests: 10000001/second }
        - { dimensions: { toolName: d }, connections: 1.5 }
        - { dimensions: { toolName: e }, tokens: 100 }
${SERVERS}`),
    [
      'servers.yaml:9:52 gateway.rateLimits.rates.entries[0].requests: "5/hour" is not a request rate; write N/second or N/minute (N from 0 to 10000000), or { rate: N, period: second | minute }',
      'servers.yaml:10:52 gateway.rateLimits.rates.entries[1].requests: "hour" (text) is not a period; AgentCore counts requests per second or per minute',
      "servers.yaml:11:52 gateway.rateLimits.rates.entries[2].requests: 10000001 is above AgentCore's maximum rate of 10000000",
      'servers.yaml:12:55 gateway.rateLimits.rates.entries[3].connections: expected a whole number of concurrent requests, got 1.5 (a number)',
      'servers.yaml:13:50 gateway.rateLimits.rates.entries[4].tokens: tokens limits apply to inference targets only, and a fleet of MCP servers has none; limit requests or connections',
      `servers.yaml:3:5 gateway.rateLimits.x: "x" is not a rate limit id; use 2–64 letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
    ].sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1])),
  );
  const many = Array.from(
    { length: 51 },
    (_, i) =>
      `    l${i}: { dimensionKeys: [toolName], entries: [{ dimensions: { toolName: "*" }, requests: 1/second }] }`,
  ).join('\n');
  assert.deepEqual(problems(`gateway:\n  rateLimits:\n${many}\n${SERVERS}`), [
    "servers.yaml:3:5 gateway.rateLimits: 51 rate limits, over AgentCore's 50 per gateway; merge some (a limit may have up to 1000 entries)",
  ]);
});

test('warnings: entries for targets or tools the fleet does not have, keys the auth never gives', () => {
  assert.deepEqual(
    problems(`gateway:
  auth: iam
  rateLimits:
    tools:
      dimensionKeys: [targetName, toolName]
      entries:
        - { dimensions: { targetName: gti, toolName: "*" }, requests: 1/second }
        - { dimensions: { targetName: git, toolName: git_log }, requests: 1/second }
    users:
      dimensionKeys: [$.context.jwt.sub]
      entries: [{ dimensions: { $.context.jwt.sub: "*" }, requests: 1/second }]
    roles:
      dimensionKeys: [$.context.iam.principal]
      entries: [{ dimensions: { $.context.iam.principal: "*" }, requests: 1/second }]
${SERVERS}`),
    [
      'servers.yaml:7:39 warning: gateway.rateLimits.tools.entries[0].dimensions.targetName: no target of this fleet is named "gti", so this entry never applies',
      `servers.yaml:8:54 warning: gateway.rateLimits.tools.entries[1].dimensions.toolName: "git_log" is not a tool of this fleet's targets: toolName is the gateway's name, <target>___<tool>`,
      "servers.yaml:10:23 warning: gateway.rateLimits.users.dimensionKeys[0]: $.context.jwt.sub is a claim of the caller's JWT, and the gateway's auth is iam: no request has it, so the limit never applies",
    ],
  );
});

test('the JSON Schema editors use knows rateLimits', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(configJsonSchema());
  const ok = {
    gateway: {
      rateLimits: {
        'per-user': {
          dimensionKeys: ['$.context.jwt.sub'],
          entries: [{ dimensions: { '$.context.jwt.sub': '*' }, requests: '10/second', connections: 2 }],
        },
      },
    },
    servers: { git: { command: 'mcp-server-git' } },
  };
  assert.equal(validate(ok), true, JSON.stringify(validate.errors));
  const bad = structuredClone(ok) as Record<string, unknown>;
  (bad['gateway'] as Record<string, unknown>)['rateLimits'] = { 'per-user': { entries: [] } };
  assert.equal(validate(bad), false);
});
