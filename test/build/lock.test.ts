// The lock file's rules, in process (no installs): a build writes the pins it resolved and keeps
// every other one, prunes only when asked, writes atomically, and a new lock of a non-default
// config starts from the default lock's pins of the very same packages without touching that file.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { entryFits, openLock, readLock, updateLock, writeLock, type LockFile } from '../../src/build/lock.js';
import type { LockEntry } from '../../src/build/stage/index.js';
import { fleetPaths } from '../../src/config/fleet-paths.js';
import { parseConfig, type FleetConfig } from '../../src/config/index.js';
import { tempDir } from '../helpers.js';

const MEMORY_NEW = '@modelcontextprotocol/server-memory@2026.8.31';
const MEMORY_OLD = '@modelcontextprotocol/server-memory@2026.7.4';

const npmEntry = (spec: string, architecture: 'arm64' | 'x86_64' = 'arm64'): LockEntry => ({
  kind: 'npm',
  package: spec,
  architecture,
  resolved: [spec, '@modelcontextprotocol/sdk@1.32.2'],
  npmLock: { lockfileVersion: 3, packages: {} },
});
const imageEntry = (ref: string): LockEntry => ({
  kind: 'image',
  package: ref,
  architecture: 'arm64',
  resolved: [ref],
});

/** A config of `servers` (YAML lines under `servers:`), read as if it were the file `file`. */
function fleet(file: string, servers: string): FleetConfig {
  const { config, problems } = parseConfig(`servers:\n${servers}`, { file });
  assert.ok(config, problems.map((p) => p.message).join('\n'));
  return config;
}

const PROD = `  memory:
    package: { npm: "${MEMORY_NEW}" }
    command: mcp-server-memory
  weather:
    package: { image: "ghcr.io/example/weather-mcp:1.2.0" }
    command: /usr/local/bin/weather-mcp
  git:
    package: { pypi: mcp-server-git==2026.10.19 }
    command: mcp-server-git
  everything:
    package: { npm: "@modelcontextprotocol/server-everything@2026.8.31" }
    command: mcp-server-everything
    aws: { architecture: x86_64 }
`;

let dir: string;
let cleanup: () => Promise<void>;
before(async () => {
  ({ dir, cleanup } = await tempDir());
});
after(async () => {
  await cleanup();
});

describe('entryFits', () => {
  test('an entry fits a server only with the same kind, package spec and architecture', () => {
    const [memory] = fleet(path.join(dir, 'servers.yaml'), PROD).servers;
    assert.ok(memory);
    assert.equal(entryFits(npmEntry(MEMORY_NEW), memory), true);
    assert.equal(entryFits(npmEntry(MEMORY_OLD), memory), false);
    assert.equal(entryFits(npmEntry(MEMORY_NEW, 'x86_64'), memory), false);
    assert.equal(entryFits({ ...npmEntry(MEMORY_NEW), kind: 'go' }, memory), false);
    assert.equal(entryFits(undefined, memory), false);
  });
});

describe('updateLock', () => {
  test('writes the resolved pins, keeps every other one, and names the pins of removed servers', async () => {
    const file = path.join(dir, 'keep.lock.json');
    const config = fleet(
      path.join(dir, 'keep.yaml'),
      `  memory:
    package: { npm: "${MEMORY_NEW}" }
    command: mcp-server-memory
  weather:
    enabled: false
    package: { image: "ghcr.io/example/weather-mcp:1.2.0" }
    command: /usr/local/bin/weather-mcp
`,
    );
    const start: LockFile = {
      lockfileVersion: 1,
      servers: {
        memory: npmEntry(MEMORY_OLD),
        weather: imageEntry('ghcr.io/example/weather-mcp:1.2.0'),
        zeta: imageEntry('ghcr.io/example/zeta:1.0.0'),
        alpha: imageEntry('ghcr.io/example/alpha:1.0.0'),
      },
    };
    await writeLock(file, start);
    const kept = await updateLock(file, start, new Map([['memory', npmEntry(MEMORY_NEW)]]), config, false);
    assert.deepEqual(kept, { file, kept: ['alpha', 'zeta'], pruned: [] });
    const lock = await readLock(file);
    assert.equal(lock.servers['memory']?.package, MEMORY_NEW);
    // The disabled server's pin and the pins of servers no longer in the config stay.
    assert.deepEqual(Object.keys(lock.servers), ['alpha', 'memory', 'weather', 'zeta']);

    const pruned = await updateLock(file, lock, new Map(), config, true);
    assert.deepEqual(pruned, { file, kept: [], pruned: ['alpha', 'zeta'] });
    assert.deepEqual(Object.keys((await readLock(file)).servers), ['memory', 'weather']);
  });

  test('pins another build wrote meanwhile are kept (the file is read again before it is written)', async () => {
    const file = path.join(dir, 'race.lock.json');
    const config = fleet(path.join(dir, 'race.yaml'), PROD);
    const start: LockFile = { lockfileVersion: 1, servers: { memory: npmEntry(MEMORY_NEW) } };
    await writeLock(file, start);
    // Another build (e.g. `dev`'s hot reload) resolves weather after this one started.
    await writeLock(file, {
      lockfileVersion: 1,
      servers: { ...start.servers, weather: imageEntry('ghcr.io/example/weather-mcp:1.2.0') },
    });
    await updateLock(file, start, new Map([['git', imageEntry('x:1')]]), config, false);
    assert.deepEqual(Object.keys((await readLock(file)).servers), ['git', 'memory', 'weather']);
  });
});

