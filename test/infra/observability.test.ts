import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { nagViolations, synthFleet, type SynthResult } from '../../src/infra/index.js';
import {
  artifactDirs,
  assertCfnLintClean,
  fleetConfig,
  hostBuiltServers,
  MIXED_HOSTS_YAML,
  onlyResourceId,
} from './support.js';

/*
 * Traces and logs deployed (`gateway.tracing`, `gateway.logs`, both on by default): the gateway's
 * vended logs to a log group of the stack and its traces to X-Ray (L1 delivery resources: the
 * Gateway L2 has no such setting), each event function with X-Ray active tracing (the daemon
 * the runtime sends its spans to), each AgentCore runtime's traces, and one X-Ray resource policy
 * letting the delivery service write the stack's own sources' traces.
 */
type Json = Record<string, unknown>;
type Resources = Record<string, { Type: string; Properties?: Json; DependsOn?: string[] }>;

let dirs: ReturnType<typeof artifactDirs>;
const synth = (
  yaml: string,
  name: string,
): { result: SynthResult; template: Template; resources: Resources } => {
  const result = synthFleet({
    fleet: fleetConfig(yaml),
    servers: hostBuiltServers(yaml, dirs, (server) =>
      server.id === 'rt' ? { kind: 'image', dir: dirs.runtime } : undefined,
    ),
    outdir: path.join(dirs.root, `cdk.out-${name}`),
  });
  return {
    result,
    template: Template.fromJSON(result.template),
    resources: result.template['Resources'] as Resources,
  };
};

before(() => {
  dirs = artifactDirs();
});
after(() => {
  rmSync(dirs.root, { recursive: true, force: true });
});

describe('on by default', () => {
  let result: SynthResult;
  let template: Template;
  let resources: Resources;
  before(() => {
    ({ result, template, resources } = synth(MIXED_HOSTS_YAML, 'default'));
  });
  const idOf = (type: string, pattern: RegExp): string => onlyResourceId(resources, type, pattern);
  const sourcesOf = (arn: Json): Json[] =>
    Object.values(resources)
      .filter((r) => r.Type === 'AWS::Logs::DeliverySource')
      .map((r) => r.Properties ?? {})
      .filter((p) => JSON.stringify(p['ResourceArn']) === JSON.stringify(arn));

  test("the gateway's application logs go to a log group of the stack, its traces to X-Ray", () => {
    const gateway = idOf('AWS::BedrockAgentCore::Gateway', /^Gateway/);
    const sources = sourcesOf({ 'Fn::GetAtt': [gateway, 'GatewayArn'] });
    assert.deepEqual(sources.map((s) => s['LogType']).sort(), ['APPLICATION_LOGS', 'TRACES']);
    for (const s of sources) assert.match(String(s['Name']), /^[\w-]{1,60}$/);
    const logGroup = idOf('AWS::Logs::LogGroup', /^GatewayApplicationLogs/);
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/vendedlogs/bedrock-agentcore/gateway/mcp-fleet-test',
      RetentionInDays: 30,
    });
    template.hasResourceProperties('AWS::Logs::DeliveryDestination', {
      DestinationResourceArn: { 'Fn::GetAtt': [logGroup, 'Arn'] },
    });
    template.hasResourceProperties('AWS::Logs::DeliveryDestination', { DeliveryDestinationType: 'XRAY' });
    // Each delivery pairs a source of the stack with a destination of the stack.
    for (const d of Object.values(resources).filter((r) => r.Type === 'AWS::Logs::Delivery')) {
      const p = d.Properties ?? {};
      const source = (p['DeliverySourceName'] as { Ref: string }).Ref;
      const destination = (p['DeliveryDestinationArn'] as { 'Fn::GetAtt': [string, string] })[
        'Fn::GetAtt'
      ][0];
      assert.equal(resources[source]?.Type, 'AWS::Logs::DeliverySource');
      assert.equal(resources[destination]?.Type, 'AWS::Logs::DeliveryDestination');
    }
  });

  test('event functions have active tracing; web functions and managed instances are left as they are', () => {
    const tracing = (pattern: RegExp): unknown =>
      resources[idOf('AWS::Lambda::Function', pattern)]?.Properties?.['TracingConfig'];
    assert.deepEqual(tracing(/^ServergitFunction/), { Mode: 'Active' });
    assert.deepEqual(tracing(/^ServerawsdiagramFunction/), { Mode: 'Active' });
    assert.equal(tracing(/^ServerlmiFunction/), undefined, 'no AWS source says managed instances take it');
    for (const r of Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::WebFunction'))
      assert.equal(r.Properties?.['TracingConfig'], undefined);
  });

  test("each AgentCore runtime's traces go to X-Ray", () => {
    const runtime = idOf('AWS::BedrockAgentCore::Runtime', /^ServerrtRuntime/);
    const sources = sourcesOf({ 'Fn::GetAtt': [runtime, 'AgentRuntimeArn'] });
    assert.deepEqual(sources.map((s) => s['LogType']).sort(), ['APPLICATION_LOGS', 'TRACES']);
  });

  test("one X-Ray resource policy: the delivery service may put the stack's own sources' traces, before any destination takes them", () => {
    const policies = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::XRay::ResourcePolicy');
    assert.equal(policies.length, 1);
    const [policyId, policy] = policies[0]!;
    const document = JSON.stringify(policy.Properties?.['PolicyDocument']);
    assert.match(document, /delivery\.logs\.amazonaws\.com/);
    assert.match(document, /xray:PutTraceSegments/);
    assert.match(document, /logs:LogGeneratingResourceArns/);
    const gateway = idOf('AWS::BedrockAgentCore::Gateway', /^Gateway/);
    const runtime = idOf('AWS::BedrockAgentCore::Runtime', /^ServerrtRuntime/);
    assert.ok(document.includes(gateway) && document.includes(runtime), document);
    for (const [, d] of Object.entries(resources).filter(
      ([, r]) =>
        r.Type === 'AWS::Logs::DeliveryDestination' && r.Properties?.['DeliveryDestinationType'] === 'XRAY',
    ))
      assert.ok(d.DependsOn?.includes(policyId), 'the destination waits for the policy');
  });

  test('cdk-nag finds nothing, and cfn-lint no error', () => {
    assert.deepEqual(nagViolations(result.stack), []);
    const file = path.join(dirs.root, 'observability.template.json');
    writeFileSync(file, JSON.stringify(result.template));
    assertCfnLintClean(file, path.join(dirs.root, 'lint-observability'));
  });
});

test('tracing: false and logs: false turn all of it off', () => {
  const yaml = MIXED_HOSTS_YAML.replace(
    '  instructions: Tools of the mcp-fleet test fleet\n',
    '  instructions: Tools of the mcp-fleet test fleet\n  tracing: false\n  logs: false\n',
  );
  assert.notEqual(yaml, MIXED_HOSTS_YAML);
  const { template, resources } = synth(yaml, 'off');
  template.resourceCountIs('AWS::XRay::ResourcePolicy', 0);
  // What is left: each runtime's own application logs (its L2's setting).
  template.resourceCountIs('AWS::Logs::DeliveryDestination', 2);
  const sources = Object.values(resources).filter((r) => r.Type === 'AWS::Logs::DeliverySource');
  assert.deepEqual(
    sources.map((r) => r.Properties?.['LogType']),
    ['APPLICATION_LOGS', 'APPLICATION_LOGS'],
  );
  for (const r of Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function'))
    assert.equal(r.Properties?.['TracingConfig'], undefined);
});
