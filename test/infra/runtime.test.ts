/**
 * `host: agentcore-runtime`: an AgentCore Runtime (L2 `Runtime`, protocol MCP, IAM inbound auth,
 * the session lifecycle from servers.yaml) behind an MCP-server target on its invoke URL, signed
 * by the gateway's role for bedrock-agentcore; the gateway's MCP sessions; cdk-nag, CDK's schema
 * check and cfn-lint on a template with all four hosts.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as cdk from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  McpFleetStack,
  nagAcknowledgments,
  nagViolations,
  runtimeNameOf,
  synthFleet,
  type BuiltServer,
  type SynthResult,
} from '../../src/infra/index.js';
import {
  artifactDirs,
  builtServers,
  cfnLintWithoutErrors,
  FLEET_YAML,
  fleetConfig,
  hostBuiltServers,
  MIXED_HOSTS_YAML,
  hostZipRoot,
  NO_CFN_VALIDATION,
  onlyResourceId,
} from './support.js';

type Json = Record<string, unknown>;
type Resources = Record<string, { Type: string; Properties?: Json; DependsOn?: string[] }>;

let dirs: ReturnType<typeof artifactDirs>;
let result: SynthResult;
let template: Template;
let resources: Resources;

/** The built servers of a fleet of MIXED_HOSTS_YAML's shape: `rt` a container, `rt-code` direct code. */
const runtimeServers = (yaml = MIXED_HOSTS_YAML): BuiltServer[] =>
  hostBuiltServers(yaml, dirs, (server) =>
    server.id === 'rt' ? { kind: 'image', dir: dirs.runtime } : undefined,
  );

before(() => {
  dirs = artifactDirs();
  result = synthFleet({
    fleet: fleetConfig(MIXED_HOSTS_YAML),
    servers: runtimeServers(),
    outdir: path.join(dirs.root, 'cdk.out'),
  });
  template = Template.fromJSON(result.template);
  resources = result.template['Resources'] as Resources;
});
after(() => {
  rmSync(dirs.root, { recursive: true, force: true });
});

const idOf = (type: string, pattern: RegExp): string => onlyResourceId(resources, type, pattern);
const getAtt = (id: string, attr: string): Json => ({ 'Fn::GetAtt': [id, attr] });
const runtimeId = (server: string): string =>
  idOf('AWS::BedrockAgentCore::Runtime', new RegExp(`^Server${server}Runtime[A-F0-9]`));
const runtimeOf = (server: string): Json => resources[runtimeId(server)]!.Properties!;
const gatewayStatements = (): Json[] =>
  (
    resources[idOf('AWS::IAM::Policy', /^GatewayServiceRoleDefaultPolicy/)]!.Properties![
      'PolicyDocument'
    ] as { Statement: Json[] }
  ).Statement;

