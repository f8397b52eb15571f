/**
 * `build` of `host: agentcore-runtime`: npm and Go servers become Node.js direct code (the zip
 * folder, the session entry as `index.mjs`, staged for arm64), a container when they are over
 * AgentCore's direct-code limits; PyPI and image servers an arm64 container whose command is the
 * session entry on port 8000 (PyPI: the same uv install of the locked set, with bytecode, as for an
 * event function). Tools are discovered from the staged servers; the host is part of the build's
 * fingerprint. Real packages from their registries; the direct-code entry is run as AgentCore
 * runs it (`node index.mjs`) and asked through the MCP SDK's client. No container engine runs
 * here: the containers' build contexts are checked, not built.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { validate as validateDockerfile } from 'dockerfile-utils';
import { buildFleet, type FleetBuild, type ServerBuild } from '../../src/build/build.js';
import { readLock } from '../../src/build/lock.js';
import { directCodeSize } from '../../src/build/stage/runtime.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import type { FleetConfig, Hosting } from '../../src/config/model.js';
import { SESSION_BUNDLE, WEB_BUNDLE } from '../../src/contract/bundle.js';
import { SESSION_HOST_ENV, SESSION_PORT_ENV } from '../../src/contract/function-env.js';
import { discoverLocally } from '../../src/local/lambda/discovery.js';
import { fixture, freePort, tempDir } from '../helpers.js';
import { assertNoneLeft, marker } from '../runtime/support.js';
import { eventually, exited, outputOf } from '../support/eventually.js';
import { byId, elfMachine, launchOf } from './support.js';

const run = promisify(execFile);
const mark = marker();
// Every process the builds and tests start inherits the marker: the last test checks none is left.
process.env[mark.name] = mark.value;

const MEMORY = '"@modelcontextprotocol/server-memory@2026.8.31"';
const MB = 1024 * 1024;
const CONFIG = `
stack: RuntimeHostBuildTest
defaults:
  aws: { architecture: x86_64 }
servers:
  memory:
    description: The memory server on AgentCore Runtime
    package: { npm: ${MEMORY} }
    command: mcp-server-memory
    host: agentcore-runtime
    env: { MEMORY_FILE_PATH: /tmp/mcp-fleet-runtime-host-build-memory.jsonl }
  go-everything:
    description: The mcp-go example server on AgentCore Runtime
    package: { go: github.com/mark3labs/mcp-go/examples/everything@v1.2.1 }
    command: everything
    host: agentcore-runtime
  git:
    description: A PyPI server on AgentCore Runtime
    package: { pypi: mcp-server-git==2026.10.19, system: [git] }
    command: mcp-server-git
    host: agentcore-runtime
  weather:
    description: A server from a container image on AgentCore Runtime
    package: { image: "ghcr.io/example/weather-mcp:1.2.0" }
    command: /usr/local/bin/weather-mcp
    host: agentcore-runtime
    toolsFile: weather-tools.json
  memory-big:
    description: The memory server, built with lowered direct-code limits
    package: { npm: ${MEMORY} }
    command: mcp-server-memory
    host: agentcore-runtime
`;

let dir: string;
let cleanup: () => Promise<void>;
let fleet: FleetConfig;
let first: FleetBuild;

const dockerfileOf = (b: ServerBuild): Promise<string> =>
  readFile(path.join(b.artifact.dir, 'Dockerfile'), 'utf8');

/** What every AgentCore Runtime container ends with: the session entry is its command, on 8000. */
function assertSessionContainer(dockerfile: string): void {
  const froms = [...dockerfile.matchAll(/^FROM (.*)$/gm)].map((m) => m[1] ?? '');
  assert.ok(froms.length > 0);
  for (const from of froms) assert.match(from, /^--platform=linux\/arm64 /, `FROM ${from}`);
  assert.match(dockerfile, /^FROM --platform=linux\/arm64 public\.ecr\.aws\/lambda\/nodejs:22$/m);
  assert.match(dockerfile, /^EXPOSE 8000$/m);
  // The base image's entrypoint (Lambda's runtime interface) is cleared: the command is the entry.
  assert.match(dockerfile, /^ENTRYPOINT \[\]\nCMD \["node", "\/var\/task\/index\.mjs"\]\n$/m);
  assert.doesNotMatch(dockerfile, /index\.handler/);
  // Checked by the Dockerfile validator of VS Code's Docker language server (no engine runs here).
  assert.deepEqual(validateDockerfile(dockerfile), []);
}

/** The files a Dockerfile copies from its context (not from another stage). */
const copied = (dockerfile: string): string[] =>
  [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => (m[1] ?? '').split(' '));

