import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as cdk from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { SchemaDefinitionType } from 'aws-cdk-lib/aws-bedrockagentcore';
import { INLINE_SCHEMA_MAX_BYTES } from '../../src/build/tool-catalog.js';
import {
  FleetStackError,
  McpFleetStack,
  ToolSchemaError,
  applyNagChecks,
  nagViolations,
  placeToolSchemas,
  toToolDefinitions,
  toolSchemaBytes,
  type LoweredTool,
} from '../../src/infra/index.js';
import { artifactDirs, builtServers, fleetConfig, GIT_TOOLS, NO_CFN_VALIDATION } from './support.js';

describe('lowered tools as the L2 tool definitions', () => {
  test('type, description, properties, required and items are kept, recursively; the rest is dropped', () => {
    const [def] = toToolDefinitions('t', [
      {
        name: 'search',
        description: 'Searches',
        inputSchema: {
          type: 'object',
          title: 'dropped',
          properties: {
            query: { type: 'string', description: 'What to look for' },
            filters: {
              type: 'array',
              items: { type: 'object', properties: { field: { type: 'string' } }, required: ['field'] },
            },
            limit: { type: 'number' },
            exact: { type: 'boolean', description: '' },
          },
          required: ['query'],
        },
        outputSchema: { type: 'object', properties: { hits: { type: 'integer' } } },
      },
    ]);
    const rendered = JSON.parse(
      JSON.stringify(def, (_k, v: unknown) => (v instanceof SchemaDefinitionType ? v.value : v)),
    ) as unknown;
    assert.deepEqual(rendered, {
      name: 'search',
      description: 'Searches',
      inputSchema: {
        type: 'object',
        properties: {
          query: { type: 'string', description: 'What to look for' },
          filters: {
            type: 'array',
            items: { type: 'object', properties: { field: { type: 'string' } }, required: ['field'] },
          },
          limit: { type: 'number' },
          exact: { type: 'boolean' },
        },
        required: ['query'],
      },
      outputSchema: { type: 'object', properties: { hits: { type: 'integer' } } },
    });
  });

  test('every schema AgentCore would refuse is listed at once', () => {
    const tools: LoweredTool[] = [
      { name: 'a', description: 'd', inputSchema: { type: 'string' } },
      {
        name: 'b',
        description: 'd',
        inputSchema: {
          type: 'object',
          properties: { x: { type: ['string', 'null'] }, y: { anyOf: [] }, z: { type: 'array' } },
        },
      },
    ];
    assert.throws(
      () => toToolDefinitions('t', tools),
      (err: unknown) => {
        assert.ok(err instanceof ToolSchemaError);
        assert.deepEqual(err.problems, [
          't/a.inputSchema: the top level must be type "object", not "string"',
          't/b.inputSchema.properties.x: type ["string","null"] is not one of string, number, integer, boolean, array, object',
          't/b.inputSchema.properties.y: type missing is not one of string, number, integer, boolean, array, object',
          't/b.inputSchema.properties.z: an array needs "items"',
        ]);
        return true;
      },
    );
  });
});

describe('where each tool schema goes', () => {
  const tools = (bytes: number): LoweredTool[] => [
    { name: 't', description: 'd'.repeat(bytes), inputSchema: { type: 'object' } },
  ];

  test('over 1 MB a schema goes to S3; then the largest move until the inline ones fit the budget', () => {
    const targets = [
      { id: 'small', tools: tools(10_000) },
      { id: 'big', tools: tools(INLINE_SCHEMA_MAX_BYTES) },
      { id: 'mid1', tools: tools(300_000) },
      { id: 'mid2', tools: tools(310_000) },
    ];
    assert.ok(toolSchemaBytes(targets[1]!.tools) > INLINE_SCHEMA_MAX_BYTES);
    assert.deepEqual(Object.fromEntries(placeToolSchemas(targets)), {
      small: 'inline',
      big: 's3',
      mid1: 'inline',
      mid2: 's3',
    });
    assert.deepEqual(Object.fromEntries(placeToolSchemas(targets, 2_000_000)), {
      small: 'inline',
      big: 's3',
      mid1: 'inline',
      mid2: 'inline',
    });
  });
});