/** A CloudFormation value resolved with sample pseudo parameters and runtime ids. */
function resolveSample(value: unknown, ids: Record<string, string>): string {
  if (typeof value === 'string') return value;
  const o = value as Json;
  if (Array.isArray(o['Fn::Join'])) {
    const [delimiter, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolveSample(p, ids)).join(delimiter);
  }
  const pseudo: Record<string, string> = {
    'AWS::Region': 'eu-west-1',
    'AWS::AccountId': '123456789012',
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  if (typeof o['Ref'] === 'string' && o['Ref'] in pseudo) return pseudo[o['Ref']]!;
  const att = o['Fn::GetAtt'] as [string, string] | undefined;
  if (att !== undefined && att[1] === 'AgentRuntimeId' && att[0] in ids) return ids[att[0]]!;
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

describe('the runtime', () => {
  test('an AgentCore Runtime mcp_server_<id>: protocol MCP, IAM auth, the lifecycle from servers.yaml, its role', () => {
    template.resourceCountIs('AWS::BedrockAgentCore::Runtime', 2);
    const rt = runtimeOf('rt');
    assert.equal(rt['AgentRuntimeName'], 'mcp_server_rt');
    assert.equal(rt['ProtocolConfiguration'], 'MCP');
    assert.deepEqual(rt['LifecycleConfiguration'], { IdleRuntimeSessionTimeout: 300, MaxLifetime: 3600 });
    // IAM (SigV4) is the runtime's inbound auth when no JWT authorizer is set.
    assert.equal(rt['AuthorizerConfiguration'], undefined);
    assert.deepEqual(rt['RoleArn'], getAtt(idOf('AWS::IAM::Role', /^ServerrtRole/), 'Arn'));
    assert.equal(rt['Description'], 'mcp-fleet: rt (On AgentCore Runtime)');
    // Public network: the config refuses aws.vpc on this host.
    assert.deepEqual(rt['NetworkConfiguration'], { NetworkMode: 'PUBLIC' });
  });

  test("logs: the runtime's application logs delivered to a log group of the stack's, kept as long as a function's", () => {
    // One per runtime, under /aws/vendedlogs/ (no resource policy per runtime), with the retention
    // of servers.yaml; beside them each runtime's traces and the gateway's logs and traces.
    template.resourceCountIs('AWS::Logs::Delivery', 6);
    assert.equal(
      Object.values(template.findResources('AWS::Logs::DeliverySource')).filter(
        (r) => (r['Properties'] as Record<string, unknown>)['LogType'] === 'APPLICATION_LOGS',
      ).length,
      3,
    );
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/vendedlogs/bedrock-agentcore/mcp_server_rt',
      RetentionInDays: 30,
    });
    template.hasResourceProperties('AWS::Logs::DeliverySource', {
      LogType: 'APPLICATION_LOGS',
      ResourceArn: getAtt(runtimeId('rt'), 'AgentRuntimeArn'),
    });
    template.resourceCountIs('AWS::Logs::ResourcePolicy', 0);
  });

  test("the lifecycle defaults are AgentCore's own (900 s idle, 8 h)", () => {
    assert.deepEqual(runtimeOf('rtcode')['LifecycleConfiguration'], {
      IdleRuntimeSessionTimeout: 900,
      MaxLifetime: 28_800,
    });
  });

  test('an image build runs as a container (a CDK image asset); a zip as NODE_22 direct code with index.mjs', () => {
    const container = runtimeOf('rt')['AgentRuntimeArtifact'] as Json;
    assert.deepEqual(Object.keys(container), ['ContainerConfiguration']);
    assert.match(JSON.stringify(container), /dkr\.ecr\..*cdk-hnb659fds-container-assets/);
    const code = (runtimeOf('rtcode')['AgentRuntimeArtifact'] as Json)['CodeConfiguration'] as Json;
    assert.equal(code['Runtime'], 'NODE_22');
    assert.deepEqual(code['EntryPoint'], ['index.mjs']);
    assert.deepEqual(Object.keys((code['Code'] as Json)['S3'] as Json).sort(), ['Bucket', 'Prefix']);
  });

  test('the image asset is built for linux/arm64', () => {
    const assets = JSON.parse(
      readFileSync(path.join(dirs.root, 'cdk.out', `${result.stack.artifactId}.assets.json`), 'utf8'),
    ) as { dockerImages: Record<string, { source: { directory: string; platform?: string } }> };
    const images = Object.values(assets.dockerImages);
    const runtime = images.filter((i) => i.source.platform === 'linux/arm64');
    assert.ok(runtime.length >= 1, JSON.stringify(images.map((i) => i.source)));
  });

  test("environment: the server's env without the platform's keys, the server id and Powertools' settings", () => {
    assert.deepEqual(runtimeOf('rt')['EnvironmentVariables'], {
      KEEP: 'kept',
      MCP_FLEET_SERVER_ID: 'rt',
      POWERTOOLS_SERVICE_NAME: 'mcp-server-rt',
      POWERTOOLS_METRICS_NAMESPACE: 'McpFleet',
    });
    assert.deepEqual(result.stack.runtimes.get('rt')?.omittedEnv, ['AWS_REGION']);
  });

  test('tags: the server tag and its own on the runtime, its role and its alarms', () => {
    assert.deepEqual((runtimeOf('rt')['Tags'] as Json)['mcp-fleet:server'], 'rt');
    assert.deepEqual((runtimeOf('rt')['Tags'] as Json)['team'], 'sessions');
    template.hasResourceProperties('AWS::IAM::Role', {
      Description: 'mcp-fleet: execution role of mcp-server-rt',
      Tags: Match.arrayWith([{ Key: 'mcp-fleet:server', Value: 'rt' }]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'mcp-server-rt-errors',
      Tags: Match.arrayWith([{ Key: 'team', Value: 'sessions' }]),
    });
  });

  test('its role: trusted by bedrock-agentcore for this runtime only, its secret, its declared statements, no Lambda', () => {
    const role = resources[idOf('AWS::IAM::Role', /^ServerrtRole/)]!.Properties!;
    assert.deepEqual((role['AssumeRolePolicyDocument'] as { Statement: Json[] }).Statement, [
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'bedrock-agentcore.amazonaws.com' },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: {
            'aws:SourceArn': {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':bedrock-agentcore:',
                  { Ref: 'AWS::Region' },
                  ':',
                  { Ref: 'AWS::AccountId' },
                  ':runtime/mcp_server_rt-*',
                ],
              ],
            },
          },
        },
      },
    ]);
    assert.equal(role['ManagedPolicyArns'], undefined);
    const policy = JSON.stringify(
      resources[idOf('AWS::IAM::Policy', /^ServerrtRoleDefaultPolicy/)]!.Properties!['PolicyDocument'],
    );
    assert.ok(policy.includes('ssm:GetParameter') && policy.includes(':parameter/mcp/rt/token'), policy);
    assert.ok(policy.includes('bedrock-agentcore/runtimes'), 'the L2 grants the runtime log groups');
    assert.ok(policy.includes('ecr:BatchGetImage'), 'the role may pull its image');
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [Match.objectLike({ Action: 's3:Get*', Resource: 'arn:aws:s3:::mcp-rt-data/*' })],
      },
      Roles: [{ Ref: idOf('AWS::IAM::Role', /^ServerrtRole/) }],
    });
    // The runtime waits for the declared policy as well as its role.
    assert.ok(resources[runtimeId('rt')]!.DependsOn?.some((d) => d.startsWith('ServerrtDeclaredPolicy')));
  });

  test('the direct-code runtime may read its code from the asset bucket', () => {
    const policy = JSON.stringify(
      resources[idOf('AWS::IAM::Policy', /^ServerrtcodeRoleDefaultPolicy/)]!.Properties!['PolicyDocument'],
    );
    assert.ok(policy.includes('s3:GetObject') && policy.includes('cdk-hnb659fds-assets'), policy);
  });

  test('alarms on the runtime system errors and throttles (AWS/Bedrock-AgentCore, the DEFAULT endpoint)', () => {
    for (const [suffix, metric] of [
      ['errors', 'SystemErrors'],
      ['throttles', 'Throttles'],
    ] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `mcp-server-rt-${suffix}`,
        Namespace: 'AWS/Bedrock-AgentCore',
        MetricName: metric,
        Statistic: 'Sum',
        Threshold: 1,
        Dimensions: Match.arrayWith([
          { Name: 'Name', Value: 'mcp_server_rt::DEFAULT' },
          { Name: 'Operation', Value: 'InvokeAgentRuntime' },
          { Name: 'Resource', Value: getAtt(runtimeId('rt'), 'AgentRuntimeArn') },
        ]),
      });
    }
  });

  test('runtime names: letters, digits and _ only, at most 48, distinct when clipped', () => {
    assert.equal(runtimeNameOf('mcp-server-aws-pricing'), 'mcp_server_aws_pricing');
    const long = runtimeNameOf(`mcp-server-${'x'.repeat(60)}`);
    assert.match(long, /^[a-zA-Z][a-zA-Z0-9_]{0,47}$/);
    assert.notEqual(long, runtimeNameOf(`mcp-server-${'x'.repeat(61)}`));
  });
});

