import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configJsonSchema, loadConfig } from '../../src/config/index.js';
import { TARGET_KIND_CARRIES } from '../../src/config/target-kinds.js';
import { CLI, fixture, runCli, tempDir } from '../helpers.js';
import { exited } from '../support/eventually.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir();
});
after(async () => {
  await tmp.cleanup();
});

describe('help, version and usage errors', () => {
  for (const command of ['validate', 'init', 'import', 'schema']) {
    test(`${command} --help shows usage and examples`, async () => {
      const r = await runCli([command, '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^Usage: mcp-fleet ${command}`));
      assert.match(r.stdout, /\nExamples:\n {2}\$ mcp-fleet /);
    });
  }
  test('--help lists the commands and the exit codes', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    for (const command of ['validate', 'init', 'import', 'schema'])
      assert.match(r.stdout, new RegExp(`\\n  ${command} `));
    assert.match(r.stdout, /Exit codes: 0 success, 1 problems found or the command failed, 2 wrong usage\./);
  });
  test('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(path.resolve('package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });
  test('an unknown command exits 2 and says so', async () => {
    const r = await runCli(['deploy-everything']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'deploy-everything'/);
  });
  test('an unknown option exits 2', async () => {
    const r = await runCli(['validate', '--strict']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--strict'/);
  });
  test('a missing argument exits 2', async () => {
    const r = await runCli(['import']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /missing required argument 'file'/);
  });
});

describe('validate', () => {
  test('reads servers.yaml from the working directory by default', async () => {
    const r = await runCli(['validate']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(
      r.stdout,
      `✓ servers.yaml: 4 servers, valid\n  lambda targets (filesystem, memory, git): ${TARGET_KIND_CARRIES.lambda}\n  mcp targets (everything): ${TARGET_KIND_CARRIES.mcp}\n`,
    );
  });
  test('says what each target kind the fleet uses carries', async () => {
    const r = await runCli(['validate', 'examples/seed/servers.yaml']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const kinds = r.stdout.split('\n').filter((l) => l.startsWith('  '));
    assert.equal(kinds.length, 2, r.stdout);
    assert.match(kinds[0]!, /^ {2}lambda targets \([a-z-]+(, [a-z-]+)*\): tools only: /);
    assert.match(
      kinds[1]!,
      /^ {2}mcp targets \([a-z-]+(, [a-z-]+)*\): tools, prompts \(<target>___<prompt>\), resources/,
    );
  });
  test('reports every problem as FILE:LINE:COLUMN and exits 1', async () => {
    const file = path.relative(process.cwd(), fixture('config', 'bad', 'many-problems.yaml'));
    const r = await runCli(['validate', file]);
    assert.equal(r.code, 1);
    const lines = r.stdout.trimEnd().split('\n');
    assert.deepEqual(
      lines.slice(0, 5).map((l) => l.split(' ')[0]),
      [`${file}:4:14`, `${file}:5:13`, `${file}:6:5`, `${file}:7:3`, `${file}:9:3`],
    );
    assert.equal(lines.at(-1), `✗ ${file}: 5 errors`);
  });
  test('--json gives the problems as data', async () => {
    const r = await runCli(['validate', fixture('config', 'bad', 'timeout-above-maximum.yaml'), '--json']);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout) as {
      valid: boolean;
      errors: number;
      problems: { line: number; column: number; path: string; message: string }[];
    };
    assert.equal(out.valid, false);
    assert.equal(out.errors, 1);
    assert.deepEqual(
      out.problems.map((p) => [p.line, p.column, p.path, p.message]),
      [[14, 14, 'eks-mcp.timeout', "1200 is above Lambda's maximum of 900 seconds; use 1–900"]],
    );
  });
  test('--json on a valid file lists the servers with their function and target names', async () => {
    const r = await runCli(['validate', 'examples/seed/servers.yaml', '--json']);
    assert.equal(r.code, 0);
    const out = JSON.parse(r.stdout) as {
      valid: boolean;
      warnings: number;
      servers: { id: string; functionName: string; target: string }[];
    };
    assert.equal(out.valid, true);
    assert.equal(out.warnings, 8);
    assert.equal(out.servers.length, 20);
    assert.deepEqual(out.servers[0], {
      id: 'core-mcp',
      functionName: 'mcp-server-core-mcp',
      target: 'core-mcp',
      targetType: 'lambda',
    });
  });
  test("an interceptor's handler that cannot be bundled is an error at its config entry, with the place in the handler", async () => {
    const dir = path.join(tmp.dir, 'interceptor-validate');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'servers.yaml');
    await writeFile(
      file,
      `gateway:
  interceptors:
    request: { handler: gate.mjs }
    response: { handler: "shape.mjs#reshape" }
servers:
  memory:
    command: npx
    args: [-y, "@modelcontextprotocol/server-memory@2025.11.25"]
`,
    );
    await writeFile(
      path.join(dir, 'gate.mjs'),
      'export const handler = async (event) => {\n  return event;\n',
    );
    await writeFile(path.join(dir, 'shape.mjs'), 'export const handler = async (event) => event;\n');
    const r = await runCli(['validate', file, '--json']);
    assert.equal(r.code, 1, r.stdout);
    const out = JSON.parse(r.stdout) as {
      valid: boolean;
      problems: { line: number; column: number; path: string; message: string }[];
    };
    assert.equal(out.valid, false);
    const found = out.problems.filter((p) => p.path.startsWith('gateway.'));
    assert.deepEqual(
      found.map((p) => [p.line, p.path]),
      [
        [3, 'gateway.interceptors.request'],
        [4, 'gateway.interceptors.response'],
      ],
    );
    // The syntax error at its line in the handler file; the missing export by name.
    assert.match(
      found[0]?.message ?? '',
      /^gate\.mjs#handler cannot be bundled: gate\.mjs:3:1: Unexpected end of file/,
    );
    assert.match(found[1]?.message ?? '', /shape\.mjs#reshape cannot be bundled: .*reshape/);
    // Fixed, the same config is valid.
    await writeFile(path.join(dir, 'gate.mjs'), 'export const handler = async (event) => event;\n');
    await writeFile(path.join(dir, 'shape.mjs'), 'export const reshape = async (event) => event;\n');
    assert.equal((await runCli(['validate', file])).code, 0);
  });

  test('a missing file is a problem, not a crash', async () => {
    const r = await runCli(['validate', 'no/such/servers.yaml']);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^no\/such\/servers\.yaml:1:1 cannot read the config: no such file; create one with `mcp-fleet init`/,
    );
  });
});

describe('init', () => {
  test('writes a commented starter file that validates, and will not overwrite it', async () => {
    const file = path.join(tmp.dir, 'fleet', 'servers.yaml');
    const first = await runCli(['init', file]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /Wrote .*servers\.yaml with 3 servers \(memory, filesystem, everything\), and cdk\.json/,
    );
    const text = await readFile(file, 'utf8');
    assert.match(text, /^# yaml-language-server: \$schema=/);
    assert.ok(
      text.split('\n').filter((l) => l.trim().startsWith('#')).length >= 10,
      'the starter file explains itself',
    );
    const { config, problems } = await loadConfig(file);
    assert.ok(config);
    assert.deepEqual(problems, []);
    for (const s of config.servers) assert.equal(s.package?.kind, 'npm');
    // cdk.json runs mcp-fleet as the CDK app, for `npx cdk`.
    const cdk = JSON.parse(await readFile(path.join(tmp.dir, 'fleet', 'cdk.json'), 'utf8')) as {
      app: string;
    };
    assert.equal(cdk.app, 'npx mcp-fleet cdk-app --config servers.yaml');

    const again = await runCli(['init', file]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists; use --force to overwrite it/);
    await writeFile(file, 'changed: {command: x}\n');
    const forced = await runCli(['init', file, '--force']);
    assert.equal(forced.code, 0);
    assert.match(await readFile(file, 'utf8'), /servers:\n {2}# A knowledge graph/);
  });
});

describe('import', () => {
  test('writes servers.yaml from a Claude Desktop config and reports each entry', async () => {
    const out = path.join(tmp.dir, 'imported.yaml');
    const r = await runCli(['import', fixture('import', 'claude_desktop_config.json'), '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✓ AWS Documentation → aws-documentation/);
    assert.match(r.stderr, /✗ aws-knowledge: not imported: remote server/);
    assert.match(r.stderr, /Wrote .*imported\.yaml: 4 server\(s\), 1 not imported\./);
    const { config } = await loadConfig(out);
    assert.equal(config?.servers.length, 4);
    const again = await runCli(['import', fixture('import', 'claude_desktop_config.json'), '--out', out]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists; use --force/);
  });
  test('prints to standard output without --out', async () => {
    const r = await runCli(['import', fixture('import', 'vscode-mcp.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^# yaml-language-server: \$schema=/);
    assert.match(r.stdout, /\nservers:\n {2}github:\n/);
  });
  test('a file with nothing convertible fails with the reasons', async () => {
    const file = path.join(tmp.dir, 'remote-only.json');
    await writeFile(file, JSON.stringify({ mcpServers: { remote: { url: 'https://example.com/mcp' } } }));
    const r = await runCli(['import', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /✗ remote: not imported: remote server \(url https:\/\/example\.com\/mcp\)/);
    assert.match(r.stderr, /mcp-fleet: nothing in .*remote-only\.json could be converted/);
  });
  test('a file that is not JSON says where', async () => {
    const file = path.join(tmp.dir, 'broken.json');
    await writeFile(file, '{ "mcpServers": ');
    const r = await runCli(['import', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /broken\.json:1:\d+ not valid JSON: /);
  });
});

describe('schema', () => {
  test('prints the JSON Schema generated from the model', async () => {
    const r = await runCli(['schema']);
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), configJsonSchema());
  });

  test('a reader that goes away (`| head`) ends the command quietly: exit 0, no EPIPE stack', async () => {
    const child = spawn(process.execPath, [CLI, 'schema'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    assert.equal(await exited(child), 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
  });
});
