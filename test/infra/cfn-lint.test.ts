import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { synthFleet, type LoweredTool } from '../../src/infra/index.js';
import { pythonTool } from '../helpers.js';
import { artifactDirs, builtServers, FLEET_YAML, fleetConfig } from './support.js';

/**
 * cfn-lint (PyPI, pinned in test/python-tools.txt; `npm test` installs it into
 * .mcp-fleet/tools/test) on the synthesized templates of every auth mode.
 */
const cfnLint = pythonTool('cfn-lint');

interface Match {
  Rule: { Id: string };
  Level: string;
  Message: string;
  Filename: string;
  Location: { Path: (string | number)[] };
}

const dirs = artifactDirs();
after(() => {
  rmSync(dirs.root, { recursive: true, force: true });
});

test('cfn-lint finds no error in the templates (cognito + S3 schema, iam, none)', () => {
  const big: LoweredTool[] = Array.from({ length: 300 }, (_, i) => ({
    name: `tool_${i}`,
    description: 'x'.repeat(4000),
    inputSchema: { type: 'object', properties: { q: { type: 'string' } } },
  }));
  const files: string[] = [];
  for (const auth of ['cognito', 'iam', 'none']) {
    const fleet = fleetConfig(FLEET_YAML.replace('auth: cognito', `auth: ${auth}`));
    const servers = builtServers(fleet, dirs).map((b) =>
      auth === 'cognito' && b.server.id === 'aws-diagram' ? { ...b, tools: big } : b,
    );
    const r = synthFleet({
      fleet,
      servers,
      outdir: path.join(dirs.root, `out-${auth}`),
      stackId: `Lint-${auth}`,
    });
    // A copy outside cdk.out: cfn-lint reads the template alone.
    const file = path.join(dirs.root, `${auth}.template.json`);
    writeFileSync(file, readFileSync(r.templateFile));
    files.push(file);
  }
  const run = spawnSync(cfnLint, ['--format', 'json', '--', ...files], { encoding: 'utf8' });
  assert.equal(run.error, undefined);
  const matches = JSON.parse(run.stdout || '[]') as Match[];
  const errors = matches.filter((m) => m.Level === 'Error');
  assert.deepEqual(errors, [], run.stdout);
  // Justified warnings, and only these: W3005 on each function's DependsOn of its own role. CDK's
  // Function always depends on its role construct (the role and its default policy, which the
  // function needs at creation); the role part duplicates the GetAtt in Properties.Role, harmless.
  for (const m of matches) {
    assert.equal(m.Rule.Id, 'W3005', `${m.Rule.Id} ${m.Message}`);
    assert.match(
      m.Message,
      /^'Server\w+Role\w+' dependency already enforced by a 'GetAtt' at 'Resources\/Server\w+Function\w+\/Properties\/Role'$/,
    );
  }
  assert.equal(run.status, matches.length === 0 ? 0 : 4, `exit code ${run.status}: ${run.stderr}`);
});