describe('the gateway target', () => {
  test('an MCP-server target on the invoke URL: https://bedrock-agentcore.<region>.amazonaws.com/runtimes/<encoded ARN>/invocations?qualifier=DEFAULT', () => {
    const target = resources[idOf('AWS::BedrockAgentCore::GatewayTarget', /^GatewayTargetrt[A-F0-9]/)]!;
    const server = ((target.Properties!['TargetConfiguration'] as Json)['Mcp'] as Json)['McpServer'] as Json;
    const sampleId = 'mcp_server_rt-Ab12Cd34Ef';
    const url = resolveSample(server['Endpoint'], { [runtimeId('rt')]: sampleId });
    const arn = `arn:aws:bedrock-agentcore:eu-west-1:123456789012:runtime/${sampleId}`;
    assert.equal(
      url,
      `https://bedrock-agentcore.eu-west-1.amazonaws.com/runtimes/${encodeURIComponent(arn)}/invocations?qualifier=DEFAULT`,
    );
    assert.ok(url.includes('arn%3Aaws%3Abedrock-agentcore%3Aeu-west-1%3A123456789012%3Aruntime%2F'));
    assert.equal(server['ListingMode'], 'DEFAULT');
    assert.deepEqual(target.Properties!['CredentialProviderConfigurations'], [
      {
        CredentialProviderType: 'GATEWAY_IAM_ROLE',
        CredentialProvider: { IamCredentialProvider: { Service: 'bedrock-agentcore' } },
      },
    ]);
    // The gateway lists the tools at creation, signed with its role: the grant must be in place.
    assert.ok(target.DependsOn?.some((d) => d.startsWith('GatewayServiceRole')));
  });

  test('the gateway role may invoke exactly each runtime (and its endpoints), nothing broader', () => {
    for (const server of ['rt', 'rtcode']) {
      const arn = getAtt(runtimeId(server), 'AgentRuntimeArn');
      const grants = gatewayStatements().filter(
        (s) => s['Action'] === 'bedrock-agentcore:InvokeAgentRuntime',
      );
      assert.ok(
        grants.some(
          (s) => Match.exact([arn, { 'Fn::Join': ['', [arn, '/*']] }]).test(s['Resource']).isSuccess,
        ),
        `${server}: ${JSON.stringify(grants)}`,
      );
    }
    const invoke = gatewayStatements().filter((s) =>
      JSON.stringify(s['Action']).includes('bedrock-agentcore:'),
    );
    for (const s of invoke)
      assert.ok(JSON.stringify(s['Resource']).includes('AgentRuntimeArn'), JSON.stringify(s));
  });

  test('outputs: the runtime ARN and its invoke URL, no Lambda ARN', () => {
    const outputs = result.template['Outputs'] as Record<string, { Value: unknown }>;
    assert.deepEqual(outputs['McpRtRuntimeArn']?.Value, getAtt(runtimeId('rt'), 'AgentRuntimeArn'));
    assert.match(JSON.stringify(outputs['McpRtRuntimeInvokeUrl']?.Value), /invocations\?qualifier=DEFAULT/);
    assert.ok(outputs['McpRtcodeRuntimeArn'] !== undefined);
    assert.equal(outputs['McpRtLambdaArn'], undefined);
  });
});

