/**
 * `build` per gateway target kind: a Lambda target's tools are lowered to AgentCore's schema subset
 * (with warnings for what is lost); an MCP-server target's are kept as the server gives them, no
 * lowering and no lowering warnings (the gateway lists them itself), with the name checks that
 * still apply. Image servers with checked-in tools: nothing is installed or started.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildFleet, type FleetBuild, type ServerBuild } from '../../src/build/build.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const SERVER = (id: string, kind: 'lambda' | 'mcp', tools: string): string => `  ${id}:
    package: { image: "ghcr.io/example/weather-mcp:1.2.0" }
    command: /usr/local/bin/weather-mcp
    toolsFile: ${tools}
    gateway: { targetType: ${kind} }
`;

let dir: string;
let cleanup: () => Promise<void>;
let configFile: string;
let built: FleetBuild;
const byId = (id: string): ServerBuild => {
  const found = built.built.find((s) => s.server.id === id);
  assert.ok(found, `${id} not built: ${built.failed.map((f) => f.detail).join('\n')}`);
  return found;
};

before(async () => {
  ({ dir, cleanup } = await tempDir());
  const weather = await readFile(fixture('build', 'weather-tools.json'), 'utf8');
  await writeFile(path.join(dir, 'weather-tools.json'), weather);
  // A tool without a description and with a type union (a Lambda target fills in the one and
  // narrows the other, and says so; an MCP target keeps both as they are), and a tool whose name
  // no model API accepts (refused for both kinds).
  const parsed = JSON.parse(weather) as { tools: Record<string, unknown>[] };
  const bare = {
    name: 'plain',
    inputSchema: { type: 'object', properties: { when: { type: ['string', 'number'] } } },
  };
  await writeFile(path.join(dir, 'bare-tools.json'), JSON.stringify({ tools: [...parsed.tools, bare] }));
  await writeFile(
    path.join(dir, 'bad-tools.json'),
    JSON.stringify({ tools: [{ name: 'has space', description: 'x', inputSchema: { type: 'object' } }] }),
  );
  configFile = path.join(dir, 'servers.yaml');
  await writeFile(
    configFile,
    `stack: TargetKinds
servers:
${SERVER('weather-lambda', 'lambda', 'bare-tools.json')}${SERVER('weather-mcp', 'mcp', 'bare-tools.json')}${SERVER('bad-lambda', 'lambda', 'bad-tools.json')}${SERVER('bad-mcp', 'mcp', 'bad-tools.json')}`,
  );
  built = await buildFleet(await loadConfigOrThrow(configFile), {});
});

after(async () => {
  await cleanup();
});

describe('build per target kind', () => {
  test('a Lambda target: schemas lowered, descriptions filled in, with warnings', async () => {
    const b = byId('weather-lambda');
    const unit = (b.tools[0]?.inputSchema['properties'] as Record<string, unknown>)['unit'];
    assert.deepEqual(unit, { type: 'string', description: 'One of: c, f. May be null.' });
    assert.equal(b.tools[1]?.description, 'plain');
    const warnings = b.manifest.tools.warnings.join('\n');
    assert.match(warnings, /weather-lambda___plain: no description/);
    assert.match(warnings, /weather-lambda___plain: .*when.*narrowed to string/);
    assert.deepEqual(b.tools[1]?.inputSchema['properties'], {
      when: { type: 'string', description: 'Type: string or number.' },
    });
    const file = JSON.parse(await readFile(b.toolsFile, 'utf8')) as typeof b.tools;
    assert.deepEqual(file, b.tools);
  });

  test('an MCP-server target: tools as the server gives them, no lowering, no warnings', async () => {
    const b = byId('weather-mcp');
    const unit = (b.tools[0]?.inputSchema['properties'] as Record<string, unknown>)['unit'];
    assert.deepEqual(unit, {
      anyOf: [{ enum: ['c', 'f'], type: 'string' }, { type: 'null' }],
      default: null,
    });
    assert.equal(b.tools[1]?.description, '');
    assert.deepEqual(b.tools[1]?.inputSchema['properties'], { when: { type: ['string', 'number'] } });
    assert.deepEqual(b.manifest.tools.warnings, []);
    assert.equal(b.manifest.tools.count, 2);
    assert.equal(b.manifest.tools.needsS3, false);
    // Still written where deploy and synth read a server's tools.
    assert.equal(path.basename(b.toolsFile), 'tools.lowered.json');
    const file = JSON.parse(await readFile(b.toolsFile, 'utf8')) as typeof b.tools;
    assert.deepEqual(file, b.tools);
  });

  test('the name checks apply to both kinds', () => {
    const failures = new Map(built.failed.map((f) => [f.serverId, f.detail]));
    for (const id of ['bad-lambda', 'bad-mcp']) {
      assert.match(failures.get(id) ?? '', /AgentCore would refuse its tools:/, id);
      assert.match(failures.get(id) ?? '', /___has space: has " ", which tool names may not contain/, id);
    }
  });

  test('the CLI tells schema warnings for the Lambda target only', async () => {
    const r = await runCli([
      'build',
      '--config',
      configFile,
      '--plain',
      '--only',
      'weather-lambda',
      'weather-mcp',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /weather-lambda .*2 tools, 2 schema warnings/);
    assert.match(r.stdout, /weather-mcp .*2 tools/);
    assert.doesNotMatch(r.stdout, /weather-mcp .*schema warnings/);
  });
});
