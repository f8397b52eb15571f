/**
 * Two fleets in one folder, as users keep them — servers.yaml and servers.prod.yaml, sharing the
 * server id `memory` pinned to two versions of the same npm package, plus servers of their own —
 * built one after the other from the real registry: nothing of one is lost or overwritten by the
 * other (lock files, build folders, dev work folders), a build keeps every pin it did not resolve,
 * and removed servers' pins go only with --prune-lock.
 */
import assert from 'node:assert/strict';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildFleet, type FleetBuild } from '../../src/build/build.js';
import type { LockFile } from '../../src/build/lock.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { discoverLocally } from '../../src/local/lambda/discovery.js';
import { startFleet } from '../../src/local/dev/fleet.js';
import { fixture, runCli, tempDir, type RunResult } from '../helpers.js';
import { assertNoneLeft, marker, text } from '../runtime/support.js';

const mark = marker();
// Every process the builds start inherits the marker: the last test checks none is left.
process.env[mark.name] = mark.value;

const MEMORY_NEW = '@modelcontextprotocol/server-memory@2026.8.31';
const MEMORY_OLD = '@modelcontextprotocol/server-memory@2026.7.4';

/** A server from a container image, its tools from the checked-in file (staged without a registry). */
const imageServer = (id: string, ref: string, toolsFile = 'weather-tools.json'): string => `  ${id}:
    package: { image: "${ref}" }
    command: /usr/local/bin/${id}-mcp
    toolsFile: ${toolsFile}
`;

const DEFAULT = `stack: FleetsDefault
servers:
  memory:
    package: { npm: "${MEMORY_NEW}" }
    command: mcp-server-memory
    env: { MEMORY_FILE_PATH: /tmp/mcp-fleet-fleets-test-default.jsonl }
${imageServer('weather', 'ghcr.io/example/weather-mcp:1.2.0')}${imageServer('notes', 'ghcr.io/example/notes-mcp:0.3.0')}`;

const prod = (
  opts: { memory?: string; forecast?: string; forecastTools?: string; weather?: string } = {},
): string => `stack: FleetsProd
servers:
  memory:
    package: { npm: "${opts.memory ?? MEMORY_OLD}" }
    command: mcp-server-memory
    env: { MEMORY_FILE_PATH: /tmp/mcp-fleet-fleets-test-prod.jsonl }
${opts.weather ?? imageServer('weather', 'ghcr.io/example/weather-mcp:1.2.0')}${
  opts.forecast === ''
    ? ''
    : imageServer('forecast', opts.forecast ?? 'ghcr.io/example/forecast-mcp:2.0.0', opts.forecastTools)
}`;

let dir: string;
let cleanup: () => Promise<void>;
let defaultFile: string;
let prodFile: string;
let defaultFirst: FleetBuild;
let prodFirst: RunResult;
/** mcp-fleet.lock.json as the default fleet's first build wrote it. */
let defaultLockBytes: Buffer;

const at = (...parts: string[]): string => path.join(dir, ...parts);
const readJson = async <T>(file: string): Promise<T> => JSON.parse(await readFile(file, 'utf8')) as T;
const lockOf = (name: string): Promise<LockFile> => readJson<LockFile>(at(name));
const build = async (file: string, opts: { only?: string[] } = {}): Promise<FleetBuild> =>
  buildFleet(await loadConfigOrThrow(file), { discover: discoverLocally, ...opts });
const staged = (b: FleetBuild): [string, boolean][] => b.built.map((s) => [s.server.id, s.staged]);
/** The version of the memory server installed in a build folder's function. */
const memoryVersion = async (buildDir: string): Promise<string> =>
  (
    await readJson<{ version: string }>(
      path.join(
        buildDir,
        'memory',
        'function',
        'node_modules',
        '@modelcontextprotocol',
        'server-memory',
        'package.json',
      ),
    )
  ).version;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  defaultFile = at('servers.yaml');
  prodFile = at('servers.prod.yaml');
  await writeFile(defaultFile, DEFAULT);
  await writeFile(prodFile, prod());
  await copyFile(fixture('build', 'weather-tools.json'), at('weather-tools.json'));
  defaultFirst = await build(defaultFile);
  assert.deepEqual(defaultFirst.failed, []);
  defaultLockBytes = await readFile(at('mcp-fleet.lock.json'));
  // The second fleet through the CLI, as a user builds it: its output says how its new lock began.
  prodFirst = await runCli(['build', '--config', 'servers.prod.yaml', '--plain'], { cwd: dir });
});

after(async () => {
  await cleanup();
});