describe('writeLock', () => {
  test('replaces the file atomically: a reader never sees half a lock, and no temporary file is left', async () => {
    const file = path.join(dir, 'atomic.lock.json');
    // A lock of a few MB: a plain rewrite would be seen truncated or half written.
    const big = (version: number): LockFile => ({
      lockfileVersion: 1,
      servers: Object.fromEntries(
        Array.from({ length: 400 }, (_, i) => [
          `server-${i}`,
          {
            ...npmEntry(`pkg-${i}@${version}.0.0`),
            resolved: Array.from({ length: 200 }, (_, j) => `dependency-${j}@${version}.${j}.${i}`),
          },
        ]),
      ),
    });
    const versions = [big(1), big(2)] as const;
    await writeLock(file, versions[0]);
    let writing = true;
    let reads = 0;
    const bad: string[] = [];
    const reader = (async () => {
      while (writing) {
        const text = await readFile(file, 'utf8');
        reads += 1;
        try {
          JSON.parse(text);
        } catch {
          bad.push(`${text.length} bytes`);
        }
      }
    })();
    for (let i = 0; i < 30; i++) await writeLock(file, versions[i % 2] ?? versions[0]);
    writing = false;
    await reader;
    assert.ok(reads > 0);
    assert.deepEqual(bad, [], `${bad.length} of ${reads} reads saw a partial lock`);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.includes('atomic') && f !== 'atomic.lock.json'),
      [],
    );
  });

  test('writes servers in id order', async () => {
    const file = path.join(dir, 'order.lock.json');
    await writeLock(file, {
      lockfileVersion: 1,
      servers: { b: imageEntry('b:1'), a: imageEntry('a:1') },
    });
    assert.deepEqual(Object.keys((JSON.parse(await readFile(file, 'utf8')) as LockFile).servers), ['a', 'b']);
  });
});

describe('openLock: a new lock of a non-default config', () => {
  const defaultLock: LockFile = {
    lockfileVersion: 1,
    servers: {
      memory: npmEntry(MEMORY_NEW),
      weather: imageEntry('ghcr.io/example/weather-mcp:1.2.0'),
      git: imageEntry('not-the-pypi-package:1'),
      everything: npmEntry('@modelcontextprotocol/server-everything@2026.8.31', 'arm64'),
      other: imageEntry('ghcr.io/example/other:1.0.0'),
    },
  };

  test("takes the default lock's pins of the very same package, kind and architecture, and never writes that file", async () => {
    const folder = path.join(dir, 'seed');
    await mkdir(folder);
    await writeLock(path.join(folder, 'mcp-fleet.lock.json'), defaultLock);
    const before = await readFile(path.join(folder, 'mcp-fleet.lock.json'));
    const config = fleet(path.join(folder, 'servers.prod.yaml'), PROD);
    const paths = fleetPaths(config.file);
    const { lock, seed } = await openLock(paths, config);
    assert.deepEqual(seed, {
      from: path.join(folder, 'mcp-fleet.lock.json'),
      taken: ['memory', 'weather'],
      // git: another kind there; everything: another architecture.
      skipped: ['git', 'everything'],
    });
    assert.deepEqual(lock.servers, {
      memory: defaultLock.servers['memory'],
      weather: defaultLock.servers['weather'],
    });
    await updateLock(paths.lockFile, lock, new Map(), config, false);
    assert.deepEqual(Object.keys((await readLock(path.join(folder, 'servers.prod.lock.json'))).servers), [
      'memory',
      'weather',
    ]);
    assert.deepEqual(await readFile(path.join(folder, 'mcp-fleet.lock.json')), before);

    // Once the config has its own lock, it is never seeded again.
    const again = await openLock(paths, config);
    assert.equal(again.seed, undefined);
  });

  test("an unreadable default lock fails the default fleet's build only; another config's says why it took nothing", async () => {
    const folder = path.join(dir, 'unreadable');
    await mkdir(folder);
    await writeFile(path.join(folder, 'mcp-fleet.lock.json'), '{ half a lock');
    const def = fleet(path.join(folder, 'servers.yaml'), PROD);
    await assert.rejects(openLock(fleetPaths(def.file), def), /mcp-fleet\.lock\.json: not valid JSON/);
    const prod = fleet(path.join(folder, 'servers.prod.yaml'), PROD);
    const { lock, seed } = await openLock(fleetPaths(prod.file), prod);
    assert.deepEqual(lock.servers, {});
    assert.match(seed?.error ?? '', /mcp-fleet\.lock\.json: not valid JSON/);
    assert.ok(!existsSync(path.join(folder, 'servers.prod.lock.json')));
  });

  test('no default lock, or no pin there of a server of the config: nothing to say', async () => {
    const folder = path.join(dir, 'none');
    await mkdir(folder);
    const prod = fleet(path.join(folder, 'servers.prod.yaml'), PROD);
    assert.equal((await openLock(fleetPaths(prod.file), prod)).seed, undefined);
    await writeLock(path.join(folder, 'mcp-fleet.lock.json'), {
      lockfileVersion: 1,
      servers: { unrelated: imageEntry('u:1') },
    });
    assert.equal((await openLock(fleetPaths(prod.file), prod)).seed, undefined);
  });
});
