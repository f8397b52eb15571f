/**
 * The stack per host: `web-function` (a Lambda Web Function behind an MCP-server target, signed by
 * the gateway's role), `managed-instances` (the event function on a capacity provider of its own)
 * beside the test fleet's two `function` servers; cdk-nag, CDK's schema check and cfn-lint on the
 * template with all three hosts.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as cdk from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { ServerConfig } from '../../src/config/model.js';
import {
  FleetStackError,
  McpFleetStack,
  nagAcknowledgments,
  nagViolations,
  synthFleet,
  type BuiltServer,
  type SynthResult,
} from '../../src/infra/index.js';
import {
  artifactDirs,
  cfnLintWithoutErrors,
  FLEET_YAML,
  fleetConfig,
  hostBuiltServers,
  hostZipRoot,
  NO_CFN_VALIDATION,
  onlyResourceId,
} from './support.js';

type Json = Record<string, unknown>;

/** The test fleet plus two web functions and a managed-instances function. */
const HOSTS_YAML = `${FLEET_YAML}
  web:
    description: On a web function
    command: mcp-server-memory
    host: web-function
    timeout: 120
    environmentConcurrency: 32
    maxEnvironments: 5
    rateLimit: 200
    env: { KEEP: kept, AWS_LAMBDA_EXEC_WRAPPER: /opt/wrap, AWS_REGION: eu-west-1 }
    secrets:
      TOKEN: { ssm: /mcp/web/token }
    tags: { team: web }
    aws: { systemLogLevel: DEBUG }
  web-signed:
    command: mcp-server-memory
    host: web-function
    concurrency: 1
    processes: 4
    gateway: { signingService: lambda-web, listingMode: dynamic, resourcePriority: 3 }
  lmi:
    description: On managed instances
    command: mcp-server-memory
    host: managed-instances
    memory: 2048
    environmentConcurrency: 16
    minEnvironments: 2
    maxEnvironments: 6
    capacityProvider:
      subnetIds: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
      securityGroupIds: [sg-0123456789abcdef0]
      maxVCpuCount: 8
`;

let dirs: ReturnType<typeof artifactDirs>;
let result: SynthResult;
let template: Template;
let resources: Record<string, { Type: string; Properties?: Json; DependsOn?: string[] }>;

/** A zip root as the build writes it for the server's host (launch.json names the host). */
const zipRoot = (server: ServerConfig, host = server.hosting.host): string =>
  hostZipRoot(dirs.root, server, host);

/** The built servers of a fleet of HOSTS_YAML's shape. */
const hostServers = (yaml = HOSTS_YAML): BuiltServer[] => hostBuiltServers(yaml, dirs);

before(() => {
  dirs = artifactDirs();
  result = synthFleet({
    fleet: fleetConfig(HOSTS_YAML),
    servers: hostServers(),
    outdir: path.join(dirs.root, 'cdk.out'),
  });
  template = Template.fromJSON(result.template);
  resources = result.template['Resources'] as typeof resources;
});
after(() => {
  rmSync(dirs.root, { recursive: true, force: true });
});

const idOf = (type: string, pattern: RegExp): string => onlyResourceId(resources, type, pattern);
const getAtt = (id: string, attr: string): Json => ({ 'Fn::GetAtt': [id, attr] });
const gatewayStatements = (): Json[] =>
  (
    resources[idOf('AWS::IAM::Policy', /^GatewayServiceRoleDefaultPolicy/)]!.Properties![
      'PolicyDocument'
    ] as {
      Statement: Json[];
    }
  ).Statement;

