import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import * as cdk from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { McpFleetStack, applyNagChecks, nagViolations } from '../../src/infra/index.js';
import { artifactDirs, builtServers, fleetConfig, NO_CFN_VALIDATION } from './support.js';

const fleetYaml = (auth: string) => `
stack: McpFleetAuth
gateway: { name: fleet-${auth}, auth: ${auth} }
servers:
  git: { command: mcp-server-git }
  aws-diagram: { command: awslabs.aws-diagram-mcp-server }
`;

let dirs: ReturnType<typeof artifactDirs>;
const stacks = new Map<string, { stack: McpFleetStack; template: Template }>();

before(() => {
  dirs = artifactDirs();
  const app = new cdk.App(NO_CFN_VALIDATION);
  const made = ['iam', 'none'].map((auth) => {
    const fleet = fleetConfig(fleetYaml(auth));
    return {
      auth,
      stack: new McpFleetStack(app, `Auth-${auth}`, { fleet, servers: builtServers(fleet, dirs) }),
    };
  });
  // Synthesize once the app is complete.
  for (const { stack } of made) applyNagChecks(stack);
  for (const { auth, stack } of made) stacks.set(auth, { stack, template: Template.fromStack(stack) });
});
after(() => {
  rmSync(dirs.root, { recursive: true, force: true });
});

for (const [auth, type] of [
  ['iam', 'AWS_IAM'],
  ['none', 'NONE'],
] as const) {
  describe(`auth: ${auth}`, () => {
    test(`the gateway's authorizer is ${type}, without a Cognito pool`, () => {
      const { template } = stacks.get(auth)!;
      template.hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
        Name: `fleet-${auth}`,
        AuthorizerType: type,
        AuthorizerConfiguration: Match.absent(),
        ProtocolConfiguration: { Mcp: { SearchType: Match.absent(), Instructions: Match.absent() } },
      });
      for (const t of ['UserPool', 'UserPoolClient', 'UserPoolDomain', 'UserPoolResourceServer']) {
        template.resourceCountIs(`AWS::Cognito::${t}`, 0);
      }
      template.resourceCountIs('AWS::BedrockAgentCore::GatewayTarget', 2);
    });

    test('outputs: the gateway and the client config, no Cognito ones', () => {
      const outputs = Object.keys(stacks.get(auth)!.template.findOutputs('*')).sort();
      assert.deepEqual(outputs, [
        'DashboardName',
        'GatewayArn',
        'GatewayId',
        'GatewayMcpConfig',
        'GatewayUrl',
        'McpAwsdiagramLambdaArn',
        'McpGitLambdaArn',
      ]);
      const config = stacks.get(auth)!.template.findOutputs('GatewayMcpConfig')['GatewayMcpConfig'];
      assert.doesNotMatch(JSON.stringify(config), /Authorization/);
    });

    test('cdk-nag finds nothing left', () => {
      assert.deepEqual(nagViolations(stacks.get(auth)!.stack), []);
    });
  });
}

test('auth: none is flagged as a warning on the gateway', () => {
  const warnings = Annotations.fromStack(stacks.get('none')!.stack).findWarning(
    '*',
    Match.stringLikeRegexp('auth: none; anyone who knows its URL can call every tool'),
  );
  assert.equal(warnings.length, 1);
  assert.deepEqual(
    Annotations.fromStack(stacks.get('iam')!.stack).findWarning('*', Match.stringLikeRegexp('auth: none')),
    [],
  );
});
