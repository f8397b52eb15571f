import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatProblem, parseConfig } from '../../src/config/index.js';
import type { FleetConfig, ServerConfig } from '../../src/config/model.js';
import type { BuiltServer, LoweredTool, ServerArtifact } from '../../src/infra/index.js';
import { pythonTool } from '../helpers.js';

/** A fleet of two servers: a zip one (arm64) and an image one (x86_64) with everything configurable set. */
export const FLEET_YAML = `
stack: McpFleetTest
gateway:
  name: mcp-fleet-test
  auth: cognito
  search: true
  instructions: Tools of the mcp-fleet test fleet
servers:
  git:
    name: Git
    description: Git operations
    command: mcp-server-git
    timeout: 60
    memory: 1024
    env:
      LOG_LEVEL: debug
      AWS_REGION: eu-west-1
    secrets:
      GITHUB_TOKEN: { ssm: /mcp/github/token }
      API_KEY: { secretsManager: mcp/api-key, key: token }
      OTHER_KEY: { secretsManager: "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf" }
    aws:
      architecture: arm64
      reservedConcurrency: 5
      functionUrl: true
      logRetentionDays: 14
      iam:
        managedPolicies: [ReadOnlyAccess, "arn:aws:iam::123456789012:policy/mcp-extra"]
        statements:
          - actions: [s3:GetObject]
            resources: ["arn:aws:s3:::mcp-fleet-data/*"]
          - actions: ["dynamodb:Get*", dynamodb:Query]
            resources: ["arn:aws:dynamodb:us-east-1:123456789012:table/mcp"]
            conditions:
              StringEquals: { "aws:RequestedRegion": us-east-1 }
  aws-diagram:
    name: AWS Diagram
    description: Architecture diagrams
    command: awslabs.aws-diagram-mcp-server
    timeout: 120
    memory: 2048
    aws:
      architecture: x86_64
      logRetentionDays: 90
      vpc:
        subnetIds: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
        securityGroupIds: [sg-0123456789abcdef0]
`;

/**
 * App props for stacks whose templates the tests only inspect: CDK's built-in check against the
 * CloudFormation schemas costs seconds per process; stack.test.ts keeps it (through synthFleet)
 * and cfn-lint.test.ts checks every variant with cfn-lint.
 */
export const NO_CFN_VALIDATION = { builtinCloudFormationValidation: false } as const;

export function fleetConfig(yaml: string = FLEET_YAML): FleetConfig {
  const { config, problems } = parseConfig(yaml, { file: 'servers.yaml' });
  if (config === undefined) throw new Error(problems.map(formatProblem).join('\n'));
  return config;
}

export const GIT_TOOLS: LoweredTool[] = [
  {
    name: 'git_status',
    description: 'Shows the working tree status',
    inputSchema: {
      type: 'object',
      properties: { repo_path: { type: 'string', description: 'Path of the repository' } },
      required: ['repo_path'],
    },
  },
  {
    name: 'git_log',
    description: 'Shows the commit logs',
    inputSchema: {
      type: 'object',
      properties: {
        repo_path: { type: 'string' },
        max_count: { type: 'integer', description: 'At most this many commits' },
        paths: { type: 'array', items: { type: 'string' } },
      },
      required: ['repo_path'],
    },
    outputSchema: { type: 'object', properties: { commits: { type: 'array', items: { type: 'string' } } } },
  },
];

export const DIAGRAM_TOOLS: LoweredTool[] = [
  {
    name: 'generate_diagram',
    description: 'Generates a diagram from Python code',
    inputSchema: { type: 'object', properties: { code: { type: 'string' } }, required: ['code'] },
  },
];

/**
 * A temporary directory with a zip function root, an image build context, a web function's zip
 * and an AgentCore runtime's container build context.
 */
export function artifactDirs(): { root: string; zip: string; image: string; web: string; runtime: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mcp-fleet-infra-'));
  const zip = path.join(root, 'git');
  const image = path.join(root, 'aws-diagram');
  // A web function's zip: its own HTTP server as index.mjs, built for that host.
  const web = path.join(root, 'web');
  mkdirSync(zip);
  mkdirSync(image);
  mkdirSync(web);
  // An AgentCore runtime's container: the session entry serving MCP on 0.0.0.0:8000 /mcp (arm64).
  const runtime = path.join(root, 'runtime');
  mkdirSync(runtime);
  writeFileSync(
    path.join(runtime, 'Dockerfile'),
    'FROM --platform=linux/arm64 public.ecr.aws/docker/library/node:22-slim\nCOPY . /app\nEXPOSE 8000\nCMD ["node", "/app/index.mjs"]\n',
  );
  writeFileSync(path.join(runtime, 'index.mjs'), 'export {};\n');
  writeFileSync(path.join(web, 'index.mjs'), 'export {};\n');
  writeFileSync(
    path.join(web, 'launch.json'),
    '{"id":"web","command":"mcp-server-filesystem","args":[],"host":"web-function"}\n',
  );
  writeFileSync(path.join(zip, 'index.mjs'), 'export const handler = async () => ({});\n');
  writeFileSync(path.join(zip, 'launch.json'), '{"id":"git","command":"mcp-server-git","args":[]}\n');
  writeFileSync(
    path.join(image, 'Dockerfile'),
    'FROM public.ecr.aws/lambda/nodejs:22\nCOPY . ${LAMBDA_TASK_ROOT}\nCMD ["index.handler"]\n',
  );
  return { root, zip, image, web, runtime };
}