describe('web-function', () => {
  test('a WebFunction mcp-server-<id> with its tags; a revision on nodejs24.x with index.mjs as the entry', () => {
    template.resourceCountIs('AWS::Lambda::WebFunction', 2);
    template.hasResourceProperties('AWS::Lambda::WebFunction', {
      FunctionName: 'mcp-server-web',
      Tags: Match.arrayWith([
        { Key: 'mcp-fleet:server', Value: 'web' },
        { Key: 'team', Value: 'web' },
      ]),
    });
    const role = idOf('AWS::IAM::Role', /^ServerwebRole/);
    template.hasResourceProperties('AWS::Lambda::WebFunctionRevision', {
      FunctionName: { Ref: idOf('AWS::Lambda::WebFunction', /^Serverweb[A-Z]/) },
      Description: 'mcp-fleet: web (On a web function)',
      BuildConfig: {
        RuntimeConfig: { Runtime: 'nodejs24.x' },
        CodeConfig: {
          S3Object: {
            Bucket: getAtt(idOf('Custom::S3ObjectCopy', /^ServerwebWebFunctionCodeCopy/), 'Bucket'),
            Key: Match.anyValue(),
            VersionId: Match.anyValue(),
          },
        },
      },
      ServiceConfig: {
        ExecutionRoleArn: getAtt(role, 'Arn'),
        MaxConcurrencyPerEnvironment: 32,
        TimeoutSeconds: 120,
        TelemetryConfig: {
          LoggingConfig: {
            LogGroup: { Ref: idOf('AWS::Logs::LogGroup', /^ServerwebLogGroup/) },
            SystemLogLevel: 'DEBUG',
          },
        },
      },
    });
  });

  test("environment: the server's env without AWS_LAMBDA_* and reserved keys, the server id, the entry point", () => {
    const revision = resources[idOf('AWS::Lambda::WebFunctionRevision', /^ServerwebWebFunction/)]!;
    const env = (revision.Properties!['ServiceConfig'] as Json)['EnvironmentVariables'];
    assert.deepEqual(env, {
      KEEP: 'kept',
      MCP_FLEET_SERVER_ID: 'web',
      POWERTOOLS_SERVICE_NAME: 'mcp-server-web',
      POWERTOOLS_METRICS_NAMESPACE: 'McpFleet',
      AWS_LAMBDA_NODEJS_ENTRYPOINT: 'index.mjs',
    });
    assert.deepEqual(result.stack.webFunctions.get('web')?.omittedEnv, [
      'AWS_LAMBDA_EXEC_WRAPPER',
      'AWS_REGION',
    ]);
  });

  test('the code: copied into the stack code bucket (versioned, SSE-S3), read by Lambda for web-function revisions only', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['s3:GetObject', 's3:GetObjectVersion'],
            Principal: { Service: 'lambda.amazonaws.com' },
            Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': Match.anyValue() } }),
          }),
        ]),
      },
    });
    // One copy function for both web functions, on a role of the stack's own (no managed policy).
    template.resourceCountIs('Custom::S3ObjectCopy', 2);
    const copyRole = idOf('AWS::IAM::Role', /^WebFunctionCodeCopyRole/);
    const copyFunctions = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && JSON.stringify(r.Properties).includes(copyRole),
    );
    assert.equal(copyFunctions.length, 1);
    assert.equal(resources[copyRole]!.Properties!['ManagedPolicyArns'], undefined);
  });

  test('the endpoint: IamAuth in the home Region, with maxEnvironments and rateLimit when set', () => {
    template.hasResourceProperties('AWS::Lambda::WebFunctionEndpoint', {
      FunctionName: getAtt(idOf('AWS::Lambda::WebFunction', /^Serverweb[A-Z]/), 'FunctionArn'),
      EndpointName: 'prod',
      EndpointType: 'HomeRegion',
      AuthType: 'IamAuth',
      ScalingConfig: { MaxEnvironments: 5 },
      ThrottleConfig: { RateLimit: 200 },
    });
    template.hasResourceProperties('AWS::Lambda::WebFunctionEndpoint', {
      FunctionName: getAtt(idOf('AWS::Lambda::WebFunction', /^Serverwebsigned/), 'FunctionArn'),
      AuthType: 'IamAuth',
      ScalingConfig: Match.absent(),
      ThrottleConfig: Match.absent(),
    });
    // concurrency 1 × 4 processes: four requests per environment at most.
    template.hasResourceProperties('AWS::Lambda::WebFunctionRevision', {
      FunctionName: { Ref: idOf('AWS::Lambda::WebFunction', /^Serverwebsigned/) },
      ServiceConfig: Match.objectLike({ MaxConcurrencyPerEnvironment: 4, TimeoutSeconds: 60 }),
    });
  });

  test('its role: its log group, its secret, nothing else; no AWS managed policy', () => {
    const role = idOf('AWS::IAM::Role', /^ServerwebRole/);
    assert.deepEqual(resources[role]!.Properties!['AssumeRolePolicyDocument'], {
      Statement: [
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ],
      Version: '2012-10-17',
    });
    assert.equal(resources[role]!.Properties!['ManagedPolicyArns'], undefined);
    const policy = resources[idOf('AWS::IAM::Policy', /^ServerwebRoleDefaultPolicy/)]!.Properties!;
    const statements = (policy['PolicyDocument'] as { Statement: Json[] }).Statement;
    assert.deepEqual(
      statements.map((s) => s['Action']),
      [['logs:CreateLogStream', 'logs:PutLogEvents'], 'ssm:GetParameter'],
    );
    assert.deepEqual(
      statements[0]!['Resource'],
      getAtt(idOf('AWS::Logs::LogGroup', /^ServerwebLogGroup/), 'Arn'),
    );
    assert.match(JSON.stringify(statements[1]!['Resource']), /:parameter\/mcp\/web\/token"/);
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/lambda/web/mcp-server-web',
      RetentionInDays: 30,
    });
  });

  test('an MCP-server target on https://<domain>/mcp, signed for lambda (or the configured service)', () => {
    template.hasResourceProperties('AWS::BedrockAgentCore::GatewayTarget', {
      Name: 'web',
      CredentialProviderConfigurations: [
        {
          CredentialProviderType: 'GATEWAY_IAM_ROLE',
          CredentialProvider: { IamCredentialProvider: { Service: 'lambda' } },
        },
      ],
      TargetConfiguration: {
        Mcp: {
          McpServer: {
            Endpoint: {
              'Fn::Join': [
                '',
                [
                  'https://',
                  getAtt(idOf('AWS::Lambda::WebFunctionEndpoint', /^Serverweb[A-Z]/), 'DomainName'),
                  '/mcp',
                ],
              ],
            },
            ListingMode: 'DEFAULT',
            ResourcePriority: 1000,
          },
        },
      },
    });
    template.hasResourceProperties('AWS::BedrockAgentCore::GatewayTarget', {
      Name: 'web-signed',
      CredentialProviderConfigurations: [
        Match.objectLike({ CredentialProvider: { IamCredentialProvider: { Service: 'lambda-web' } } }),
      ],
      TargetConfiguration: {
        Mcp: { McpServer: Match.objectLike({ ListingMode: 'DYNAMIC', ResourcePriority: 3 }) },
      },
    });
  });

  test("a system log level set is the revision's; unset, the revision leaves Lambda's (INFO)", () => {
    const logging = (fn: RegExp): Json => {
      const revision = Object.values(resources).find(
        (r) =>
          r.Type === 'AWS::Lambda::WebFunctionRevision' &&
          fn.test((r.Properties?.['FunctionName'] as { Ref?: string } | undefined)?.Ref ?? ''),
      );
      const config = revision?.Properties?.['ServiceConfig'] as { TelemetryConfig: { LoggingConfig: Json } };
      return config.TelemetryConfig.LoggingConfig;
    };
    assert.equal(logging(/^Serverweb[A-Z]/)['SystemLogLevel'], 'DEBUG');
    assert.equal(logging(/^ServerwebsignedW/)['SystemLogLevel'], undefined);
  });

  test('the gateway role may invoke exactly each endpoint, and the targets wait for that grant', () => {
    const invokes = gatewayStatements().filter((s) => s['Action'] === 'lambda:InvokeWebFunctionEndpoint');
    assert.deepEqual(invokes, [
      {
        Action: 'lambda:InvokeWebFunctionEndpoint',
        Effect: 'Allow',
        Resource: getAtt(idOf('AWS::Lambda::WebFunctionEndpoint', /^Serverweb[A-Z]/), 'EndpointArn'),
      },
      {
        Action: 'lambda:InvokeWebFunctionEndpoint',
        Effect: 'Allow',
        Resource: getAtt(idOf('AWS::Lambda::WebFunctionEndpoint', /^Serverwebsigned/), 'EndpointArn'),
      },
    ]);
    const elsewhere = Object.entries(resources).filter(
      ([id, r]) =>
        r.Type === 'AWS::IAM::Policy' &&
        !id.startsWith('GatewayServiceRoleDefaultPolicy') &&
        JSON.stringify(r.Properties).includes('InvokeWebFunctionEndpoint'),
    );
    assert.deepEqual(elsewhere, []);
    const target = resources[idOf('AWS::BedrockAgentCore::GatewayTarget', /^GatewayTargetweb[A-Z0-9]/)]!;
    assert.ok(target.DependsOn?.includes(idOf('AWS::IAM::Policy', /^GatewayServiceRoleDefaultPolicy/)));
  });

  test('an alarm on the endpoint 5xx answers (AWS/Lambda/Web, FunctionName and EndpointName)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'mcp-server-web-errors',
      Namespace: 'AWS/Lambda/Web',
      MetricName: 'HTTPResponseStatusClass5XX',
      Dimensions: [
        { Name: 'EndpointName', Value: 'prod' },
        { Name: 'FunctionName', Value: 'mcp-server-web' },
      ],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    const webAlarms = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::CloudWatch::Alarm' &&
        /^mcp-server-web-[a-z]+$/.test(String(r.Properties!['AlarmName'])),
    );
    assert.equal(webAlarms.length, 1);
  });

  test('outputs: the web function ARN and its MCP endpoint, no Lambda ARN', () => {
    const outputs = result.template['Outputs'] as Record<string, { Value: unknown }>;
    assert.deepEqual(outputs['McpWebEndpointUrl']?.Value, {
      'Fn::Join': [
        '',
        [
          'https://',
          getAtt(idOf('AWS::Lambda::WebFunctionEndpoint', /^Serverweb[A-Z]/), 'DomainName'),
          '/mcp',
        ],
      ],
    });
    assert.deepEqual(
      outputs['McpWebWebFunctionArn']?.Value,
      getAtt(idOf('AWS::Lambda::WebFunction', /^Serverweb[A-Z]/), 'FunctionArn'),
    );
    assert.equal(outputs['McpWebLambdaArn'], undefined);
    assert.ok(outputs['McpWebsignedEndpointUrl'] !== undefined);
  });
});