before(async () => {
  assert.ok(existsSync(SESSION_BUNDLE), `${SESSION_BUNDLE}: the session entry, built by npm run build`);
  ({ dir, cleanup } = await tempDir());
  await writeFile(path.join(dir, 'servers.yaml'), CONFIG);
  await copyFile(fixture('build', 'weather-tools.json'), path.join(dir, 'weather-tools.json'));
  fleet = await loadConfigOrThrow(path.join(dir, 'servers.yaml'));
  first = await buildFleet(fleet, {
    discover: discoverLocally,
    only: ['memory', 'go-everything', 'git', 'weather'],
  });
});

after(async () => {
  await cleanup();
});

describe('npm and Go: Node.js direct code', () => {
  test('npm: the zip folder with the session entry as index.mjs, launch.json with the host, modules for Linux arm64', async () => {
    const b = byId(first, 'memory');
    assert.equal(b.artifact.kind, 'zip');
    assert.deepEqual(await readFile(path.join(b.artifact.dir, 'index.mjs')), await readFile(SESSION_BUNDLE));
    const launch = await launchOf(b);
    assert.equal(launch.host, 'agentcore-runtime');
    // One server process per session, taking its calls at once (the default 8).
    assert.equal(launch.processes, 1);
    assert.equal(launch.concurrency, 8);
    assert.deepEqual(launch.path, ['bin']);
    assert.ok(existsSync(path.join(b.artifact.dir, 'bin', 'mcp-server-memory')));
    assert.ok(
      existsSync(path.join(b.artifact.dir, 'node_modules', '@modelcontextprotocol', 'server-memory')),
    );
    assert.ok(!existsSync(path.join(b.artifact.dir, 'Dockerfile')));
    assert.equal(b.manifest.artifactNote, undefined);
    // arm64 whatever `defaults` say: AgentCore Runtime runs arm64 only.
    assert.equal(b.server.aws.architecture, 'arm64');
    assert.equal((await readLock(first.lockFile)).servers['memory']?.architecture, 'arm64');
    // Discovered from the staged server.
    assert.equal(b.manifest.tools.source, 'discovered');
    assert.ok(b.tools.some((t) => t.name === 'read_graph'));
  });

  test('Go: a linux/arm64 binary beside the session entry, one for this machine to discover its tools', async () => {
    const b = byId(first, 'go-everything');
    assert.equal(b.artifact.kind, 'zip');
    assert.equal(await elfMachine(path.join(b.artifact.dir, 'bin', 'everything')), 0xb7, 'EM_AARCH64');
    assert.deepEqual(await readFile(path.join(b.artifact.dir, 'index.mjs')), await readFile(SESSION_BUNDLE));
    assert.equal((await launchOf(b)).host, 'agentcore-runtime');
    assert.ok(b.hostLaunch !== undefined);
    if (process.arch === 'x64')
      assert.equal(await elfMachine(path.join(path.dirname(b.hostLaunch), 'bin', 'everything')), 0x3e);
    assert.equal(b.manifest.tools.source, 'discovered');
    assert.ok(b.tools.some((t) => t.name === 'add'));
  });

  test('the direct-code entry, run as AgentCore runs it (node index.mjs), answers the MCP SDK client with the tools the build discovered', async () => {
    const b = byId(first, 'memory');
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(b.artifact.dir, 'index.mjs')], {
      cwd: b.artifact.dir,
      env: { ...process.env, [SESSION_PORT_ENV]: String(port), [SESSION_HOST_ENV]: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = outputOf(child);
    const client = new Client({ name: 'runtime-host-test', version: '1.0.0' });
    try {
      await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`the entry exited: ${output.all()}`);
          await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
          return true;
        },
        { what: `the session entry on port ${port}`, seen: output.all },
      );
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), b.tools.map((t) => t.name).sort());
      const graph = await client.callTool({ name: 'read_graph', arguments: {} });
      assert.notEqual(graph.isError, true, JSON.stringify(graph));
    } finally {
      await client.close();
      child.kill('SIGTERM');
      await exited(child);
    }
  });
});

