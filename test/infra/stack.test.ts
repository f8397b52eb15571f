import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as cdk from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  FleetStackError,
  McpFleetStack,
  lambdaArnOutputId,
  nagAcknowledgments,
  nagViolations,
  synthFleet,
  type SynthResult,
} from '../../src/infra/index.js';
import { artifactDirs, builtServers, fleetConfig, NO_CFN_VALIDATION } from './support.js';

type Json = Record<string, unknown>;

let dirs: ReturnType<typeof artifactDirs>;
let result: SynthResult;
let template: Template;
let resources: Record<string, { Type: string; Properties?: Json }>;

before(() => {
  dirs = artifactDirs();
  const fleet = fleetConfig();
  result = synthFleet({ fleet, servers: builtServers(fleet, dirs), outdir: path.join(dirs.root, 'cdk.out') });
  template = Template.fromJSON(result.template);
  resources = result.template['Resources'] as typeof resources;
});
after(() => {
  rmSync(dirs.root, { recursive: true, force: true });
});

/** The logical id of the resource of `type` under the construct `path` (relative to the stack). */
function logicalId(constructPath: string): string {
  const c = result.stack.node.findChild(constructPath.split('/')[0]!);
  const child = constructPath
    .split('/')
    .slice(1)
    .reduce((node, id) => node.node.findChild(id), c);
  const cfn = child.node.defaultChild ?? child;
  assert.ok(cdk.CfnElement.isCfnElement(cfn), constructPath);
  return result.stack.getLogicalId(cfn);
}

function ofType(type: string): [string, Json][] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

