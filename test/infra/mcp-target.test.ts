import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { nagAcknowledgments, nagViolations, synthFleet, type SynthResult } from '../../src/infra/index.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { ROOT } from '../helpers.js';
import {
  artifactDirs,
  assertCfnLintClean,
  builtServers,
  DIAGRAM_TOOLS,
  FLEET_YAML,
  fleetConfig,
} from './support.js';

/*
 * The test fleet with `git` as an MCP-server target (its Function URL, signed by the gateway's
 * role) beside `aws-diagram`, a Lambda target.
 */
type Json = Record<string, unknown>;

let dirs: ReturnType<typeof artifactDirs>;
let result: SynthResult;
let template: Template;
let resources: Record<string, { Type: string; Properties?: Json }>;

const MCP_YAML = FLEET_YAML.replace(
  '    name: Git\n',
  '    name: Git\n    gateway: { targetType: mcp, listingMode: dynamic, resourcePriority: 7 }\n',
);

before(() => {
  dirs = artifactDirs();
  const fleet = fleetConfig(MCP_YAML);
  assert.equal(fleet.servers[0]?.gateway.targetType, 'mcp');
  result = synthFleet({ fleet, servers: builtServers(fleet, dirs), outdir: path.join(dirs.root, 'cdk.out') });
  template = Template.fromJSON(result.template);
  resources = result.template['Resources'] as typeof resources;
});
after(() => {
  rmSync(dirs.root, { recursive: true, force: true });
});

const idOf = (type: string, pattern: RegExp): string => {
  const found = Object.entries(resources).filter(([id, r]) => r.Type === type && pattern.test(id));
  assert.equal(found.length, 1, `${type} ${String(pattern)}: ${found.map(([id]) => id).join(', ')}`);
  return found[0]![0];
};

describe('an mcp server', () => {
  test('gets a Function URL with AWS_IAM auth and RESPONSE_STREAM; the lambda server none', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      InvokeMode: 'RESPONSE_STREAM',
      TargetFunctionArn: { 'Fn::GetAtt': [idOf('AWS::Lambda::Function', /^Servergit/), 'Arn'] },
    });
    // No CORS: no browser origin is let in.
    const url = resources[idOf('AWS::Lambda::Url', /^Servergit/)]!.Properties!;
    assert.equal(url['Cors'], undefined);
  });

  test('its handler is told to stream (MCP_FLEET_RESPONSE_STREAM), the lambda server is not', () => {
    const env = (id: RegExp): Json =>
      (resources[idOf('AWS::Lambda::Function', id)]!.Properties!['Environment'] as { Variables: Json })
        .Variables ?? {};
    assert.equal(env(/^Servergit/)['MCP_FLEET_RESPONSE_STREAM'], 'true');
    assert.equal(env(/^Serverawsdiagram/)['MCP_FLEET_RESPONSE_STREAM'], undefined);
  });

  test('is an MCP-server target on that URL, signed by the gateway role for lambda, with its listing mode', () => {
    template.resourceCountIs('AWS::BedrockAgentCore::GatewayTarget', 2);
    template.hasResourceProperties('AWS::BedrockAgentCore::GatewayTarget', {
      Name: 'git',
      Description: 'Git operations',
      CredentialProviderConfigurations: [
        {
          CredentialProviderType: 'GATEWAY_IAM_ROLE',
          CredentialProvider: { IamCredentialProvider: { Service: 'lambda' } },
        },
      ],
      TargetConfiguration: {
        Mcp: {
          McpServer: {
            Endpoint: { 'Fn::GetAtt': [idOf('AWS::Lambda::Url', /^Servergit/), 'FunctionUrl'] },
            ListingMode: 'DYNAMIC',
            ResourcePriority: 7,
          },
        },
      },
    });
    // No tool schema is declared for it: the gateway lists the server's tools itself.
    const target = resources[idOf('AWS::BedrockAgentCore::GatewayTarget', /git/)]!.Properties!;
    assert.ok(!JSON.stringify(target).includes('ToolSchema'));
  });

  test('the lambda server stays a Lambda target with its declared schema', () => {
    template.hasResourceProperties('AWS::BedrockAgentCore::GatewayTarget', {
      Name: 'aws-diagram',
      TargetConfiguration: {
        Mcp: {
          Lambda: {
            LambdaArn: { 'Fn::GetAtt': [idOf('AWS::Lambda::Function', /^Serverawsdiagram/), 'Arn'] },
            ToolSchema: { InlinePayload: Match.arrayWith([Match.objectLike({ Name: 'generate_diagram' })]) },
          },
        },
      },
    });
  });

  test('the gateway role may invoke exactly that function through its URL, and no other', () => {
    const git = { 'Fn::GetAtt': [idOf('AWS::Lambda::Function', /^Servergit/), 'Arn'] };
    const policy = resources[idOf('AWS::IAM::Policy', /^GatewayServiceRoleDefaultPolicy/)]!.Properties!;
    const statements = (policy['PolicyDocument'] as { Statement: Json[] }).Statement;
    const urlGrants = statements.filter((s) =>
      JSON.stringify(s['Action']).includes('lambda:InvokeFunctionUrl'),
    );
    assert.deepEqual(urlGrants, [
      {
        Action: 'lambda:InvokeFunctionUrl',
        Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
        Effect: 'Allow',
        Resource: git,
      },
    ]);
    // lambda:InvokeFunction on git only through its URL; the Lambda target's own invoke grant
    // names aws-diagram only.
    const invokes = statements.filter((s) => s['Action'] === 'lambda:InvokeFunction');
    for (const s of invokes) {
      if (JSON.stringify(s['Resource']).includes('Servergit'))
        assert.deepEqual(s, {
          Action: 'lambda:InvokeFunction',
          Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': true } },
          Effect: 'Allow',
          Resource: git,
        });
      else assert.match(JSON.stringify(s['Resource']), /Serverawsdiagram/);
    }
    // Nobody else in the template may invoke a Function URL.
    const elsewhere = Object.entries(resources).filter(
      ([id, r]) =>
        r.Type === 'AWS::IAM::Policy' &&
        !id.startsWith('GatewayServiceRoleDefaultPolicy') &&
        JSON.stringify(r.Properties).includes('InvokeFunctionUrl'),
    );
    assert.deepEqual(elsewhere, []);
  });
});