describe('PyPI and image: an arm64 container, the session entry as its command', () => {
  test("PyPI: Lambda's Node.js base for arm64, the locked set installed by uv with bytecode, CMD the session entry on 8000", async () => {
    const b = byId(first, 'git');
    assert.equal(b.artifact.kind, 'image');
    const dockerfile = await dockerfileOf(b);
    assertSessionContainer(dockerfile);
    assert.match(dockerfile, /^FROM --platform=linux\/arm64 ghcr\.io\/astral-sh\/uv:\S+ AS uv$/m);
    assert.match(dockerfile, /dnf install -y git/);
    // The install the host ran, the same command: the locked set, no resolution, bytecode.
    const log = await readFile(path.join(path.dirname(b.artifact.dir), 'build.log'), 'utf8');
    const hostInstall = [...log.matchAll(/^\$ \S*\buv (pip install .*)$/gm)].map((m) => m[1]);
    const imageInstall = [...dockerfile.matchAll(/\buv (pip install [^\\\n]*?)\s*(?:\\|$)/gm)].map(
      (m) => m[1],
    );
    assert.deepEqual(imageInstall, hostInstall);
    assert.match(imageInstall[0] ?? '', /--no-deps --compile-bytecode --requirement requirements\.txt/);
    const requirements = (await readFile(path.join(b.artifact.dir, 'requirements.txt'), 'utf8'))
      .trim()
      .split('\n');
    const lock = await readLock(first.lockFile);
    assert.deepEqual(lock.servers['git']?.resolved, requirements);
    assert.ok(requirements.includes('mcp-server-git==2026.10.19'));
    assert.equal(lock.servers['git']?.architecture, 'arm64');
    assert.ok(dockerfile.indexOf('PYTHONDONTWRITEBYTECODE=1') > dockerfile.indexOf('--compile-bytecode'));
    // The entry and the launch spec in the context: the session entry, the image's venv on PATH.
    assert.deepEqual(await readFile(path.join(b.artifact.dir, 'index.mjs')), await readFile(SESSION_BUNDLE));
    const launch = await launchOf(b);
    assert.equal(launch.host, 'agentcore-runtime');
    assert.deepEqual(launch.path, ['/opt/venv/bin']);
    for (const f of copied(dockerfile)) assert.ok(existsSync(path.join(b.artifact.dir, f)), f);
    const ignore = await readFile(path.join(b.artifact.dir, '.dockerignore'), 'utf8');
    assert.deepEqual(ignore.split('\n').filter(Boolean), [
      '*',
      '!index.mjs',
      '!launch.json',
      '!requirements.txt',
    ]);
  });

  test('PyPI: the host install carries the bytecode of every module; tools discovered from it', async () => {
    const b = byId(first, 'git');
    const venv = path.join(path.dirname(b.artifact.dir), 'host', 'venv');
    const [py] = await readdir(path.join(venv, 'lib'));
    const pkg = path.join(venv, 'lib', py ?? '', 'site-packages', 'mcp_server_git');
    const modules = (await readdir(pkg)).filter((f) => f.endsWith('.py'));
    const cached = await readdir(path.join(pkg, '__pycache__'));
    for (const m of modules)
      assert.ok(
        cached.some((c) => c.startsWith(`${m.slice(0, -3)}.`) && c.endsWith('.pyc')),
        `${m} compiled`,
      );
    assert.equal(b.manifest.tools.source, 'discovered');
    assert.ok(b.tools.some((t) => t.name === 'git_status'));
  });

  test('image: the server copied from its image for arm64, CMD the session entry on 8000', async () => {
    const b = byId(first, 'weather');
    assert.equal(b.artifact.kind, 'image');
    const dockerfile = await dockerfileOf(b);
    assertSessionContainer(dockerfile);
    assert.match(
      dockerfile,
      /^FROM --platform=linux\/arm64 ghcr\.io\/example\/weather-mcp:1\.2\.0 AS server$/m,
    );
    assert.match(
      dockerfile,
      /^COPY --from=server \/usr\/local\/bin\/weather-mcp \/usr\/local\/bin\/weather-mcp$/m,
    );
    assert.deepEqual(await readFile(path.join(b.artifact.dir, 'index.mjs')), await readFile(SESSION_BUNDLE));
    for (const f of copied(dockerfile)) assert.ok(existsSync(path.join(b.artifact.dir, f)), f);
  });
});