describe('gateway sessions', () => {
  const sessionConfig = (t: Template): unknown => {
    const gateways = t.findResources('AWS::BedrockAgentCore::Gateway');
    const [gateway] = Object.values(gateways) as { Properties: Json }[];
    return ((gateway!.Properties['ProtocolConfiguration'] as Json)['Mcp'] as Json)['SessionConfiguration'];
  };
  const stackOf = (yaml: string, servers: BuiltServer[], id: string): Template => {
    const app = new cdk.App({ ...NO_CFN_VALIDATION, outdir: path.join(dirs.root, id) });
    return Template.fromStack(new McpFleetStack(app, id, { fleet: fleetConfig(yaml), servers }));
  };

  test('on, for 3600 s by default, with a runtime server', () => {
    assert.deepEqual(sessionConfig(template), { SessionTimeoutInSeconds: 3600 });
    template.hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
      ProtocolConfiguration: {
        Mcp: Match.objectLike({
          SupportedVersions: Match.anyValue(),
          SessionConfiguration: Match.anyValue(),
        }),
      },
    });
  });

  test('as written (gateway.sessionTimeout)', () => {
    const yaml = MIXED_HOSTS_YAML.replace('  search: true\n', '  search: true\n  sessionTimeout: 7200\n');
    assert.deepEqual(sessionConfig(stackOf(yaml, runtimeServers(yaml), 'Written')), {
      SessionTimeoutInSeconds: 7200,
    });
  });

  test('response streaming on with MCP-server targets (a runtime is one), off when written so', () => {
    const streaming = (t: Template): unknown => {
      const [gateway] = Object.values(t.findResources('AWS::BedrockAgentCore::Gateway')) as {
        Properties: Json;
      }[];
      return ((gateway!.Properties['ProtocolConfiguration'] as Json)['Mcp'] as Json)[
        'StreamingConfiguration'
      ];
    };
    assert.deepEqual(streaming(template), { EnableResponseStreaming: true });
    const yaml = MIXED_HOSTS_YAML.replace('  search: true\n', '  search: true\n  responseStreaming: false\n');
    assert.equal(streaming(stackOf(yaml, runtimeServers(yaml), 'NoStreaming')), undefined);
  });

  test('off without a session host', () => {
    const fleet = fleetConfig(FLEET_YAML);
    assert.equal(fleet.gateway.sessionTimeout, undefined);
    assert.equal(sessionConfig(stackOf(FLEET_YAML, builtServers(fleet, dirs), 'NoSessions')), undefined);
  });
});

