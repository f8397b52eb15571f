/**
 * `build` per host: a `web-function` zip carries the Web Function entry as index.mjs and is staged
 * for arm64 (npm natives, Go binaries) whatever `aws.architecture` says; a `managed-instances` zip
 * is a function's zip; a pypi or image server on either host fails with the hosts that run it; a
 * host change stages the server again. Real packages, installed as a deployment would have them;
 * the tools come from checked-in tools/list results of the same servers (test/fixtures/hosts):
 * discovery runs a server in the local environment of its host, which is the local Lambda's part.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildFleet, type FleetBuild } from '../../src/build/build.js';
import { readLock } from '../../src/build/lock.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import type { FleetConfig, Hosting } from '../../src/config/model.js';
import { HANDLER_BUNDLE, WEB_BUNDLE } from '../../src/contract/bundle.js';
import { fixture, tempDir } from '../helpers.js';
import { byId, elfMachine, launchOf } from './support.js';

const MEMORY = '"@modelcontextprotocol/server-memory@2026.8.31"';
const CONFIG = `
stack: HostsBuildTest
servers:
  web-memory:
    description: The memory server on a web function, one call per process
    package: { npm: ${MEMORY} }
    command: mcp-server-memory
    host: web-function
    concurrency: 1
    processes: 3
    env: { MEMORY_FILE_PATH: /tmp/mcp-fleet-hosts-build-memory.jsonl }
    toolsFile: memory-tools.json
  web-libsql:
    description: A server with native modules (libsql), on a web function
    package: { npm: mcp-memory-libsql@0.0.17 }
    command: mcp-memory-libsql
    host: web-function
    toolsFile: libsql-tools.json
  web-go:
    description: The mcp-go example server, on a web function
    package: { go: github.com/mark3labs/mcp-go/examples/everything@v1.2.1 }
    command: everything
    host: web-function
    toolsFile: go-everything-tools.json
  lmi-memory:
    description: The memory server on managed instances
    package: { npm: ${MEMORY} }
    command: mcp-server-memory
    host: managed-instances
    memory: 2048
    environmentConcurrency: 32
    toolsFile: memory-tools.json
  weather:
    description: A server from a container image
    package: { image: "ghcr.io/example/weather-mcp:1.2.0" }
    command: /usr/local/bin/weather-mcp
    toolsFile: weather-tools.json
  git:
    description: A PyPI server
    package: { pypi: mcp-server-git==2026.10.19 }
    command: mcp-server-git
`;

let dir: string;
let cleanup: () => Promise<void>;
let fleet: FleetConfig;
let first: FleetBuild;

/** The fleet with one server's host (and its settings) replaced, as if the config said so. */
const withHost = (config: FleetConfig, id: string, hosting: Hosting): FleetConfig => ({
  ...config,
  servers: config.servers.map((s) => (s.id === id ? { ...s, hosting } : s)),
});

before(async () => {
  assert.ok(existsSync(WEB_BUNDLE), `${WEB_BUNDLE}: the Web Function entry, built by npm run build`);
  ({ dir, cleanup } = await tempDir());
  await writeFile(path.join(dir, 'servers.yaml'), CONFIG);
  await copyFile(fixture('build', 'weather-tools.json'), path.join(dir, 'weather-tools.json'));
  for (const tools of ['libsql-tools.json', 'memory-tools.json', 'go-everything-tools.json'])
    await copyFile(fixture('hosts', tools), path.join(dir, tools));
  fleet = await loadConfigOrThrow(path.join(dir, 'servers.yaml'));
  // What the config's checks refuse, built anyway (the build must refuse it too): an image server
  // on a web function, a pypi server on managed instances; and a web function whose architecture
  // says x86_64 (a `defaults:` value the server's own checks do not see).
  const hostOf = (host: Hosting['host']): Hosting => ({
    host,
    environmentConcurrency: 64,
    concurrency: 64,
    processes: 1,
  });
  fleet = withHost(withHost(fleet, 'weather', hostOf('web-function')), 'git', hostOf('managed-instances'));
  fleet.servers = fleet.servers.map((s) =>
    s.id === 'web-libsql' ? { ...s, aws: { ...s.aws, architecture: 'x86_64' } } : s,
  );
  first = await buildFleet(fleet);
});

after(async () => {
  await cleanup();
});