/** Every policy statement in the template: inline policies of roles and AWS::IAM::Policy documents. */
function statements(): { owner: string; statement: Json }[] {
  const out: { owner: string; statement: Json }[] = [];
  for (const [id, props] of ofType('AWS::IAM::Policy')) {
    for (const s of (props['PolicyDocument'] as { Statement: Json[] }).Statement)
      out.push({ owner: id, statement: s });
  }
  for (const [id, props] of ofType('AWS::IAM::Role')) {
    for (const p of (props['Policies'] as { PolicyDocument: { Statement: Json[] } }[] | undefined) ?? []) {
      for (const s of p.PolicyDocument.Statement) out.push({ owner: id, statement: s });
    }
  }
  return out;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

describe('functions', () => {
  test('one function per server: name, runtime, handler, memory, timeout, architecture, concurrency', () => {
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'mcp-server-git',
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      MemorySize: 1024,
      Timeout: 60,
      Architectures: ['arm64'],
      ReservedConcurrentExecutions: 5,
      Code: { S3Bucket: Match.anyValue(), S3Key: Match.stringLikeRegexp('\\.zip$') },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'mcp-server-aws-diagram',
      PackageType: 'Image',
      Code: { ImageUri: Match.anyValue() },
      MemorySize: 2048,
      Timeout: 120,
      Architectures: ['x86_64'],
      ReservedConcurrentExecutions: Match.absent(),
      Runtime: Match.absent(),
      Handler: Match.absent(),
    });
  });

  test('the image is built for the function architecture', () => {
    const manifest = JSON.parse(
      readFileSync(path.join(result.assemblyDir, `${result.stack.artifactId}.assets.json`), 'utf8'),
    ) as { dockerImages: Record<string, { source: { platform?: string } }> };
    assert.deepEqual(
      Object.values(manifest.dockerImages).map((i) => i.source.platform),
      ['linux/amd64'],
    );
  });

  test('environment: the server env without Lambda-reserved keys, the server id and Powertools settings', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'mcp-server-git',
      Environment: {
        Variables: {
          LOG_LEVEL: 'debug',
          MCP_FLEET_SERVER_ID: 'git',
          POWERTOOLS_SERVICE_NAME: 'mcp-server-git',
          POWERTOOLS_METRICS_NAMESPACE: 'McpFleet',
          AWS_REGION: Match.absent(),
        },
      },
    });
    assert.deepEqual(result.stack.functions.get('git')!.omittedEnv, ['AWS_REGION']);
  });

  test('each function logs to its own log group, with the configured retention', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/lambda/mcp-server-git',
      RetentionInDays: 14,
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/lambda/mcp-server-aws-diagram',
      RetentionInDays: 90,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'mcp-server-git',
      LoggingConfig: { LogGroup: { Ref: logicalId('Server-git/LogGroup') } },
    });
  });

  test('a VPC server gets its subnets and security groups by id, and the ENI policy', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'mcp-server-aws-diagram',
      VpcConfig: {
        SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
        SecurityGroupIds: ['sg-0123456789abcdef0'],
      },
    });
    const role = resources[logicalId('Server-aws-diagram/Role')]!.Properties!;
    assert.match(
      JSON.stringify(role['ManagedPolicyArns']),
      /policy\/service-role\/AWSLambdaENIManagementAccess/,
    );
  });

  test('a Function URL with IAM auth where asked, and only there; no CORS (no browser origin is let in)', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      TargetFunctionArn: { 'Fn::GetAtt': [logicalId('Server-git/Function'), 'Arn'] },
      Cors: Match.absent(),
    });
    // Nor does the function's own HTTP front answer CORS: MCP_FLEET_ALLOW_ORIGIN is not set.
    const fn = resources[logicalId('Server-git/Function')]!.Properties!;
    const variables =
      (fn['Environment'] as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    assert.equal(variables['MCP_FLEET_ALLOW_ORIGIN'], undefined);
  });

  test('three alarms per server: errors, throttles, p99 duration at 80 % of the timeout', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 6);
    for (const [id, timeout] of [
      ['git', 60],
      ['aws-diagram', 120],
    ] as const) {
      const fn = { Ref: logicalId(`Server-${id}/Function`) };
      const dims = [{ Name: 'FunctionName', Value: fn }];
      const common = {
        Namespace: 'AWS/Lambda',
        Dimensions: dims,
        Period: 300,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      };
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ...common,
        MetricName: 'Errors',
        Statistic: 'Sum',
        Threshold: 1,
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ...common,
        MetricName: 'Throttles',
        Statistic: 'Sum',
        Threshold: 1,
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ...common,
        MetricName: 'Duration',
        ExtendedStatistic: 'p99',
        Threshold: timeout * 1000 * 0.8,
      });
    }
  });
});