describe('managed-instances', () => {
  test('the zip function on Node.js 22, attached to its capacity provider, published to $LATEST.PUBLISHED', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'mcp-server-lmi',
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      MemorySize: 2048,
      Architectures: ['arm64'],
      CapacityProviderConfig: {
        LambdaManagedInstancesCapacityProviderConfig: {
          CapacityProviderArn: getAtt(idOf('AWS::Lambda::CapacityProvider', /^Serverlmi/), 'Arn'),
          PerExecutionEnvironmentMaxConcurrency: 16,
        },
      },
      FunctionScalingConfig: { MinExecutionEnvironments: 2, MaxExecutionEnvironments: 6 },
      PublishToLatestPublished: true,
      VpcConfig: Match.absent(),
      ReservedConcurrentExecutions: Match.absent(),
    });
  });

  test('a capacity provider of its own: its subnets and security groups by id, its architecture, its vCPUs', () => {
    template.resourceCountIs('AWS::Lambda::CapacityProvider', 1);
    template.hasResourceProperties('AWS::Lambda::CapacityProvider', {
      VpcConfig: {
        SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
        SecurityGroupIds: ['sg-0123456789abcdef0'],
      },
      InstanceRequirements: { Architectures: ['arm64'] },
      // Below the L2's own minimum of 12: set on the L1, as Lambda's API allows 2–15000.
      CapacityProviderScalingConfig: { MaxVCpuCount: 8 },
      PermissionsConfig: {
        CapacityProviderOperatorRoleArn: getAtt(
          idOf('AWS::IAM::Role', /^ServerlmiCapacityProviderOperatorRole/),
          'Arn',
        ),
      },
      Tags: Match.arrayWith([{ Key: 'mcp-fleet:server', Value: 'lmi' }]),
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      }),
      ManagedPolicyArns: [
        {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AWSLambdaManagedEC2ResourceOperator'],
          ],
        },
      ],
    });
  });

  test('a Lambda target on the unqualified function ARN (Lambda routes it to $LATEST.PUBLISHED)', () => {
    const fn = idOf('AWS::Lambda::Function', /^ServerlmiFunction/);
    template.hasResourceProperties('AWS::BedrockAgentCore::GatewayTarget', {
      Name: 'lmi',
      TargetConfiguration: { Mcp: { Lambda: Match.objectLike({ LambdaArn: getAtt(fn, 'Arn') }) } },
    });
    const grant = gatewayStatements().find((s) => JSON.stringify(s['Resource']).includes(fn));
    assert.deepEqual(grant?.['Resource'], [
      getAtt(fn, 'Arn'),
      { 'Fn::Join': ['', [getAtt(fn, 'Arn'), ':*']] },
    ]);
    // Its three Lambda alarms, as any event function's.
    for (const suffix of ['errors', 'throttles', 'duration'])
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: `mcp-server-lmi-${suffix}` });
  });
});