describe('what synthesis refuses and takes', () => {
  test('a runtime takes an image as well as a zip; a zip built for another host is refused', () => {
    const app = new cdk.App({ ...NO_CFN_VALIDATION, outdir: path.join(dirs.root, 'stale') });
    const servers = runtimeServers().map((b) =>
      b.server.id === 'rt-code'
        ? {
            ...b,
            artifact: {
              kind: 'zip' as const,
              dir: hostZipRoot(dirs.root, b.server, 'function'),
            },
          }
        : b,
    );
    assert.throws(
      () => new McpFleetStack(app, 'Stale', { fleet: fleetConfig(MIXED_HOSTS_YAML), servers }),
      /rt-code\.host: the build in .* is for host function, not agentcore-runtime; run mcp-fleet build/,
    );
  });
});

describe('checks of the stack with all four hosts', () => {
  test('cdk-nag AwsSolutions: nothing left; the runtime acknowledgments are on its role policy and the gateway role, with reasons', () => {
    assert.deepEqual(nagViolations(result.stack), []);
    assert.deepEqual(result.nagWarnings, []);
    const acks = nagAcknowledgments(result.stack);
    const at = (pattern: RegExp): string[] =>
      acks.filter((a) => pattern.test(`${a.scope.node.path} ${a.id}`)).map((a) => a.id);
    assert.ok(
      at(/Server-rt\/Role\/DefaultPolicy AwsSolutions-IAM5\[Resource::.*bedrock-agentcore\/runtimes/).length >
        0,
    );
    assert.ok(
      at(/Server-rt-code\/Role\/DefaultPolicy AwsSolutions-IAM5\[Action::s3:GetObject\*\]/).length === 1,
    );
    // The declared wildcard is acknowledged on the declared policy, not the default one.
    assert.deepEqual(at(/Server-rt\/DeclaredPolicy /), [
      'AwsSolutions-IAM5[Action::s3:Get*]',
      'AwsSolutions-IAM5[Resource::arn:aws:s3:::mcp-rt-data/*]',
    ]);
    assert.equal(at(/Gateway\/Gateway\/ServiceRole .*AgentRuntimeArn>\/\*\]/).length, 2);
    // No AWS managed policy on a runtime's role.
    assert.deepEqual(at(/Server-rt.* AwsSolutions-IAM4/), []);
    // One finding of several grants has every reason.
    const star = acks.find(
      (a) =>
        /Server-rt\/Role\/DefaultPolicy$/.test(a.scope.node.path) &&
        a.id === 'AwsSolutions-IAM5[Resource::*]',
    );
    assert.match(star?.reason ?? '', /X-Ray.*PutMetricData.*ecr:GetAuthorizationToken/);
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
    for (const m of matches) assert.equal(m.Rule.Id, 'W3005', `${m.Rule.Id} ${m.Message}`);
  });

  test('the dashboard has a runtime row per runtime server', () => {
    const body = JSON.stringify(
      resources[idOf('AWS::CloudWatch::Dashboard', /^Dashboard/)]!.Properties!['DashboardBody'],
    );
    for (const id of ['rt', 'rt-code']) {
      assert.ok(body.includes(`${id}: runtime invocations`), id);
      assert.ok(body.includes(`${id}: tool calls`), id);
    }
    assert.ok(body.includes('AWS/Bedrock-AgentCore') && body.includes('SystemErrors'));
  });
});