describe('roles', () => {
  test('no wildcard action anywhere but the one the server declared', () => {
    const wild = statements()
      .filter(({ statement }) => statement['Effect'] === 'Allow')
      .flatMap(({ statement }) => list(statement['Action'] as string | string[]))
      .filter((a) => a.includes('*'));
    assert.deepEqual(wild, ['dynamodb:Get*']);
    for (const [, props] of ofType('AWS::IAM::Role')) {
      assert.doesNotMatch(
        JSON.stringify(props),
        /AWSLambdaBasicExecutionRole|AWSLambdaVPCAccessExecutionRole/,
      );
    }
  });

  test('wildcard resources: the declared one, and invoking versions of one function from the gateway', () => {
    const wild = statements()
      .filter(({ statement }) => statement['Effect'] === 'Allow')
      .flatMap(({ owner, statement }) =>
        list(statement['Resource']).map((r) => ({
          owner,
          r: JSON.stringify(r),
          actions: statement['Action'],
        })),
      )
      .filter(({ r }) => r.includes('*'));
    const gatewayPolicy = logicalId('Gateway/Gateway/ServiceRole/DefaultPolicy');
    for (const w of wild) {
      if (w.r === '"arn:aws:s3:::mcp-fleet-data/*"') {
        assert.equal(w.owner, logicalId('Server-git/DeclaredPolicy'));
      } else if (w.r === '"*"') {
        // Active tracing: the X-Ray daemon's actions, which take no resource, on each function's own role.
        assert.match(w.owner, /^Server(git|awsdiagram)RoleDefaultPolicy/);
        assert.deepEqual(w.actions, ['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
      } else {
        assert.equal(w.owner, gatewayPolicy);
        assert.equal(w.actions, 'lambda:InvokeFunction');
        assert.match(w.r, /"Fn::GetAtt":\["Server\w+Function\w+","Arn"\]\},":\*"/);
      }
    }
    assert.equal(wild.length, 5);
  });

  test('a role writes to its own log group only, and reads exactly its secrets', () => {
    const policy = resources[logicalId('Server-git/Role/DefaultPolicy')]!.Properties!;
    const stmts = (policy['PolicyDocument'] as { Statement: Json[] }).Statement;
    assert.deepEqual(stmts, [
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logicalId('Server-git/LogGroup'), 'Arn'] },
      },
      {
        Action: 'ssm:GetParameter',
        Effect: 'Allow',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':ssm:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':parameter/mcp/github/token',
            ],
          ],
        },
      },
      {
        Action: 'secretsmanager:GetSecretValue',
        Effect: 'Allow',
        Resource: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':secretsmanager:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':secret:mcp/api-key-??????',
              ],
            ],
          },
          'arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf',
        ],
      },
      {
        Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
        Effect: 'Allow',
        Resource: '*',
      },
    ]);
    const diagram = resources[logicalId('Server-aws-diagram/Role/DefaultPolicy')]!.Properties!;
    // Its log group, and active tracing.
    assert.equal((diagram['PolicyDocument'] as { Statement: Json[] }).Statement.length, 2);
  });

  test("the server's declared statements and managed policies, as declared", () => {
    const declared = resources[logicalId('Server-git/DeclaredPolicy')]!.Properties!;
    assert.deepEqual((declared['PolicyDocument'] as { Statement: Json[] }).Statement, [
      { Action: 's3:GetObject', Effect: 'Allow', Resource: 'arn:aws:s3:::mcp-fleet-data/*' },
      {
        Action: ['dynamodb:Get*', 'dynamodb:Query'],
        Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1' } },
        Effect: 'Allow',
        Resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/mcp',
      },
    ]);
    const role = resources[logicalId('Server-git/Role')]!.Properties!;
    assert.deepEqual(role['ManagedPolicyArns'], [
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/ReadOnlyAccess']] },
      'arn:aws:iam::123456789012:policy/mcp-extra',
    ]);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
        ],
      },
      ManagedPolicyArns: Match.anyValue(),
    });
  });
});