describe('checks of the mcp-target stack', () => {
  test('cdk-nag AwsSolutions: nothing left; the acknowledgments have reasons', () => {
    assert.deepEqual(nagViolations(result.stack), []);
    assert.deepEqual(result.nagWarnings, []);
    const acks = nagAcknowledgments(result.stack).map((a) => `${a.scope.node.path} ${a.id}`);
    // The URL grant names the function's ARN exactly: no IAM5 acknowledgment for git's target.
    assert.ok(
      !acks.some((a) => a.includes('Gateway/Gateway/ServiceRole') && a.includes('Servergit')),
      acks.join('\n'),
    );
    for (const a of nagAcknowledgments(result.stack)) assert.ok(a.reason.length > 40, a.id);
  });

  test('cfn-lint finds no error', () => {
    assertCfnLintClean(result.templateFile, path.join(dirs.root, 'mcp.template.json'));
  });
});

describe('the seed fleet (examples/seed/servers.yaml) with its mcp targets', () => {
  test('a mix of hosts: github and filesystem web functions, git-repo-research an AgentCore Runtime, the rest functions; four MCP-server targets; cdk-nag clean and cfn-lint finds no error', async () => {
    const fleet = await loadConfigOrThrow(path.join(ROOT, 'examples', 'seed', 'servers.yaml'));
    const mcp = fleet.servers.filter((s) => s.gateway.targetType === 'mcp').map((s) => s.id);
    assert.deepEqual(mcp, ['git-repo-research', 'terraform', 'github', 'filesystem']);
    const web = fleet.servers.filter((s) => s.hosting.host === 'web-function').map((s) => s.id);
    assert.deepEqual(web, ['github', 'filesystem']);
    const runtimes = fleet.servers.filter((s) => s.hosting.host === 'agentcore-runtime').map((s) => s.id);
    assert.deepEqual(runtimes, ['git-repo-research']);
    assert.equal(fleet.gateway.sessionTimeout, 3600, "a session host turns the gateway's sessions on");
    // Stand-in artifacts (the seed test builds the real ones): a zip root per server (a web
    // function's for those), a container for the runtime (a PyPI server), one tool each.
    const servers = fleet.servers.map((server) => ({
      server,
      artifact: runtimes.includes(server.id)
        ? { kind: 'image' as const, dir: dirs.runtime }
        : { kind: 'zip' as const, dir: web.includes(server.id) ? dirs.web : dirs.zip },
      tools: DIAGRAM_TOOLS,
    }));
    const seed = synthFleet({ fleet, servers, outdir: path.join(dirs.root, 'seed.out'), stackId: 'Seed' });
    assert.deepEqual(nagViolations(seed.stack), []);
    assert.deepEqual(seed.nagWarnings, []);
    const t = Template.fromJSON(seed.template);
    // A function's MCP-server target is on its Function URL; a web function's on its endpoint; a
    // runtime's on its invocation URL.
    t.resourceCountIs('AWS::Lambda::Url', mcp.length - web.length - runtimes.length);
    t.resourceCountIs('AWS::Lambda::WebFunction', web.length);
    t.resourceCountIs('AWS::BedrockAgentCore::Runtime', runtimes.length);
    t.hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
      ProtocolConfiguration: {
        Mcp: Match.objectLike({ SessionConfiguration: { SessionTimeoutInSeconds: 3600 } }),
      },
    });
    for (const name of mcp)
      t.hasResourceProperties('AWS::BedrockAgentCore::GatewayTarget', {
        Name: name,
        TargetConfiguration: {
          Mcp: { McpServer: Match.objectLike({ ListingMode: 'DEFAULT', ResourcePriority: 1000 }) },
        },
      });
    assertCfnLintClean(seed.templateFile, path.join(dirs.root, 'seed.template.json'), true);
  });
});