/** The built servers of {@link FLEET_YAML} (or another fleet with the same two ids). */
export function builtServers(fleet: FleetConfig, dirs: { zip: string; image: string }): BuiltServer[] {
  return fleet.servers.map((server) =>
    server.id === 'git'
      ? { server, artifact: { kind: 'zip', dir: dirs.zip }, tools: GIT_TOOLS }
      : { server, artifact: { kind: 'image', dir: dirs.image }, tools: DIAGRAM_TOOLS },
  );
}

/** A zip root in `root` as the build writes it for the server's host (launch.json names the host). */
export function hostZipRoot(root: string, server: ServerConfig, host = server.hosting.host): string {
  const dir = path.join(root, `zip-${server.id}-${host}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'index.mjs'), 'export {};\n');
  const spec = { id: server.id, command: server.command, args: [], ...(host === 'function' ? {} : { host }) };
  writeFileSync(path.join(dir, 'launch.json'), JSON.stringify(spec));
  return dir;
}

/**
 * The built servers of a fleet that adds servers of other hosts to {@link FLEET_YAML}'s two: each
 * added one a zip built for its host, unless `artifactOf` gives another artifact; all with GIT_TOOLS.
 */
export function hostBuiltServers(
  yaml: string,
  dirs: ReturnType<typeof artifactDirs>,
  artifactOf: (server: ServerConfig) => ServerArtifact | undefined = () => undefined,
): BuiltServer[] {
  const fleet = fleetConfig(yaml);
  const base = builtServers({ ...fleet, servers: fleet.servers.slice(0, 2) }, dirs);
  return [
    ...base,
    ...fleet.servers.slice(2).map((server) => ({
      server,
      artifact: artifactOf(server) ?? { kind: 'zip' as const, dir: hostZipRoot(dirs.root, server) },
      tools: GIT_TOOLS,
    })),
  ];
}

/** One finding of cfn-lint (its JSON format). */
export interface CfnLintMatch {
  Level: string;
  Rule: { Id: string };
  Message: string;
}

/**
 * cfn-lint (pinned in test/python-tools.txt) on a copy of the template in `dir` (cfn-lint reads the
 * template alone, outside cdk.out); asserts it finds no error and answers its other findings.
 */
export function cfnLintWithoutErrors(templateFile: string, dir: string): CfnLintMatch[] {
  const file = path.join(dir, path.basename(templateFile));
  writeFileSync(file, readFileSync(templateFile));
  const run = spawnSync(pythonTool('cfn-lint'), ['--format', 'json', '--', file], { encoding: 'utf8' });
  assert.equal(run.error, undefined);
  const matches = JSON.parse(run.stdout || '[]') as CfnLintMatch[];
  assert.deepEqual(
    matches.filter((m) => m.Level === 'Error'),
    [],
    run.stdout,
  );
  return matches;
}

/** The logical id of the one resource of `type` whose id matches `pattern` (asserts there is one). */
export function onlyResourceId(
  resources: Record<string, { Type: string }>,
  type: string,
  pattern: RegExp,
): string {
  const found = Object.entries(resources).filter(([id, r]) => r.Type === type && pattern.test(id));
  assert.equal(found.length, 1, `${type} ${String(pattern)}: ${found.map(([id]) => id).join(', ')}`);
  return found[0]![0];
}

/** One finding of cfn-lint (`--format json`). */
export interface CfnLintMatch {
  Level: string;
  Rule: { Id: string };
  Message: string;
}

/** cfn-lint (test/python-tools.txt) on a template, copied outside cdk.out first: its findings. */
export function cfnLint(templateFile: string, copyTo: string): { matches: CfnLintMatch[]; stdout: string } {
  writeFileSync(copyTo, readFileSync(templateFile));
  const run = spawnSync(pythonTool('cfn-lint'), ['--format', 'json', '--', copyTo], { encoding: 'utf8' });
  assert.equal(run.error, undefined);
  return { matches: JSON.parse(run.stdout || '[]') as CfnLintMatch[], stdout: run.stdout };
}

/**
 * No cfn-lint error in a template, and no warning but the one cfn-lint.test.ts explains (a
 * function's DependsOn of its own role), unless `anyWarning`.
 */
export function assertCfnLintClean(templateFile: string, copyTo: string, anyWarning = false): void {
  const { matches, stdout } = cfnLint(templateFile, copyTo);
  assert.deepEqual(
    matches.filter((m) => m.Level === 'Error'),
    [],
    stdout,
  );
  if (!anyWarning) for (const m of matches) assert.equal(m.Rule.Id, 'W3005', `${m.Rule.Id} ${m.Message}`);
}

/** The test fleet (two `function` servers), a web function, a managed-instances function and two runtimes. */
export const MIXED_HOSTS_YAML = `${FLEET_YAML}
  web:
    command: mcp-server-memory
    host: web-function
  lmi:
    command: mcp-server-memory
    host: managed-instances
    capacityProvider:
      subnetIds: [subnet-0123456789abcdef0]
      securityGroupIds: [sg-0123456789abcdef0]
  rt:
    description: On AgentCore Runtime
    command: mcp-server-memory
    host: agentcore-runtime
    concurrency: 4
    idleTimeout: 300
    maxLifetime: 3600
    env: { KEEP: kept, AWS_REGION: eu-west-1 }
    secrets:
      TOKEN: { ssm: /mcp/rt/token }
    tags: { team: sessions }
    aws:
      iam:
        statements:
          - actions: ["s3:Get*"]
            resources: ["arn:aws:s3:::mcp-rt-data/*"]
  rt-code:
    command: mcp-server-memory
    host: agentcore-runtime
`;