describe('what synthesis refuses', () => {
  const refused = (yaml: string, change?: (servers: BuiltServer[]) => BuiltServer[]): string => {
    const fleet = fleetConfig(yaml);
    const servers = hostServers(yaml);
    const app = new cdk.App({ ...NO_CFN_VALIDATION, outdir: path.join(dirs.root, 'refused') });
    try {
      new McpFleetStack(app, 'Refused', { fleet, servers: change === undefined ? servers : change(servers) });
    } catch (err) {
      assert.ok(err instanceof FleetStackError, String(err));
      return err.message;
    }
    assert.fail('the stack was defined');
  };
  /** Where a server's `host:` value is written in the text (validate's place for a host's problems). */
  const hostAt = (yaml: string, id: string): string => {
    const lines = yaml.split('\n');
    const at = lines.findIndex((l, i) => i > lines.indexOf(`  ${id}:`) && l.startsWith('    host: '));
    assert.ok(at > 0, `${id} has a host`);
    return `servers.yaml:${at + 1}:${'    host: '.length + 1}`;
  };

  test('managed-instances without capacityProvider: the server and the file:line:column of its host (as validate says it)', () => {
    const yaml = HOSTS_YAML.replace(/ {4}capacityProvider:\n(?: {6}.*\n)+/, '');
    const message = refused(yaml);
    assert.ok(
      message.includes(
        `${hostAt(yaml, 'lmi')} lmi.host: host managed-instances needs capacityProvider: {subnetIds:`,
      ),
      message,
    );
  });

  test('managed-instances below 2048 MB of memory (servers.yaml refuses it; synthesis too, for a fleet made in code)', () => {
    const small = (s: ServerConfig): ServerConfig => (s.id === 'lmi' ? { ...s, memory: 1024 } : s);
    const fleet = fleetConfig(HOSTS_YAML);
    const app = new cdk.App({ ...NO_CFN_VALIDATION, outdir: path.join(dirs.root, 'refused-memory') });
    assert.throws(
      () =>
        new McpFleetStack(app, 'Refused', {
          fleet: { ...fleet, servers: fleet.servers.map(small) },
          servers: hostServers(HOSTS_YAML).map((b) => ({ ...b, server: small(b.server) })),
        }),
      /lmi\.memory: 1024 MB is below the 2048 MB of the smallest Lambda Managed Instances function/,
    );
  });

  test('a build for another host (a web function carrying the event handler), and an image on a Node.js host', () => {
    const stale = refused(HOSTS_YAML, (servers) =>
      servers.map((b) =>
        b.server.id === 'web' ? { ...b, artifact: { kind: 'zip', dir: zipRoot(b.server, 'function') } } : b,
      ),
    );
    assert.match(
      stale,
      new RegExp(
        `${hostAt(HOSTS_YAML, 'web')} web\\.host: the build in .* is for host function, not web-function; run mcp-fleet build`,
      ),
    );
    const image = refused(HOSTS_YAML, (servers) =>
      servers.map((b) =>
        b.server.id === 'lmi' ? { ...b, artifact: { kind: 'image', dir: dirs.image } } : b,
      ),
    );
    assert.match(
      image,
      /lmi\.host: host managed-instances runs a Node\.js zip, and the build of lmi is a container image/,
    );
  });
});

