import assert from 'node:assert/strict';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildInterceptors, interceptorDir } from '../../src/build/interceptor.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { nagAcknowledgments, nagViolations, synthFleet, type SynthResult } from '../../src/infra/index.js';
import { ROOT } from '../helpers.js';
import { artifactDirs, assertCfnLintClean, builtServers, FLEET_YAML } from './support.js';

/*
 * The test fleet with both gateway interceptors: each its own Lambda function (bundled from the
 * handler files by the build), role, log group and tags, on the Gateway's
 * InterceptorConfigurations, and the gateway role allowed to invoke exactly those functions.
 */
type Json = Record<string, unknown>;

let dirs: ReturnType<typeof artifactDirs>;
let result: SynthResult;
let template: Template;
let resources: Record<string, { Type: string; Properties?: Json; DependsOn?: string[] }>;

const YAML = FLEET_YAML.replace(
  '  instructions: Tools of the mcp-fleet test fleet\n',
  `  instructions: Tools of the mcp-fleet test fleet
  interceptors:
    request: { handler: gate.mjs, passRequestHeaders: true, timeout: 5, memory: 512 }
    response: { handler: "redact.ts#redact" }
tags:
  team: platform
`,
);

before(async () => {
  dirs = artifactDirs();
  const fixtures = path.join(ROOT, 'test', 'fixtures', 'interceptors');
  copyFileSync(path.join(fixtures, 'gate.mjs'), path.join(dirs.root, 'gate.mjs'));
  copyFileSync(path.join(fixtures, 'redact.ts'), path.join(dirs.root, 'redact.ts'));
  writeFileSync(path.join(dirs.root, 'servers.yaml'), YAML);
  const fleet = await loadConfigOrThrow(path.join(dirs.root, 'servers.yaml'));
  const buildDir = path.join(dirs.root, 'build');
  const built = await buildInterceptors(fleet, buildDir);
  assert.deepEqual(
    built.map((b) => [b.point, b.dir]),
    [
      ['request', interceptorDir(buildDir, 'request')],
      ['response', interceptorDir(buildDir, 'response')],
    ],
  );
  result = synthFleet({
    fleet,
    servers: builtServers(fleet, dirs),
    outdir: path.join(dirs.root, 'cdk.out'),
    interceptorDirs: Object.fromEntries(built.map((b) => [b.point, b.dir])),
  });
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
const arnOf = (id: string): Json => ({ 'Fn::GetAtt': [id, 'Arn'] });

describe('gateway interceptors in the stack', () => {
  test('the build bundles each handler into index.mjs exporting handler (the export named in the config)', async () => {
    const dir = interceptorDir(path.join(dirs.root, 'build'), 'response');
    const mod = (await import(path.join(dir, 'index.mjs'))) as { handler: (e: unknown) => Promise<Json> };
    const out = await mod.handler({
      interceptorInputVersion: '1.0',
      mcp: {
        rawGatewayRequest: { body: '{}' },
        gatewayRequest: {
          path: '/mcp',
          httpMethod: 'POST',
          body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} },
        },
        gatewayResponse: {
          statusCode: 200,
          body: { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'ssn 123-45-6789' }] } },
        },
      },
    });
    assert.equal(out['interceptorOutputVersion'], '1.0');
    assert.match(JSON.stringify(out), /ssn \[redacted\]/);
  });

  test('each interceptor is its own function: name, handler, runtime, architecture, timeout, memory', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'mcp-fleet-interceptor-request-mcp-fleet-test',
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 5,
      MemorySize: 512,
      Role: arnOf(idOf('AWS::IAM::Role', /^Interceptorrequest.*Role/)),
      LoggingConfig: { LogGroup: { Ref: idOf('AWS::Logs::LogGroup', /^Interceptorrequest/) } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'mcp-fleet-interceptor-response-mcp-fleet-test',
      Timeout: 10,
      MemorySize: 256,
    });
  });

  test('each has its log group with a retention, and a role that may write there and do nothing else', () => {
    for (const point of ['request', 'response']) {
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws/lambda/mcp-fleet-interceptor-${point}-mcp-fleet-test`,
        RetentionInDays: 30,
      });
      const role = idOf('AWS::IAM::Role', new RegExp(`^Interceptor${point}.*Role`));
      assert.equal(resources[role]?.Properties?.['ManagedPolicyArns'], undefined, 'no managed policies');
      const policies = Object.values(resources).filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          JSON.stringify(r.Properties?.['Roles']) === JSON.stringify([{ Ref: role }]),
      );
      assert.equal(policies.length, 1);
      const statements = (policies[0]!.Properties!['PolicyDocument'] as { Statement: Json[] }).Statement;
      assert.deepEqual(
        statements.map((s) => s['Action']),
        [['logs:CreateLogStream', 'logs:PutLogEvents']],
      );
      assert.deepEqual(
        statements[0]!['Resource'],
        arnOf(idOf('AWS::Logs::LogGroup', new RegExp(`^Interceptor${point}`))),
      );
    }
  });

  test("the Gateway's InterceptorConfigurations: one REQUEST (with headers) and one RESPONSE, on those functions", () => {
    template.hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
      InterceptorConfigurations: [
        {
          InterceptionPoints: ['REQUEST'],
          Interceptor: { Lambda: { Arn: arnOf(idOf('AWS::Lambda::Function', /^Interceptorrequest/)) } },
          InputConfiguration: { PassRequestHeaders: true },
        },
        {
          InterceptionPoints: ['RESPONSE'],
          Interceptor: { Lambda: { Arn: arnOf(idOf('AWS::Lambda::Function', /^Interceptorresponse/)) } },
          InputConfiguration: { PassRequestHeaders: false },
        },
      ],
    });
  });

  test('the gateway role may invoke exactly the interceptor functions (and its targets), nothing wider', () => {
    const gatewayRole = idOf('AWS::IAM::Role', /^GatewayServiceRole/);
    const statements = Object.values(resources)
      .filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          JSON.stringify(r.Properties?.['Roles']).includes(`"${gatewayRole}"`),
      )
      .flatMap((r) => (r.Properties!['PolicyDocument'] as { Statement: Json[] }).Statement);
    const invoke = statements.filter((s) => JSON.stringify(s['Action']).includes('lambda:InvokeFunction'));
    const resourcesOf = invoke.flatMap((s) => s['Resource'] as Json[]);
    for (const point of ['request', 'response']) {
      const fn = idOf('AWS::Lambda::Function', new RegExp(`^Interceptor${point}`));
      assert.deepEqual(
        resourcesOf.filter((r) => JSON.stringify(r).includes(fn)),
        [arnOf(fn), { 'Fn::Join': ['', [arnOf(fn), ':*']] }],
      );
    }
    // Every invoke grant names a function of the stack: no wildcard resource.
    assert.ok(!JSON.stringify(resourcesOf).includes('"*"'));
    const functions = new Set(
      Object.entries(resources)
        .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
        .map(([id]) => id),
    );
    for (const r of resourcesOf) {
      const id = JSON.stringify(r).match(/"Fn::GetAtt":\["([^"]+)"/)?.[1];
      assert.ok(id !== undefined && functions.has(id), JSON.stringify(r));
    }
  });

  test("tags: the fleet's and mcp-fleet:interceptor on each interceptor's function, role and log group", () => {
    for (const point of ['request', 'response']) {
      for (const type of ['AWS::Lambda::Function', 'AWS::IAM::Role']) {
        template.hasResourceProperties(type, {
          Tags: Match.arrayWith([
            { Key: 'mcp-fleet:interceptor', Value: point },
            { Key: 'mcp-fleet:stack', Value: 'McpFleetTest' },
            { Key: 'team', Value: 'platform' },
          ]),
        });
      }
      const group = resources[idOf('AWS::Logs::LogGroup', new RegExp(`^Interceptor${point}`))]!;
      assert.deepEqual(
        (group.Properties!['Tags'] as Json[]).find((t) => t['Key'] === 'mcp-fleet:interceptor'),
        { Key: 'mcp-fleet:interceptor', Value: point },
      );
    }
  });

  test('a fleet with interceptors but no built function folders is refused with a clear problem', async () => {
    const fleet = await loadConfigOrThrow(path.join(dirs.root, 'servers.yaml'));
    assert.throws(
      () =>
        synthFleet({
          fleet,
          servers: builtServers(fleet, dirs),
          outdir: path.join(dirs.root, 'refused.out'),
          stackId: 'Refused',
        }),
      /request interceptor: no built function folder; run mcp-fleet build/,
    );
  });

  test('cdk-nag AwsSolutions: nothing left; each acknowledgment has its reason', () => {
    assert.deepEqual(nagViolations(result.stack), []);
    assert.deepEqual(result.nagWarnings, []);
    const acks = nagAcknowledgments(result.stack).filter((a) => a.id.includes('Interceptor'));
    assert.equal(acks.length, 2, acks.map((a) => a.id).join('\n'));
    for (const a of acks) assert.match(a.reason, /interceptor function/);
  });

  test('cfn-lint finds no error', () => {
    assertCfnLintClean(result.templateFile, path.join(dirs.root, 'interceptors.template.json'));
  });
});
