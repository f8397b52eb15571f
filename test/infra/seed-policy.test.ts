import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { loadConfig } from '../../src/config/index.js';
import { synthFleet, type BuiltServer, type LoweredTool } from '../../src/infra/index.js';
import { pythonTool, ROOT } from '../helpers.js';
import { artifactDirs } from './support.js';

/*
 * The seed fleet's example policy (read-only tools for a "reader" client, every tool for an
 * "operator"): it validates without a warning, and its stack synthesizes cleanly (cdk-nag,
 * cfn-lint) with stand-in artifacts. The full build of the seed is test/seed's.
 */

const dirs = artifactDirs();
after(() => {
  rmSync(dirs.root, { recursive: true, force: true });
});

/** The tools the example policy names, as the build would list them for git and filesystem. */
const TOOLS: Record<string, string[]> = {
  git: ['git_status', 'git_log', 'git_diff', 'git_show', 'git_commit'],
  filesystem: ['read_text_file', 'list_directory', 'search_files', 'write_file'],
  'aws-knowledge': ['aws___search_documentation', 'aws___read_documentation'],
};

test('the seed fleet with its example policy and tags validates and synthesizes cleanly', async () => {
  {
    const file = path.join(ROOT, 'examples', 'seed', 'servers.yaml');
    const { config, problems } = await loadConfig(file);
    assert.ok(config, problems.map((p) => p.message).join('\n'));
    assert.deepEqual(
      problems.filter((p) => p.path.startsWith('policy') || p.path.startsWith('tags')),
      [],
    );
    assert.equal(config.policy?.mode, 'log-only');
    assert.deepEqual(
      config.policy.policies.map((p) => p.id),
      ['readers_read_only', 'operators_all'],
    );
    const servers: BuiltServer[] = config.servers.map((server) => {
      const tools: LoweredTool[] = (TOOLS[server.id] ?? ['describe']).map((name) => ({
        name,
        description: `${name} of ${server.id}`,
        inputSchema: { type: 'object', properties: {} },
      }));
      if (server.hosting.host === 'web-function')
        return { server, artifact: { kind: 'zip', dir: dirs.web }, tools };
      return server.package?.kind === 'npm' || server.package?.kind === 'go'
        ? { server, artifact: { kind: 'zip', dir: dirs.zip }, tools }
        : { server, artifact: { kind: 'image', dir: dirs.image }, tools };
    });
    const r = synthFleet({ fleet: config, servers, outdir: path.join(dirs.root, 'seed-out') });
    assert.deepEqual(r.nagWarnings, []);
    const t = Template.fromJSON(r.template);
    t.resourceCountIs('AWS::BedrockAgentCore::Policy', 2);
    t.hasResourceProperties('AWS::BedrockAgentCore::Gateway', {
      PolicyEngineConfiguration: { Mode: 'LOG_ONLY' },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'mcp-server-git',
      Tags: [
        { Key: 'mcp-fleet:server', Value: 'git' },
        { Key: 'mcp-fleet:stack', Value: 'AwsLabsMcpLambda' },
        { Key: 'project', Value: 'awslabs-mcp-lambda' },
        { Key: 'team', Value: 'platform' },
      ],
    });
    const copy = path.join(dirs.root, 'seed.template.json');
    writeFileSync(copy, readFileSync(r.templateFile));
    const run = spawnSync(pythonTool('cfn-lint'), ['--format', 'json', '--', copy], { encoding: 'utf8' });
    assert.equal(run.error, undefined);
    const errors = (JSON.parse(run.stdout || '[]') as { Level: string }[]).filter((m) => m.Level === 'Error');
    assert.deepEqual(errors, [], run.stdout);
  }
});