describe('alarms with a topic', () => {
  test('the web function alarm notifies the topic of every alarm (ALARM and OK)', () => {
    const app = new cdk.App({ ...NO_CFN_VALIDATION, outdir: path.join(dirs.root, 'topic') });
    const topics = new cdk.Stack(app, 'Topics');
    const alarmTopic = sns.Topic.fromTopicArn(topics, 'Alarms', 'arn:aws:sns:us-east-1:123456789012:alarms');
    const fleet = fleetConfig(HOSTS_YAML);
    const stack = new McpFleetStack(app, 'WithTopic', { fleet, servers: hostServers(), alarmTopic });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'mcp-server-web-errors',
      AlarmActions: ['arn:aws:sns:us-east-1:123456789012:alarms'],
      OKActions: ['arn:aws:sns:us-east-1:123456789012:alarms'],
    });
  });
});

describe('checks of the stack with all three hosts', () => {
  test('cdk-nag AwsSolutions: nothing left; each acknowledgment is on the construct that causes it, with a reason', () => {
    assert.deepEqual(nagViolations(result.stack), []);
    assert.deepEqual(result.nagWarnings, []);
    const acks = nagAcknowledgments(result.stack);
    const at = (pattern: RegExp): string[] =>
      acks.filter((a) => pattern.test(`${a.scope.node.path} ${a.id}`)).map((a) => a.id);
    assert.deepEqual(at(/AWSCDKWebFunctionAssetBucket /), ['AwsSolutions-S1']);
    assert.deepEqual(at(/Server-lmi\/CapacityProvider\/OperatorRole /), [
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator]',
    ]);
    assert.ok(at(/WebFunctionCodeCopy\/Role\/DefaultPolicy /).length > 0);
    // No AWS managed policy on any web function's role, nor on the copy function's.
    assert.deepEqual(at(/(Server-web|WebFunctionCodeCopy).* AwsSolutions-IAM4/), []);
    for (const a of acks) assert.ok(a.reason.length > 40, a.id);
  });

  test("CDK's check against the CloudFormation schemas reports nothing", () => {
    const report = JSON.parse(readFileSync(result.validationReportFile, 'utf8')) as {
      pluginReports: unknown[];
    };
    assert.deepEqual(report.pluginReports, []);
  });

  test('cfn-lint finds no error; its only warnings are dependencies CDK states twice (W3005)', () => {
    const matches = cfnLintWithoutErrors(result.templateFile, dirs.root);
    // A function's DependsOn of its role (see cfn-lint.test.ts), and the WebFunction L2's explicit
    // dependencies of its revision and endpoint on the function and the revision they reference.
    for (const m of matches) {
      assert.equal(m.Rule.Id, 'W3005', `${m.Rule.Id} ${m.Message}`);
      assert.match(
        m.Message,
        /^'(\w+Role\w*|ServerwebWebFunction\w+|ServerwebsignedWebFunction\w+)' dependency already enforced by a '(GetAtt|Ref)' at 'Resources\/\w+\/Properties\/(Role|FunctionName|RevisionWeights\/0\/RevisionId)'$/,
      );
    }
  });

  test('the dashboard has a row per server, the web functions with their endpoint answers', () => {
    const dashboard = resources[idOf('AWS::CloudWatch::Dashboard', /^Dashboard/)]!;
    const body = JSON.stringify(dashboard.Properties!['DashboardBody']);
    for (const id of ['git', 'aws-diagram', 'web', 'web-signed', 'lmi'])
      assert.ok(body.includes(`${id}: tool calls`), id);
    assert.ok(body.includes('web: endpoint answers'));
    assert.ok(body.includes('AWS/Lambda/Web') && body.includes('HTTPResponseStatusClass5XX'));
    assert.ok(body.includes('lmi: invocations'));
  });
});