describe("over AgentCore's direct-code limits", () => {
  test('the size of direct code: its files, and its zip as zip makes it', async () => {
    const b = byId(first, 'memory');
    const files = path.join(dir, 'sized');
    await mkdir(files);
    // Real files only (npm's .bin symlinks are not sized): the zip of what is measured.
    await run('cp', ['-r', path.join(b.artifact.dir, 'node_modules', '@modelcontextprotocol'), files]);
    const size = await directCodeSize(files, 0);
    const zipFile = path.join(dir, 'sized.zip');
    await run('zip', ['-q', '-r', '-X', zipFile, '.'], { cwd: files });
    const { stdout } = await run('du', ['-sb', '--apparent-size', files]);
    assert.ok(size.unzippedBytes > 0 && size.unzippedBytes <= Number(stdout.split('\t')[0]));
    const zipped = (await stat(zipFile)).size;
    // The estimate counts the most the headers can take: at or a little above the real zip.
    assert.ok(size.zippedBytes >= zipped * 0.98, `${size.zippedBytes} vs zip's ${zipped}`);
    assert.ok(size.zippedBytes <= zipped * 1.1, `${size.zippedBytes} vs zip's ${zipped}`);
  });

  test('unzipped over the limit: the same folder becomes an arm64 container running the session entry, and the build says why', async () => {
    const lines: string[] = [];
    const b = byId(
      await buildFleet(fleet, {
        only: ['memory-big'],
        discover: discoverLocally,
        directCodeLimits: { zippedBytes: 250 * MB, unzippedBytes: 1 * MB },
        onProgress: (_id, e) => {
          if (e.line !== undefined) lines.push(e.line);
        },
      }),
      'memory-big',
    );
    assert.equal(b.artifact.kind, 'image');
    assert.equal(path.basename(b.artifact.dir), 'function');
    const note = b.manifest.artifactNote ?? '';
    assert.match(
      note,
      /^too big for AgentCore Runtime's direct code \(\d+\.\d MB unzipped, over 1\.0 MB\): built as an arm64 container image instead/,
    );
    assert.ok(lines.includes(note), 'the note is a progress line');
    assert.match(
      await readFile(path.join(path.dirname(b.artifact.dir), 'build.log'), 'utf8'),
      /too big for AgentCore/,
    );
    const dockerfile = await dockerfileOf(b);
    assertSessionContainer(dockerfile);
    assert.match(dockerfile, /^COPY \. \$\{LAMBDA_TASK_ROOT\}\/$/m);
    assert.deepEqual(await readFile(path.join(b.artifact.dir, 'index.mjs')), await readFile(SESSION_BUNDLE));
    assert.ok(
      existsSync(path.join(b.artifact.dir, 'node_modules', '@modelcontextprotocol', 'server-memory')),
    );
    assert.ok(b.tools.some((t) => t.name === 'read_graph'));
    // Unchanged, the next build keeps the container and says so again.
    const again = byId(
      await buildFleet(fleet, { only: ['memory-big'], discover: discoverLocally }),
      'memory-big',
    );
    assert.equal(again.staged, false);
    assert.equal(again.artifact.kind, 'image');
    assert.equal(again.manifest.artifactNote, note);
  });

  test('zipped over the limit: a container too, the zip named as the reason', async () => {
    const b = byId(
      await buildFleet(fleet, {
        only: ['memory-big'],
        force: true,
        discover: discoverLocally,
        directCodeLimits: { zippedBytes: 100 * 1024, unzippedBytes: 750 * MB },
      }),
      'memory-big',
    );
    assert.equal(b.artifact.kind, 'image');
    assert.match(b.manifest.artifactNote ?? '', /\(\d+\.\d MB zipped, over 0\.1 MB\)/);
    assertSessionContainer(await dockerfileOf(b));
  });
});

describe('the host in the fingerprint', () => {
  test('another host stages the server again with its entry; back on agentcore-runtime again; then up to date', async () => {
    const withHost = (hosting: Hosting): FleetConfig => ({
      ...fleet,
      servers: fleet.servers.map((s) => (s.id === 'memory' ? { ...s, hosting } : s)),
    });
    const runtimeKey = byId(first, 'memory').manifest.installKey;
    const web = withHost({ host: 'web-function', environmentConcurrency: 8, concurrency: 8, processes: 1 });
    const moved = byId(await buildFleet(web, { only: ['memory'], discover: discoverLocally }), 'memory');
    assert.equal(moved.staged, true);
    assert.notEqual(moved.manifest.installKey, runtimeKey);
    assert.deepEqual(await readFile(path.join(moved.artifact.dir, 'index.mjs')), await readFile(WEB_BUNDLE));
    const back = byId(await buildFleet(fleet, { only: ['memory'], discover: discoverLocally }), 'memory');
    assert.equal(back.staged, true);
    assert.equal(back.manifest.installKey, runtimeKey);
    assert.deepEqual(
      await readFile(path.join(back.artifact.dir, 'index.mjs')),
      await readFile(SESSION_BUNDLE),
    );
    const unchanged = byId(
      await buildFleet(fleet, { only: ['memory'], discover: discoverLocally }),
      'memory',
    );
    assert.equal(unchanged.staged, false);
  });

  test('a missing session entry fails the build, with the command that makes it', async () => {
    const missing = path.join(dir, 'no-such', 'session.bundle.mjs');
    const b = await buildFleet(fleet, { only: ['memory'], sessionBundle: missing });
    assert.deepEqual(
      b.failed.map((f) => f.message),
      [`the AgentCore Runtime session entry ${missing} is missing; run npm run build`],
    );
  });
});

test('no process is left', async () => {
  await assertNoneLeft(mark.value);
});