describe('a tool list over 1 MB', () => {
  let dirs: ReturnType<typeof artifactDirs>;
  let stack: McpFleetStack;
  let template: Template;
  let toolsFile: string;
  const big: LoweredTool[] = Array.from({ length: 300 }, (_, i) => ({
    name: `tool_${i}`,
    description: `Tool ${i}: ${'x'.repeat(4000)}`,
    inputSchema: { type: 'object', properties: { q: { type: 'string' } } },
  }));

  before(() => {
    dirs = artifactDirs();
    toolsFile = path.join(dirs.root, 'aws-diagram.tools.json');
    writeFileSync(toolsFile, JSON.stringify(big));
    const fleet = fleetConfig();
    const servers = builtServers(fleet, dirs).map((b) =>
      b.server.id === 'aws-diagram' ? { ...b, tools: big, toolsFile } : b,
    );
    stack = new McpFleetStack(new cdk.App(NO_CFN_VALIDATION), 'BigSchema', { fleet, servers });
    applyNagChecks(stack);
    template = Template.fromStack(stack);
  });
  after(() => {
    rmSync(dirs.root, { recursive: true, force: true });
  });

  test('goes to S3 as an asset of the tools file; the other target stays inline', () => {
    assert.ok(toolSchemaBytes(big) > INLINE_SCHEMA_MAX_BYTES);
    assert.deepEqual(Object.fromEntries(stack.schemaPlacement), { git: 'inline', 'aws-diagram': 's3' });
    template.hasResourceProperties('AWS::BedrockAgentCore::GatewayTarget', {
      Name: 'aws-diagram',
      TargetConfiguration: {
        Mcp: {
          Lambda: {
            ToolSchema: {
              S3: { Uri: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('^s3://')])] } },
              InlinePayload: Match.absent(),
            },
          },
        },
      },
    });
    template.hasResourceProperties('AWS::BedrockAgentCore::GatewayTarget', {
      Name: 'git',
      TargetConfiguration: {
        Mcp: {
          Lambda: {
            ToolSchema: { InlinePayload: Match.arrayWith([Match.objectLike({ Name: 'git_status' })]) },
          },
        },
      },
    });
    assert.ok(JSON.stringify(template.toJSON()).length < 200_000, 'the big schema is not in the template');
  });

  test('the gateway role may read exactly that object', () => {
    const gatewayPolicy = stack.gateway.gateway.role.node.tryFindChild('DefaultPolicy')!.node.defaultChild;
    assert.ok(cdk.CfnElement.isCfnElement(gatewayPolicy));
    const all = template.toJSON() as {
      Resources: Record<string, { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }>;
    };
    const policy = all.Resources[stack.getLogicalId(gatewayPolicy)]!;
    const s3 = policy.Properties.PolicyDocument.Statement.filter((s) =>
      JSON.stringify(s['Action']).includes('s3:'),
    );
    assert.equal(s3.length, 1);
    assert.equal(s3[0]!['Action'], 's3:GetObject');
    const resource = JSON.stringify(s3[0]!['Resource']);
    assert.match(resource, /cdk-hnb659fds-assets-/);
    assert.match(resource, /\/[0-9a-f]{64}\.json"/);
    assert.deepEqual(nagViolations(stack), []);
  });

  test('without a tools file, one is written', () => {
    const fleet = fleetConfig();
    const servers = builtServers(fleet, dirs).map((b) => (b.server.id === 'git' ? { ...b, tools: big } : b));
    const app = new cdk.App({ ...NO_CFN_VALIDATION, outdir: path.join(dirs.root, 'out') });
    const s = new McpFleetStack(app, 'NoFile', { fleet, servers });
    assert.equal(s.schemaPlacement.get('git'), 's3');
    const assembly = app.synth();
    const manifest = JSON.parse(
      readFileSync(path.join(assembly.directory, 'NoFile.assets.json'), 'utf8'),
    ) as {
      files: Record<string, { displayName: string; source: { path: string } }>;
    };
    const staged = Object.values(manifest.files)
      .filter((f) => f.displayName.startsWith('Gateway/ToolSchema-'))
      .map((f) => path.join(assembly.directory, f.source.path));
    assert.equal(staged.length, 1);
    assert.deepEqual(JSON.parse(readFileSync(staged[0]!, 'utf8')), big);
  });

  test('a missing tools file is reported with the other problems', () => {
    const fleet = fleetConfig();
    const servers = builtServers(fleet, dirs).map((b) => ({
      ...b,
      tools: b.server.id === 'git' ? [{ ...GIT_TOOLS[0]!, inputSchema: { type: 'array' } }] : big,
      toolsFile: path.join(dirs.root, `${b.server.id}.missing.json`),
    }));
    assert.throws(
      () => new McpFleetStack(new cdk.App(NO_CFN_VALIDATION), 'Missing', { fleet, servers }),
      (err: unknown) => {
        assert.ok(err instanceof FleetStackError);
        assert.deepEqual(err.problems, [
          `git: the tools file ${path.join(dirs.root, 'git.missing.json')} does not exist`,
          `aws-diagram: the tools file ${path.join(dirs.root, 'aws-diagram.missing.json')} does not exist`,
          'git/git_status.inputSchema: an array needs "items"',
          'git/git_status.inputSchema: the top level must be type "object", not "array"',
        ]);
        return true;
      },
    );
  });
});
