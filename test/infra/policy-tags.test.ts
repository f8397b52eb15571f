import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { synthFleet, type SynthResult } from '../../src/infra/index.js';
import { policyEngineName } from '../../src/infra/policy.js';
import { pythonTool } from '../helpers.js';
import { artifactDirs, builtServers, FLEET_YAML, fleetConfig } from './support.js';

type Json = Record<string, unknown>;

/** The test fleet with a policy (one file-less inline statement per role) and tags at three levels. */
const YAML = FLEET_YAML.replace(
  'servers:\n',
  `policy:
  mode: enforce
  policies:
    readers: |
      permit(principal is AgentCore::OAuthUser, action == AgentCore::Action::"git___git_status", resource is AgentCore::Gateway)
      when { principal.hasTag("role") && principal.getTag("role") == "reader" };
    admins: |
      permit(principal is AgentCore::OAuthUser, action, resource is AgentCore::Gateway)
      when { principal.hasTag("role") && principal.getTag("role") == "admin" };
tags:
  team: platform
  cost-center: "100"
defaults:
  tags: { env: prod }
servers:
`,
).replace('    timeout: 60\n', '    timeout: 60\n    tags: { cost-center: "200" }\n');

let dirs: ReturnType<typeof artifactDirs>;
let result: SynthResult;
let template: Template;
let resources: Record<string, { Type: string; Properties?: Json; DependsOn?: string[] }>;

before(() => {
  dirs = artifactDirs();
  const fleet = fleetConfig(YAML);
  result = synthFleet({ fleet, servers: builtServers(fleet, dirs), outdir: path.join(dirs.root, 'out') });
  template = Template.fromJSON(result.template);
  resources = result.template['Resources'] as typeof resources;
});
after(() => {
  rmSync(dirs.root, { recursive: true, force: true });
});

function ids(type: string): string[] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id]) => id);
}

/** A resource's tags as a map (CloudFormation lists or maps). */
function tagsOf(id: string): Record<string, string> {
  const props = resources[id]?.Properties ?? {};
  const raw = props['Tags'] ?? props['UserPoolTags'];
  if (Array.isArray(raw))
    return Object.fromEntries((raw as { Key: string; Value: string }[]).map((t) => [t.Key, t.Value]));
  return (raw ?? {}) as Record<string, string>;
}

describe('deployed policy: engine, policies, gateway attachment', () => {
  test('a policy engine named after the gateway', () => {
    template.resourceCountIs('AWS::BedrockAgentCore::PolicyEngine', 1);
    template.hasResourceProperties('AWS::BedrockAgentCore::PolicyEngine', {
      Name: 'mcp_fleet_test_policies',
    });
    assert.equal(policyEngineName('1st-gw'), 'g_1st_gw_policies');
    assert.equal(policyEngineName('g'.repeat(48)).length, 48);
  });

  test("one policy per statement, with the config's name and Cedar text, validated strictly", () => {
    const policies = ids('AWS::BedrockAgentCore::Policy').map((id) => resources[id]?.Properties ?? {});
    assert.deepEqual(policies.map((p) => p['Name']).sort(), ['admins', 'readers']);
    const readers = policies.find((p) => p['Name'] === 'readers');
    assert.match(
      JSON.stringify(readers?.['Definition']),
      /permit\(principal is AgentCore::OAuthUser, action == AgentCore::Action::\\"git___git_status\\"/,
    );
    for (const p of policies) {
      assert.equal(p['ValidationMode'], 'FAIL_ON_ANY_FINDINGS');
      assert.deepEqual(p['PolicyEngineId'], {
        'Fn::GetAtt': [ids('AWS::BedrockAgentCore::PolicyEngine')[0], 'PolicyEngineId'],
      });
    }
  });

  test('policies are created after every gateway target (AgentCore checks them against its tools)', () => {
    const targets = ids('AWS::BedrockAgentCore::GatewayTarget');
    assert.equal(targets.length, 2);
    for (const id of ids('AWS::BedrockAgentCore::Policy')) {
      for (const t of targets) assert.ok(resources[id]?.DependsOn?.includes(t), `${id} depends on ${t}`);
    }
  });

  test('the gateway consults the engine in the configured mode', () => {
    const engine = ids('AWS::BedrockAgentCore::PolicyEngine')[0];
    template.hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
      PolicyEngineConfiguration: { Arn: { 'Fn::GetAtt': [engine, 'PolicyEngineArn'] }, Mode: 'ENFORCE' },
    });
    const logOnly = fleetConfig(YAML.replace('mode: enforce', 'mode: log-only'));
    const r = synthFleet({
      fleet: logOnly,
      servers: builtServers(logOnly, dirs),
      outdir: path.join(dirs.root, 'out-log-only'),
      stackId: 'LogOnly',
      cloudFormationValidation: false,
    });
    Template.fromJSON(r.template).hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
      PolicyEngineConfiguration: { Mode: 'LOG_ONLY' },
    });
  });

  test("least privilege: the gateway's role may evaluate this engine only", () => {
    const engine = ids('AWS::BedrockAgentCore::PolicyEngine')[0];
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'bedrock-agentcore:GetPolicyEngine',
            Effect: 'Allow',
            Resource: { 'Fn::GetAtt': [engine, 'PolicyEngineArn'] },
          },
          Match.objectLike({
            Action: ['bedrock-agentcore:AuthorizeAction', 'bedrock-agentcore:PartiallyAuthorizeActions'],
            Resource: Match.arrayWith([{ 'Fn::GetAtt': [engine, 'PolicyEngineArn'] }]),
          }),
        ]),
      },
    });
    const text = JSON.stringify(result.template);
    assert.doesNotMatch(text, /"bedrock-agentcore:\*"/);
  });

  test('cdk-nag (AwsSolutions) finds nothing', () => {
    assert.deepEqual(result.nagWarnings, []);
  });

  test('without policy: no engine, no attachment', () => {
    const plain = fleetConfig();
    const r = synthFleet({
      fleet: plain,
      servers: builtServers(plain, dirs),
      outdir: path.join(dirs.root, 'out-plain'),
      stackId: 'Plain',
      cloudFormationValidation: false,
    });
    const t = Template.fromJSON(r.template);
    t.resourceCountIs('AWS::BedrockAgentCore::PolicyEngine', 0);
    t.hasResourceProperties('AWS::BedrockAgentCore::Gateway', { PolicyEngineConfiguration: Match.absent() });
  });
});