describe('two fleets in one folder', () => {
  test('each fleet has its own lock file, with every pin of its servers', async () => {
    assert.equal(prodFirst.code, 0, prodFirst.stderr);
    assert.equal(defaultFirst.lockFile, at('mcp-fleet.lock.json'));
    const def = await lockOf('mcp-fleet.lock.json');
    const prd = await lockOf('servers.prod.lock.json');
    assert.deepEqual(Object.keys(def.servers), ['memory', 'notes', 'weather']);
    assert.deepEqual(Object.keys(prd.servers), ['forecast', 'memory', 'weather']);
    assert.equal(def.servers['memory']?.package, MEMORY_NEW);
    assert.equal(prd.servers['memory']?.package, MEMORY_OLD);
    assert.ok(def.servers['memory']?.resolved.includes(MEMORY_NEW));
    assert.ok(prd.servers['memory']?.resolved.includes(MEMORY_OLD));
    // The other fleet's build read mcp-fleet.lock.json and left it as it was, byte for byte.
    assert.deepEqual(await readFile(at('mcp-fleet.lock.json')), defaultLockBytes);
  });

  test("the new lock of servers.prod.yaml took the default lock's pin of the very same package, and said so", async () => {
    assert.match(
      prodFirst.stdout,
      /^lock: servers\.prod\.lock\.json is new: took the pins of weather from mcp-fleet\.lock\.json \(the same package, kind and architecture\); memory resolved anew \(another package there\); mcp-fleet\.lock\.json is left as it is$/m,
    );
    assert.deepEqual(
      (await lockOf('servers.prod.lock.json')).servers['weather'],
      (await lockOf('mcp-fleet.lock.json')).servers['weather'],
    );
    assert.match(
      prodFirst.stdout,
      /3 built, 0 failed .* → \.mcp-fleet\/servers\.prod\/build \(lock: servers\.prod\.lock\.json\)/,
    );
  });

  test('the build folders are distinct: each holds its own version of the shared server id', async () => {
    assert.equal(defaultFirst.outDir, at('.mcp-fleet', 'build'));
    assert.equal(await memoryVersion(at('.mcp-fleet', 'build')), '2026.8.31');
    assert.equal(await memoryVersion(at('.mcp-fleet', 'servers.prod', 'build')), '2026.7.4');
    assert.deepEqual((await readdir(at('.mcp-fleet', 'servers.prod', 'build'))).sort(), [
      '.gitignore',
      'forecast',
      'memory',
      'weather',
    ]);
    assert.deepEqual((await readdir(at('.mcp-fleet', 'build'))).sort(), [
      '.gitignore',
      'memory',
      'notes',
      'weather',
    ]);
  });

  test('a second build of the first fleet after the second reuses its stage; so does the second', async () => {
    const again = await build(defaultFile);
    assert.deepEqual(staged(again), [
      ['memory', false],
      ['weather', false],
      ['notes', false],
    ]);
    assert.deepEqual(
      again.built.map((b) => b.tools),
      defaultFirst.built.map((b) => b.tools),
    );
    assert.deepEqual(await readFile(at('mcp-fleet.lock.json')), defaultLockBytes);
    const prodAgain = await build(prodFile);
    assert.deepEqual(staged(prodAgain), [
      ['memory', false],
      ['weather', false],
      ['forecast', false],
    ]);
    // The lock is written through a temporary file renamed over it: none is left.
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });

  test('dev runs each fleet from its own build folder, with its own work folder', async () => {
    const fleet = await startFleet(await loadConfigOrThrow(prodFile), {
      port: 0,
      env: { ...process.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    });
    try {
      assert.deepEqual(fleet.fromBuild, ['memory']);
      const launch = await readJson<{ path: string[] }>(
        at('.mcp-fleet', 'servers.prod', 'dev', 'memory', 'launch.json'),
      );
      assert.deepEqual(launch.path, [at('.mcp-fleet', 'servers.prod', 'build', 'memory', 'function', 'bin')]);
      const out = await fleet.lambda.invoke(
        'mcp-server-memory',
        {},
        {
          clientContext: { custom: { bedrockAgentCoreToolName: 'memory___read_graph' } },
        },
      );
      assert.match(text(out.payload), /entities/);
    } finally {
      await fleet.close();
    }
    const log = await readFile(at('.mcp-fleet', 'servers.prod', 'dev', 'memory', 'function.log'), 'utf8');
    assert.match(log, /REPORT RequestId/);
    // Only servers.prod ran: the default fleet has no dev files.
    assert.deepEqual((await readdir(at('.mcp-fleet'))).sort(), ['build', 'servers.prod']);
    assert.deepEqual((await readdir(at('.mcp-fleet', 'servers.prod'))).sort(), ['build', 'dev']);
  });
});

describe('a build keeps every pin it did not resolve', () => {
  test('build --only keeps the pins of the servers it did not build', async () => {
    const before = await lockOf('servers.prod.lock.json');
    const r = await runCli(['build', '--config', 'servers.prod.yaml', '--only', 'forecast', '--json'], {
      cwd: dir,
    });
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { servers: { id: string; staged: boolean }[]; lock: unknown };
    assert.deepEqual(
      json.servers.map((s) => [s.id, s.staged]),
      [['forecast', false]],
    );
    assert.deepEqual(json.lock, { kept: [], pruned: [] });
    assert.deepEqual(await lockOf('servers.prod.lock.json'), before);
  });

  test('a stage is not reused without its pin: a lock that lost one (deleted to resolve again) gets it back', async () => {
    const before = await lockOf('servers.prod.lock.json');
    const { forecast, ...others } = before.servers;
    assert.ok(forecast);
    await writeFile(at('servers.prod.lock.json'), JSON.stringify({ lockfileVersion: 1, servers: others }));
    const again = await build(prodFile, { only: ['forecast'] });
    assert.deepEqual(staged(again), [['forecast', true]]);
    assert.deepEqual(await lockOf('servers.prod.lock.json'), before);
  });

  test("a failed build keeps the failed servers' previous pins; the next build stages them again from those pins", async () => {
    const before = await lockOf('servers.prod.lock.json');
    // memory: a version the registry does not have (staging fails); forecast: a new tag that
    // stages, then its tools file is missing (the build fails after staging).
    await writeFile(
      prodFile,
      prod({
        memory: '@modelcontextprotocol/server-memory@2099.1.1',
        forecast: 'ghcr.io/example/forecast-mcp:2.1.0',
        forecastTools: 'missing-tools.json',
      }),
    );
    const failed = await build(prodFile);
    assert.deepEqual(failed.failed.map((f) => f.serverId).sort(), ['forecast', 'memory']);
    assert.match(failed.failed.find((f) => f.serverId === 'forecast')?.message ?? '', /missing-tools\.json/);
    assert.deepEqual(staged(failed), [['weather', false]]);
    assert.deepEqual(await lockOf('servers.prod.lock.json'), before);

    await writeFile(prodFile, prod());
    const again = await build(prodFile);
    assert.deepEqual(again.failed, []);
    // What the failed build left in their folders is not taken for the previous stage.
    assert.deepEqual(staged(again), [
      ['memory', true],
      ['weather', false],
      ['forecast', true],
    ]);
    const dockerfile = await readFile(
      at('.mcp-fleet', 'servers.prod', 'build', 'forecast', 'image', 'Dockerfile'),
      'utf8',
    );
    assert.match(dockerfile, /^FROM ghcr\.io\/example\/forecast-mcp:2\.0\.0 AS server$/m);
    // From the kept pin: npm installs exactly the locked tree.
    const log = await readFile(at('.mcp-fleet', 'servers.prod', 'build', 'memory', 'build.log'), 'utf8');
    assert.match(log, /^\$ npm ci /m);
    assert.equal(await memoryVersion(at('.mcp-fleet', 'servers.prod', 'build')), '2026.7.4');
    assert.deepEqual(await lockOf('servers.prod.lock.json'), before);
  });

  test('a server removed from the config keeps its pin until --prune-lock; a disabled one keeps it', async () => {
    const disabledWeather = imageServer('weather', 'ghcr.io/example/weather-mcp:1.2.0').replace(
      '    package:',
      '    enabled: false\n    package:',
    );
    await writeFile(prodFile, prod({ forecast: '', weather: disabledWeather }));
    const kept = await runCli(['build', '--config', 'servers.prod.yaml', '--plain'], { cwd: dir });
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(
      kept.stdout,
      /^lock: kept the pins of forecast, no longer in servers\.prod\.yaml; remove them with mcp-fleet build --config servers\.prod\.yaml --prune-lock$/m,
    );
    assert.doesNotMatch(kept.stdout, /weather/);
    assert.deepEqual(Object.keys((await lockOf('servers.prod.lock.json')).servers), [
      'forecast',
      'memory',
      'weather',
    ]);

    const pruned = await runCli(['build', '--config', 'servers.prod.yaml', '--prune-lock', '--plain'], {
      cwd: dir,
    });
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /^lock: removed the pins of forecast, no longer in servers\.prod\.yaml$/m);
    assert.deepEqual(Object.keys((await lockOf('servers.prod.lock.json')).servers), ['memory', 'weather']);
    // A build that prunes nothing says nothing about the lock.
    const quiet = await runCli(['build', '--config', 'servers.prod.yaml', '--plain'], { cwd: dir });
    assert.doesNotMatch(quiet.stdout, /^lock:/m);
  });

  test("the default fleet's lock was never written by the other fleet's commands", async () => {
    assert.deepEqual(await readFile(at('mcp-fleet.lock.json')), defaultLockBytes);
    assert.deepEqual(Object.keys((await lockOf('mcp-fleet.lock.json')).servers), [
      'memory',
      'notes',
      'weather',
    ]);
  });

  test('no process is left behind by builds, discovery and dev', async () => {
    await assertNoneLeft(mark.value);
  });
});