describe('web-function', () => {
  test('the zip: the Web Function entry as index.mjs, the launch spec with the host and its concurrency', async () => {
    const b = byId(first, 'web-memory');
    assert.equal(b.artifact.kind, 'zip');
    assert.deepEqual(await readFile(path.join(b.artifact.dir, 'index.mjs')), await readFile(WEB_BUNDLE));
    const launch = await launchOf(b);
    assert.equal(launch.host, 'web-function');
    assert.equal(launch.concurrency, 1);
    assert.equal(launch.processes, 3);
    assert.deepEqual(launch.path, ['bin']);
    assert.deepEqual(launch.env, { MEMORY_FILE_PATH: '/tmp/mcp-fleet-hosts-build-memory.jsonl' });
    assert.ok(
      existsSync(path.join(b.artifact.dir, 'node_modules', '@modelcontextprotocol', 'server-memory')),
    );
    assert.ok(b.tools.some((t) => t.name === 'read_graph'));
  });

  test('npm native modules for Linux arm64, whatever aws.architecture says (Web Functions are arm64 only)', async () => {
    const b = byId(first, 'web-libsql');
    const libsql = path.join(b.artifact.dir, 'node_modules', '@libsql');
    assert.equal(await elfMachine(path.join(libsql, 'linux-arm64-gnu', 'index.node')), 0xb7, 'EM_AARCH64');
    assert.ok(!existsSync(path.join(libsql, 'linux-x64-gnu')), 'no x86-64 build of libsql');
    assert.deepEqual(await readFile(path.join(b.artifact.dir, 'index.mjs')), await readFile(WEB_BUNDLE));
    assert.equal(b.server.aws.architecture, 'arm64');
    const lock = await readLock(first.lockFile);
    assert.equal(lock.servers['web-libsql']?.architecture, 'arm64');
    assert.equal(b.manifest.tools.source, 'file');
    assert.equal(b.manifest.tools.count, 6);
  });

  test('Go: a linux/arm64 binary in the zip, and one for this machine to run it here', async () => {
    const b = byId(first, 'web-go');
    assert.equal(await elfMachine(path.join(b.artifact.dir, 'bin', 'everything')), 0xb7, 'EM_AARCH64');
    assert.ok(b.hostLaunch !== undefined);
    const host = path.join(path.dirname(b.hostLaunch), 'bin', 'everything');
    assert.equal(await elfMachine(host), process.arch === 'x64' ? 0x3e : 0xb7);
    assert.deepEqual(await readFile(path.join(b.artifact.dir, 'index.mjs')), await readFile(WEB_BUNDLE));
    assert.equal((await launchOf(b)).host, 'web-function');
    assert.ok(b.tools.some((t) => t.name === 'add'));
  });
});

describe('managed-instances', () => {
  test("a function's zip: the runtime's handler as index.mjs, the launch spec with the host", async () => {
    const b = byId(first, 'lmi-memory');
    assert.deepEqual(await readFile(path.join(b.artifact.dir, 'index.mjs')), await readFile(HANDLER_BUNDLE));
    const launch = await launchOf(b);
    assert.equal(launch.host, 'managed-instances');
    // The defaults: 32 calls per process, up to 4 processes.
    assert.equal(launch.processes, 4);
    assert.equal(launch.concurrency, 32);
    assert.equal((await readLock(first.lockFile)).servers['lmi-memory']?.architecture, 'arm64');
    assert.ok(b.tools.some((t) => t.name === 'read_graph'));
  });
});

describe('what the Node.js hosts cannot run', () => {
  test('an image or a pypi server fails, naming the hosts that run it; nothing is staged', () => {
    const failures = new Map(first.failed.map((f) => [f.serverId, f.message]));
    assert.deepEqual([...failures.keys()].sort(), ['git', 'weather']);
    assert.match(
      failures.get('weather') ?? '',
      /host web-function runs a Node\.js zip, and an image server is built into a container image, which only hosts function and agentcore-runtime run; set host: function or agentcore-runtime/,
    );
    assert.match(
      failures.get('git') ?? '',
      /host managed-instances runs a Node\.js zip, and a pypi server is built into a container image, which only hosts function and agentcore-runtime run/,
    );
    assert.ok(!existsSync(path.join(first.outDir, 'weather', 'image')));
    assert.ok(!existsSync(path.join(first.outDir, 'git', 'host')));
  });

  test('a missing Web Function entry fails the build of a web function, with the command that makes it', async () => {
    const missing = path.join(dir, 'no-such', 'web.bundle.mjs');
    const b = await buildFleet(fleet, { only: ['web-memory'], webBundle: missing });
    assert.deepEqual(
      b.failed.map((f) => f.message),
      [`the Web Function entry ${missing} is missing; run npm run build`],
    );
  });
});

describe('a host change', () => {
  test('stages the server again with the new entry; the next build is up to date', async () => {
    const web: Hosting = { host: 'web-function', environmentConcurrency: 16, concurrency: 16, processes: 1 };
    const moved = withHost(fleet, 'lmi-memory', web);
    const again = await buildFleet(moved, { only: ['lmi-memory'] });
    const b = byId(again, 'lmi-memory');
    assert.equal(b.staged, true);
    assert.deepEqual(await readFile(path.join(b.artifact.dir, 'index.mjs')), await readFile(WEB_BUNDLE));
    assert.equal((await launchOf(b)).host, 'web-function');
    const unchanged = await buildFleet(moved, { only: ['lmi-memory'] });
    assert.equal(byId(unchanged, 'lmi-memory').staged, false);
  });
});