describe('gateway', () => {
  test('MCP gateway with the configured name, versions, semantic search, instructions and Cognito JWT auth', () => {
    template.resourceCountIs('AWS::BedrockAgentCore::Gateway', 1);
    template.hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
      Name: 'mcp-fleet-test',
      ProtocolType: 'MCP',
      ProtocolConfiguration: {
        Mcp: {
          SupportedVersions: Match.arrayWith(['2025-03-26', '2025-06-18', '2025-11-25']),
          SearchType: 'SEMANTIC',
          Instructions: 'Tools of the mcp-fleet test fleet',
        },
      },
      AuthorizerType: 'CUSTOM_JWT',
      AuthorizerConfiguration: {
        CustomJWTAuthorizer: {
          AllowedClients: [{ Ref: logicalId('Gateway/UserPool/MachineClient') }],
          DiscoveryUrl: Match.anyValue(),
          AllowedAudience: Match.absent(),
        },
      },
    });
  });

  test('Cognito: a pool without self sign-up, a resource server with a scope, a machine client, a domain', () => {
    template.resourceCountIs('AWS::Cognito::UserPool', 1);
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 14 }) },
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'mcp-fleet-test',
      Scopes: [{ ScopeName: 'invoke', ScopeDescription: Match.anyValue() }],
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      AllowedOAuthFlows: ['client_credentials'],
      AllowedOAuthFlowsUserPoolClient: true,
      GenerateSecret: true,
    });
    const domain = ofType('AWS::Cognito::UserPoolDomain')[0]![1];
    const prefix = JSON.stringify(domain['Domain']);
    assert.match(prefix, /mcp-fleet-test-[0-9a-f]{6}/);
    assert.match(prefix, /AWS::AccountId/);
  });

  test("the gateway role trusts AgentCore for this account and this gateway's ARN only", () => {
    const role = resources[logicalId('Gateway/Gateway/ServiceRole')]!.Properties!;
    const trust = (role['AssumeRolePolicyDocument'] as { Statement: Json[] }).Statement[0]!;
    assert.deepEqual(trust['Principal'], { Service: 'bedrock-agentcore.amazonaws.com' });
    const condition = trust['Condition'] as Json;
    assert.deepEqual(condition['StringEquals'], { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    assert.match(JSON.stringify(condition['ArnLike']), /:gateway\/mcp-fleet-test-\?+"/);
  });

  test('one Lambda target per server, named and described from the config, with the lowered schema inline', () => {
    template.resourceCountIs('AWS::BedrockAgentCore::GatewayTarget', 2);
    template.hasResourceProperties('AWS::BedrockAgentCore::GatewayTarget', {
      Name: 'git',
      Description: 'Git operations',
      CredentialProviderConfigurations: [{ CredentialProviderType: 'GATEWAY_IAM_ROLE' }],
      TargetConfiguration: {
        Mcp: {
          Lambda: {
            LambdaArn: { 'Fn::GetAtt': [logicalId('Server-git/Function'), 'Arn'] },
            ToolSchema: {
              InlinePayload: Match.arrayWith([
                {
                  Name: 'git_log',
                  Description: 'Shows the commit logs',
                  InputSchema: {
                    Type: 'object',
                    Properties: {
                      repo_path: { Type: 'string' },
                      max_count: { Type: 'integer', Description: 'At most this many commits' },
                      paths: { Type: 'array', Items: { Type: 'string' } },
                    },
                    Required: ['repo_path'],
                  },
                  OutputSchema: {
                    Type: 'object',
                    Properties: { commits: { Type: 'array', Items: { Type: 'string' } } },
                  },
                },
              ]),
            },
          },
        },
      },
    });
    template.hasResourceProperties('AWS::BedrockAgentCore::GatewayTarget', {
      Name: 'aws-diagram',
      Description: 'Architecture diagrams',
    });
    assert.deepEqual(Object.fromEntries(result.stack.schemaPlacement), {
      git: 'inline',
      'aws-diagram': 'inline',
    });
  });
});

describe('dashboard and outputs', () => {
  test("a dashboard over the runtime's metrics and Lambda's own, per server", () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const join = ofType('AWS::CloudWatch::Dashboard')[0]![1]['DashboardBody'] as {
      'Fn::Join': [string, unknown[]];
    };
    const body = JSON.parse(
      join['Fn::Join'][1]
        .map((p) => (typeof p === 'string' ? p : `<${JSON.stringify(p).replace(/"/g, '')}>`))
        .join(''),
    ) as { widgets: { properties: { title?: string; metrics?: unknown[][] } }[] };
    const graphs = new Map(body.widgets.map((w) => [w.properties.title, w.properties.metrics ?? []]));
    const fn = `<{Ref:${logicalId('Server-git/Function')}}>`;
    assert.deepEqual(graphs.get('git: invocations'), [
      ['AWS/Lambda', 'Invocations', 'FunctionName', fn, { label: 'invocations', stat: 'Sum' }],
      ['AWS/Lambda', 'Errors', 'FunctionName', fn, { label: 'errors', stat: 'Sum' }],
      ['AWS/Lambda', 'Throttles', 'FunctionName', fn, { label: 'throttles', stat: 'Sum' }],
    ]);
    assert.deepEqual(
      graphs.get('git: duration (ms)')!.map((m) => m[1]),
      ['Duration', 'Duration', 'Duration'],
    );
    const search = (metric: string) =>
      `SUM(SEARCH('{McpFleet,server,service,tool} MetricName="${metric}" server="git"', 'Sum', 300))`;
    assert.deepEqual(graphs.get('git: tool calls'), [
      [{ label: 'calls', expression: search('ToolCalls') }],
      [{ label: 'errors', expression: search('ToolErrors') }],
      [
        'McpFleet',
        'CallTimeouts',
        'server',
        'git',
        'service',
        'mcp-server-git',
        { label: 'timeouts', stat: 'Sum' },
      ],
    ]);
    const starts = JSON.stringify(graphs.get('git: latency and server starts'));
    for (const metric of ['ToolLatency', 'ServerStartTime', 'ServerStarts', 'ServerCrashes']) {
      assert.ok(starts.includes(metric), `${metric} is on the dashboard`);
    }
    assert.ok(graphs.has('aws-diagram: tool calls'));
    assert.ok(graphs.has('All servers: tool calls and errors'));
  });

  test("outputs: each server's Lambda ARN under the seed's names, the gateway, Cognito, the client config", () => {
    const outputs = result.template['Outputs'] as Record<string, { Value: unknown }>;
    assert.deepEqual(Object.keys(outputs).sort(), [
      'DashboardName',
      'GatewayArn',
      'GatewayClientId',
      'GatewayId',
      'GatewayMcpConfig',
      'GatewayOAuthScope',
      'GatewayTokenEndpoint',
      'GatewayUrl',
      'GatewayUserPoolId',
      'McpAwsdiagramLambdaArn',
      'McpGitFunctionUrl',
      'McpGitLambdaArn',
    ]);
    assert.deepEqual(outputs['McpGitLambdaArn']!.Value, {
      'Fn::GetAtt': [logicalId('Server-git/Function'), 'Arn'],
    });
    assert.deepEqual(outputs['GatewayUrl']!.Value, {
      'Fn::GetAtt': [logicalId('Gateway/Gateway'), 'GatewayUrl'],
    });
    assert.equal(outputs['GatewayOAuthScope']!.Value, 'mcp-fleet-test/invoke');
    const config = JSON.stringify(outputs['GatewayMcpConfig']!.Value);
    assert.match(config, /\{\\"mcpServers\\":\{\\"mcp-fleet-test\\":\{\\"type\\":\\"http\\",\\"url\\":\\""/);
    assert.match(config, /GatewayUrl/);
    assert.match(JSON.stringify(outputs['GatewayTokenEndpoint']!.Value), /amazoncognito\.com\/oauth2\/token/);
  });

  test('output names follow the seed document (McpCoremcpLambdaArn, McpAwspricingLambdaArn, McpEksmcpLambdaArn)', () => {
    assert.equal(lambdaArnOutputId('core-mcp'), 'McpCoremcpLambdaArn');
    assert.equal(lambdaArnOutputId('aws-pricing'), 'McpAwspricingLambdaArn');
    assert.equal(lambdaArnOutputId('eks-mcp'), 'McpEksmcpLambdaArn');
    assert.equal(lambdaArnOutputId('git'), 'McpGitLambdaArn');
    assert.equal(lambdaArnOutputId('git_repo-Research'), 'McpGitreporesearchLambdaArn');
  });
});

describe('cdk-nag', () => {
  test('no AwsSolutions error or warning is left', () => {
    assert.deepEqual(nagViolations(result.stack), []);
    assert.deepEqual(result.nagWarnings, []);
  });

  test('each acknowledgment names one finding on one resource, with a reason', () => {
    const acks = nagAcknowledgments(result.stack);
    const byId = acks.map((a) => `${a.scope.node.path} ${a.id}`).sort();
    assert.deepEqual(byId, [
      'McpFleetTest/Gateway/Gateway/ServiceRole AwsSolutions-IAM5[Resource::<ServerawsdiagramFunctionAE88553A.Arn>:*]',
      'McpFleetTest/Gateway/Gateway/ServiceRole AwsSolutions-IAM5[Resource::<ServergitFunction75A2F1B2.Arn>:*]',
      'McpFleetTest/Gateway/UserPool AwsSolutions-COG8',
      'McpFleetTest/Server-aws-diagram/Role AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaENIManagementAccess]',
      'McpFleetTest/Server-aws-diagram/Role/DefaultPolicy AwsSolutions-IAM5[Resource::*]',
      'McpFleetTest/Server-git/DeclaredPolicy AwsSolutions-IAM5[Action::dynamodb:Get*]',
      'McpFleetTest/Server-git/DeclaredPolicy AwsSolutions-IAM5[Resource::arn:aws:s3:::mcp-fleet-data/*]',
      'McpFleetTest/Server-git/Function AwsSolutions-L1',
      'McpFleetTest/Server-git/Role AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]',
      'McpFleetTest/Server-git/Role/DefaultPolicy AwsSolutions-IAM5[Resource::*]',
    ]);
    for (const a of acks) assert.ok(a.reason.length > 40, `${a.id}: ${a.reason}`);
  });

  test("synthesis reports nothing: neither cdk-nag nor CDK's check against the CloudFormation schemas", () => {
    const report = JSON.parse(readFileSync(result.validationReportFile, 'utf8')) as {
      pluginReports: unknown[];
    };
    assert.deepEqual(report.pluginReports, []);
  });

  test('a wildcard nobody declared is an error', () => {
    const app = new cdk.App({ ...NO_CFN_VALIDATION, outdir: path.join(dirs.root, 'extra') });
    const fleet = fleetConfig();
    const stack = new McpFleetStack(app, 'Extra', { fleet, servers: builtServers(fleet, dirs) });
    stack.functions
      .get('aws-diagram')!
      .role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    const errors = nagViolations(stack).map((v) => v.rule);
    assert.ok(errors.includes('AwsSolutions-IAM5[Action::s3:*]'), errors.join('\n'));
    assert.ok(errors.includes('AwsSolutions-IAM5[Resource::*]'), errors.join('\n'));
  });
});

describe('input checks', () => {
  test('every problem is listed at once', () => {
    const fleet = fleetConfig(`
servers:
  core-mcp: { command: a }
  coremcp: { command: b }
`);
    const missing = path.join(dirs.root, 'missing');
    // A caller that builds ServerConfig itself can break what the config loader checks.
    const servers = fleet.servers.map((server) => ({
      server: { ...server, gateway: { ...server.gateway, target: 'core-mcp' } },
      artifact: { kind: 'zip' as const, dir: server.id === 'core-mcp' ? missing : dirs.image },
      tools: [],
    }));
    assert.throws(
      () => new McpFleetStack(new cdk.App(NO_CFN_VALIDATION), 'Bad', { fleet, servers }),
      (err: unknown) => {
        assert.ok(err instanceof FleetStackError);
        assert.deepEqual(err.problems, [
          'servers core-mcp and coremcp have the same output name McpCoremcpLambdaArn',
          'servers core-mcp and coremcp have the same gateway target name core-mcp',
          `core-mcp: the artifact ${missing} does not exist`,
          `coremcp: the function root ${dirs.image} has no index.mjs`,
        ]);
        return true;
      },
    );
  });

  test('servers with enabled: false are left out', () => {
    const fleet = fleetConfig(`
servers:
  git: { command: mcp-server-git }
  off: { command: x, enabled: false }
`);
    const servers = fleet.servers.map((server) => ({
      server,
      artifact: { kind: 'zip' as const, dir: dirs.zip },
      tools: [],
    }));
    const stack = new McpFleetStack(new cdk.App(NO_CFN_VALIDATION), 'Off', { fleet, servers });
    assert.deepEqual([...stack.functions.keys()], ['git']);
  });
});