describe('cost and ownership tags', () => {
  test("every taggable resource of a server carries its merged tags and mcp-fleet's", () => {
    const expected: Record<string, Record<string, string>> = {
      git: {
        'cost-center': '200',
        env: 'prod',
        team: 'platform',
        'mcp-fleet:server': 'git',
        'mcp-fleet:stack': 'McpFleetTest',
      },
      'aws-diagram': {
        'cost-center': '100',
        env: 'prod',
        team: 'platform',
        'mcp-fleet:server': 'aws-diagram',
        'mcp-fleet:stack': 'McpFleetTest',
      },
    };
    for (const [server, tags] of Object.entries(expected)) {
      const prefix = `Server${server.replace(/-/g, '')}`;
      const mine = Object.entries(resources).filter(([id]) => id.startsWith(prefix));
      const kinds = new Set<string>();
      for (const [id, r] of mine) {
        if (
          r.Type === 'AWS::IAM::Policy' ||
          r.Type === 'AWS::Lambda::Url' ||
          r.Type === 'AWS::Lambda::Permission'
        )
          continue;
        kinds.add(r.Type);
        assert.deepEqual(tagsOf(id), tags, `${r.Type} ${id}`);
      }
      for (const k of [
        'AWS::Lambda::Function',
        'AWS::IAM::Role',
        'AWS::Logs::LogGroup',
        'AWS::CloudWatch::Alarm',
      ])
        assert.ok(kinds.has(k), `${server}: ${k} tagged`);
    }
  });

  test("the gateway, its role, user pool, policy engine and dashboard carry the fleet's tags", () => {
    const fleetTags = { 'cost-center': '100', team: 'platform', 'mcp-fleet:stack': 'McpFleetTest' };
    for (const type of [
      'AWS::BedrockAgentCore::Gateway',
      'AWS::BedrockAgentCore::PolicyEngine',
      'AWS::Cognito::UserPool',
      'AWS::CloudWatch::Dashboard',
    ]) {
      for (const id of ids(type)) assert.deepEqual(tagsOf(id), fleetTags, `${type} ${id}`);
    }
    const gatewayRole = ids('AWS::IAM::Role').find((id) => id.startsWith('Gateway'));
    assert.ok(gatewayRole);
    assert.deepEqual(tagsOf(gatewayRole), fleetTags);
  });
});

test('cfn-lint finds no error in the template with a policy engine and tags', () => {
  const file = path.join(dirs.root, 'policy.template.json');
  writeFileSync(file, readFileSync(result.templateFile));
  const run = spawnSync(pythonTool('cfn-lint'), ['--format', 'json', '--', file], { encoding: 'utf8' });
  assert.equal(run.error, undefined);
  const matches = JSON.parse(run.stdout || '[]') as { Level: string; Rule: { Id: string } }[];
  assert.deepEqual(
    matches.filter((m) => m.Level === 'Error'),
    [],
    run.stdout,
  );
});
