import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { nagViolations, synthFleet, type SynthResult } from '../../src/infra/index.js';
import {
  artifactDirs,
  assertCfnLintClean,
  builtServers,
  cfnLint,
  FLEET_YAML,
  fleetConfig,
} from './support.js';

/*
 * `gateway.rateLimits` deployed: one AWS::BedrockAgentCore::GatewayRateLimit per limit, on the
 * fleet's gateway, with AgentCore's property shapes (a rate is a one-item list of { Period, Rate }).
 */
type Json = Record<string, unknown>;

const YAML = FLEET_YAML.replace(
  '  instructions: Tools of the mcp-fleet test fleet\n',
  `  instructions: Tools of the mcp-fleet test fleet
  rateLimits:
    per-user:
      description: Each caller's calls
      dimensionKeys: [$.context.jwt.sub]
      entries:
        - dimensions: { $.context.jwt.sub: batch-job }
          requests: 600/minute
          connections: 16
        - dimensions: { $.context.jwt.sub: "*" }
          requests: 10/second
    per-tool:
      dimensionKeys: [targetName, toolName]
      entries:
        - dimensions: { targetName: aws-diagram, toolName: aws-diagram___generate_diagram }
          requests: { rate: 2, period: second }
        - dimensions: { targetName: aws-diagram, toolName: "*" }
          requests: 50/second
        - dimensions: { targetName: "*", toolName: "*" }
          connections: 8
`,
);

let dirs: ReturnType<typeof artifactDirs>;
let result: SynthResult;
let template: Template;

before(() => {
  dirs = artifactDirs();
  const fleet = fleetConfig(YAML);
  assert.equal(fleet.gateway.rateLimits?.length, 2);
  result = synthFleet({ fleet, servers: builtServers(fleet, dirs), outdir: path.join(dirs.root, 'cdk.out') });
  template = Template.fromJSON(result.template);
});
after(() => {
  rmSync(dirs.root, { recursive: true, force: true });
});

test('each limit is a GatewayRateLimit on the gateway, with its keys and entries as written', () => {
  template.resourceCountIs('AWS::BedrockAgentCore::GatewayRateLimit', 2);
  const gateways = template.findResources('AWS::BedrockAgentCore::Gateway');
  const gatewayId = Object.keys(gateways)[0];
  assert.ok(gatewayId, 'the stack has a gateway');
  template.hasResourceProperties('AWS::BedrockAgentCore::GatewayRateLimit', {
    RateLimitId: 'per-user',
    Description: "Each caller's calls",
    GatewayIdentifier: { 'Fn::GetAtt': [gatewayId, 'GatewayIdentifier'] },
    DimensionKeys: ['$.context.jwt.sub'],
    Entries: [
      {
        Dimensions: { '$.context.jwt.sub': 'batch-job' },
        Requests: [{ Period: 'minute', Rate: 600 }],
        Connections: [{ Period: 'second', Rate: 16 }],
      },
      { Dimensions: { '$.context.jwt.sub': '*' }, Requests: [{ Period: 'second', Rate: 10 }] },
    ],
  });
  template.hasResourceProperties('AWS::BedrockAgentCore::GatewayRateLimit', {
    RateLimitId: 'per-tool',
    Description: Match.absent(),
    DimensionKeys: ['targetName', 'toolName'],
    Entries: [
      {
        Dimensions: { targetName: 'aws-diagram', toolName: 'aws-diagram___generate_diagram' },
        Requests: [{ Period: 'second', Rate: 2 }],
        Connections: Match.absent(),
      },
      {
        Dimensions: { targetName: 'aws-diagram', toolName: '*' },
        Requests: [{ Period: 'second', Rate: 50 }],
      },
      {
        Dimensions: { targetName: '*', toolName: '*' },
        Requests: Match.absent(),
        Connections: [{ Period: 'second', Rate: 8 }],
      },
    ],
  });
});

test('a fleet without rateLimits has no GatewayRateLimit', () => {
  const fleet = fleetConfig(FLEET_YAML);
  const plain = synthFleet({
    fleet,
    servers: builtServers(fleet, dirs),
    outdir: path.join(dirs.root, 'plain.out'),
    stackId: 'Plain',
  });
  Template.fromJSON(plain.template).resourceCountIs('AWS::BedrockAgentCore::GatewayRateLimit', 0);
});

test('cdk-nag finds nothing, and cfn-lint no error, in the template with rate limits', () => {
  assert.deepEqual(nagViolations(result.stack), []);
  assertCfnLintClean(result.templateFile, path.join(dirs.root, 'rate-limits.template.json'));
  // The linter knows the type: a wrong property in it is an error it reports.
  const broken = JSON.parse(readFileSync(result.templateFile, 'utf8')) as { Resources: Record<string, Json> };
  const limit = Object.values(broken.Resources).find(
    (r) => r['Type'] === 'AWS::BedrockAgentCore::GatewayRateLimit',
  );
  assert.ok(limit);
  ((limit['Properties'] as Json)['Entries'] as Json[])[0] = {
    Dimensions: { '$.context.jwt.sub': '*' },
    Requests: [{ Period: 'hour', Rate: 1 }],
  };
  const bad = path.join(dirs.root, 'broken.template.json');
  writeFileSync(bad, JSON.stringify(broken));
  const again = cfnLint(bad, path.join(dirs.root, 'broken.copy.json'));
  assert.ok(
    again.matches.some((m) => m.Level === 'Error' && m.Message.includes('hour')),
    `cfn-lint should refuse period "hour": ${again.stdout}`,
  );
});
