import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CLI, fixture, ROOT, runCli, tempDir } from '../helpers.js';

const run = promisify(execFile);

const CONFIG = `
stack: StackCommandTest
gateway: { name: stack-test, auth: cognito }
servers:
  memory:
    description: Knowledge-graph memory
    package: { npm: "@modelcontextprotocol/server-memory@2026.8.31" }
    command: mcp-server-memory
    verify: { tool: read_graph }
  weather:
    description: A server in a container image; its tools come from a checked-in file
    package: { image: "ghcr.io/example/weather-mcp:1.2.0" }
    command: /usr/local/bin/weather-mcp
    toolsFile: weather-tools.json
`;

let dir: string;
let cleanup: () => Promise<void>;
/** No AWS credentials anywhere, and no instance metadata service to ask. */
let noAws: NodeJS.ProcessEnv;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  await writeFile(path.join(dir, 'servers.yaml'), CONFIG);
  await copyFile(fixture('build', 'weather-tools.json'), path.join(dir, 'weather-tools.json'));
  noAws = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  noAws['HOME'] = dir;
  noAws['AWS_EC2_METADATA_DISABLED'] = 'true';
  noAws['CDK_DISABLE_CLI_TELEMETRY'] = 'true';
});

after(async () => {
  await cleanup();
});

describe('synth, diff, deploy, destroy', () => {
  test('synth builds first, then writes the template offline', async () => {
    const r = await runCli(['synth', '--config', 'servers.yaml', '--json'], { cwd: dir, env: noAws });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { stack: string; templateFile: string; resources: number };
    assert.equal(out.stack, 'StackCommandTest');
    const template = JSON.parse(await readFile(out.templateFile, 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
      Outputs: Record<string, unknown>;
    };
    const types = Object.values(template.Resources).map((r) => r.Type);
    assert.equal(types.filter((t) => t === 'AWS::Lambda::Function').length, 2);
    assert.equal(types.filter((t) => t === 'AWS::BedrockAgentCore::GatewayTarget').length, 2);
    assert.ok('McpMemoryLambdaArn' in template.Outputs && 'McpWeatherLambdaArn' in template.Outputs);
    assert.equal(out.resources, Object.keys(template.Resources).length);
    assert.ok(existsSync(path.join(dir, '.mcp-fleet', 'build', 'memory', 'manifest.json')));
    // The staged assets keep the executables' mode bits (the zip keeps what the asset folder has).
    const assets = await readdir(path.dirname(out.templateFile));
    const memory = assets.find((a) =>
      existsSync(path.join(path.dirname(out.templateFile), a, 'bin', 'mcp-server-memory')),
    );
    assert.ok(memory, 'the memory function asset');
    const mode = (await stat(path.join(path.dirname(out.templateFile), memory, 'bin', 'mcp-server-memory')))
      .mode;
    assert.equal(mode & 0o111, 0o111, 'executable');
    assert.ok(
      existsSync(path.join(path.dirname(out.templateFile), memory, 'node_modules', '@modelcontextprotocol')),
    );
  });

  test("synth of another config builds with that config's lock and folder, and names the pins it keeps", async () => {
    const config = CONFIG.replace('stack: StackCommandTest', 'stack: KeptPinTest').replace(
      /\n {2}memory:[^]*?(?=\n {2}weather:)/,
      '',
    );
    assert.doesNotMatch(config, /memory/);
    await writeFile(path.join(dir, 'kept.yaml'), config);
    const gone = { kind: 'image', package: 'ghcr.io/example/gone:1.0.0', architecture: 'arm64' };
    await writeFile(
      path.join(dir, 'kept.lock.json'),
      JSON.stringify({ lockfileVersion: 1, servers: { gone: { ...gone, resolved: [gone.package] } } }),
    );
    const r = await runCli(['synth', '--config', 'kept.yaml', '--out', 'kept.out'], { cwd: dir, env: noAws });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^lock: kept the pins of gone, no longer in kept\.yaml; remove them with mcp-fleet build --config kept\.yaml --prune-lock$/m,
    );
    assert.match(r.stdout, /^synthesized KeptPinTest/m);
    const lock = JSON.parse(await readFile(path.join(dir, 'kept.lock.json'), 'utf8')) as {
      servers: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(lock.servers), ['gone', 'weather']);
    assert.ok(existsSync(path.join(dir, '.mcp-fleet', 'kept', 'build', 'weather', 'manifest.json')));
  });

  test('deploy, diff and destroy without credentials stop at once with what to do, before synthesizing', async () => {
    for (const cmd of [['deploy'], ['diff'], ['destroy', '--yes']]) {
      const out = `${cmd[0] ?? ''}-nocreds.out`;
      const r = await runCli([...cmd, '--config', 'servers.yaml', '--out', out], { cwd: dir, env: noAws });
      assert.equal(r.code, 1, `${cmd[0] ?? ''}: ${r.stderr}`);
      assert.match(r.stderr, /no AWS credentials found: set AWS_PROFILE/);
      assert.ok(!existsSync(path.join(dir, out)), `${cmd[0] ?? ''} synthesized nothing`);
    }
  });

  test('destroy asks for --yes', async () => {
    const r = await runCli(['destroy', '--config', 'servers.yaml', '--no-build'], { cwd: dir, env: noAws });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /run it again with --yes/);
  });

  test("a config that was never built: synth --no-build says to build first (servers.yaml's builds are not its)", async () => {
    await writeFile(path.join(dir, 'other.yaml'), CONFIG.replace('weather:', 'never-built:'));
    const r = await runCli(['synth', '--config', 'other.yaml', '--no-build', '--out', 'other.out'], {
      cwd: dir,
      env: noAws,
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /not built: memory, never-built; run mcp-fleet build first \(.*\/\.mcp-fleet\/other\/build\)/,
    );
  });

  test('npx cdk works too: cdk.json runs mcp-fleet as the CDK app', async () => {
    await writeFile(
      path.join(dir, 'cdk.json'),
      JSON.stringify({ app: `node ${CLI} cdk-app --config servers.yaml --no-build`, output: 'cdk-cli.out' }),
    );
    const cdk = path.join(ROOT, 'node_modules', '.bin', 'cdk');
    const { stdout } = await run(cdk, ['ls', '--no-notices'], { cwd: dir, env: noAws });
    assert.equal(stdout.trim(), 'StackCommandTest');
    await run(cdk, ['synth', '--no-notices', '--quiet'], { cwd: dir, env: noAws });
    const template = JSON.parse(
      await readFile(path.join(dir, 'cdk-cli.out', 'StackCommandTest.template.json'), 'utf8'),
    ) as { Outputs: Record<string, unknown> };
    assert.ok('GatewayUrl' in template.Outputs);
  });
});
