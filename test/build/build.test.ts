import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  access,
  chmod,
  constants,
  copyFile,
  mkdir,
  open,
  readdir,
  readFile,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { validate as validateDockerfile } from 'dockerfile-utils';
import { buildFleet, type FleetBuild, type ServerBuild } from '../../src/build/build.js';
import { discoverLocally } from '../../src/local/lambda/discovery.js';
import { readLock } from '../../src/build/lock.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startFleet } from '../../src/local/dev/fleet.js';
import { createHandler } from '../../src/runtime/index.js';
import { fixture, runCli, tempDir } from '../helpers.js';
import { startUnderRie } from '../runtime/rie-support.js';
import { assertNoneLeft, marker, RecordingLog, text } from '../runtime/support.js';

const run = promisify(execFile);
const mark = marker();
// Every process the builds start inherits the marker: the last test checks none is left.
process.env[mark.name] = mark.value;

const CONFIG = `
stack: BuildTest
servers:
  memory:
    description: Knowledge-graph memory
    package: { npm: "@modelcontextprotocol/server-memory@2026.8.31" }
    command: mcp-server-memory
    env: { MEMORY_FILE_PATH: /tmp/mcp-fleet-build-test-memory.jsonl }
  git:
    description: Git operations
    package: { pypi: mcp-server-git==2026.10.19, system: [git] }
    command: mcp-server-git
    aws: { architecture: x86_64 }
  github:
    description: GitHub
    package: { go: github.com/github/github-mcp-server/cmd/github-mcp-server@v1.9.0 }
    command: github-mcp-server
    args: [stdio]
    env: { GITHUB_TOOLSETS: "repos,issues", GITHUB_READ_ONLY: "1" }
    secrets:
      GITHUB_PERSONAL_ACCESS_TOKEN: { secretsManager: mcp-fleet/github-token }
  go-everything:
    description: The mcp-go library's example server (offline tools), built for this machine's architecture
    package: { go: github.com/mark3labs/mcp-go/examples/everything@v1.2.1 }
    command: everything
    aws: { architecture: x86_64 }
  broken:
    description: A package that does not exist
    package: { pypi: mcp-fleet-no-such-package-7f3a==1.0.0 }
    command: nothing
  pinned-image:
    description: A server in a container image; its tools come from a checked-in file
    package: { image: "ghcr.io/example/weather-mcp:1.2.0" }
    command: /usr/local/bin/weather-mcp
    toolsFile: weather-tools.json
`;

let dir: string;
let cleanup: () => Promise<void>;
let configFile: string;
let first: FleetBuild;
const byId = (b: FleetBuild, id: string): ServerBuild => {
  const found = b.built.find((s) => s.server.id === id);
  assert.ok(found, `${id} not built: ${b.failed.map((f) => f.detail).join('\n')}`);
  return found;
};

before(async () => {
  ({ dir, cleanup } = await tempDir());
  configFile = path.join(dir, 'servers.yaml');
  await writeFile(configFile, CONFIG);
  await copyFile(fixture('build', 'weather-tools.json'), path.join(dir, 'weather-tools.json'));
  first = await buildFleet(await loadConfigOrThrow(configFile), { discover: discoverLocally });
});

after(async () => {
  await cleanup();
});

/** The uv binary a build log shows. */
const ranUv = (log: string): string => /^\$ (\S*\buv) /m.exec(log)?.[1] ?? 'uv';

/** ELF header facts: machine and whether the binary asks for a dynamic loader. */
async function elf(file: string): Promise<{ machine: number; dynamic: boolean }> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    assert.equal(head.subarray(0, 4).toString('latin1'), '\x7fELF', `${file} is not an ELF binary`);
    const machine = head.readUInt16LE(18);
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await fh.read(table, 0, table.length, phoff);
    let dynamic = false;
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) dynamic = true; // PT_INTERP
    return { machine, dynamic };
  } finally {
    await fh.close();
  }
}

describe('npm server', () => {
  test('a zip function root: handler, launch spec, node_modules installed at build, executable wrapper', async () => {
    const b = byId(first, 'memory');
    assert.equal(b.artifact.kind, 'zip');
    const root = b.artifact.dir;
    for (const f of ['index.mjs', 'launch.json', 'package-lock.json'])
      assert.ok(existsSync(path.join(root, f)), f);
    assert.ok(
      existsSync(path.join(root, 'node_modules', '@modelcontextprotocol', 'server-memory', 'package.json')),
    );
    await access(path.join(root, 'bin', 'mcp-server-memory'), constants.X_OK);
    const launch = JSON.parse(await readFile(path.join(root, 'launch.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(launch['path'], ['bin']);
    assert.equal(launch['command'], 'mcp-server-memory');
    assert.deepEqual(launch['env'], { MEMORY_FILE_PATH: '/tmp/mcp-fleet-build-test-memory.jsonl' });
    // The handler is the runtime bundle, byte for byte.
    assert.deepEqual(
      await readFile(path.join(root, 'index.mjs')),
      await readFile(path.resolve('dist/runtime/lambda.bundle.mjs')),
    );
  });

  test('the staged function answers through its own handler file, with no network install', async () => {
    const root = byId(first, 'memory').artifact.dir;
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { handler } = await import(${JSON.stringify(path.join(root, 'index.mjs'))});
         const r = await handler({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'read_graph', arguments: {} } });
         process.stdout.write(JSON.stringify(r) + '\\n'); process.exit(0);`,
      ],
      {
        env: {
          ...process.env,
          POWERTOOLS_LOG_LEVEL: 'SILENT',
          POWERTOOLS_METRICS_DISABLED: 'true',
          PATH: '/usr/bin:/bin:' + path.dirname(process.execPath),
        },
      },
    );
    const answer = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { result?: { isError?: boolean } };
    assert.equal(answer.result?.isError ?? false, false, stdout);
  });

  test('tools discovered from the staged server', () => {
    const names = byId(first, 'memory').tools.map((t) => t.name);
    assert.ok(names.includes('read_graph') && names.includes('create_entities'), names.join(','));
    for (const t of byId(first, 'memory').tools) assert.equal(t.inputSchema['type'], 'object');
  });
});

describe('Go server', () => {
  test('a static linux/arm64 binary in the zip, a host build to run here', async () => {
    const b = byId(first, 'github');
    const bin = path.join(b.artifact.dir, 'bin', 'github-mcp-server');
    const target = await elf(bin);
    assert.equal(target.machine, 0xb7, 'EM_AARCH64');
    assert.equal(target.dynamic, false, 'statically linked');
    assert.ok(b.hostLaunch !== undefined);
    const host = await elf(path.join(path.dirname(b.hostLaunch), 'bin', 'github-mcp-server'));
    assert.equal(host.machine, process.arch === 'x64' ? 0x3e : 0xb7);
  });

  test('discovery ran without the secret (placeholder), and the schemas are lowered', async () => {
    const b = byId(first, 'github');
    const names = b.tools.map((t) => t.name);
    assert.ok(names.includes('get_file_contents'), names.join(','));
    assert.ok(b.manifest.tools.warnings.length > 0);
    const json = JSON.stringify(b.tools);
    for (const banned of ['"anyOf"', '"oneOf"', '"enum"', '"$ref"', '"additionalProperties"', '"default"'])
      assert.ok(!json.includes(banned), `${banned} left in the lowered schemas`);
    // The deployed launch spec still reads the real secret.
    const launch = JSON.parse(await readFile(path.join(b.artifact.dir, 'launch.json'), 'utf8')) as {
      secrets: Record<string, unknown>;
    };
    assert.deepEqual(launch.secrets, {
      GITHUB_PERSONAL_ACCESS_TOKEN: { source: 'secretsManager', secret: 'mcp-fleet/github-token' },
    });
  });
});

describe('the zip functions, as Lambda runs them (RIE and aws-lambda-ric on Node.js 22, in the sandbox)', () => {
  const call = (tool: string): Record<string, string> => ({ bedrockAgentCoreToolName: tool });
  const sandboxEnv = { ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' };

  test('npm: the memory server lists its tools and makes real calls through the AgentCore front', async () => {
    const fn = await startUnderRie({
      taskRoot: byId(first, 'memory').artifact.dir,
      functionName: 'mcp-server-memory',
      env: sandboxEnv,
    });
    try {
      const list = (await fn.invoke({ jsonrpc: '2.0', id: 1, method: 'tools/list' })) as {
        result: { tools: { name: string }[] };
      };
      assert.ok(
        list.result.tools.some((t) => t.name === 'read_graph'),
        fn.output(),
      );
      const created = await fn.invoke(
        { entities: [{ name: 'lambda', entityType: 'runtime', observations: ['frozen between calls'] }] },
        call('memory___create_entities'),
      );
      assert.equal((created as { isError?: boolean }).isError ?? false, false, text(created));
      assert.match(text(await fn.invoke({}, call('memory___read_graph'))), /frozen between calls/);
    } finally {
      await fn.stop();
    }
  });

  test('Go: a static binary in the zip lists its tools and makes a real call through the AgentCore front', async () => {
    const b = byId(first, 'go-everything');
    assert.equal((await elf(path.join(b.artifact.dir, 'bin', 'everything'))).dynamic, false);
    const fn = await startUnderRie({
      taskRoot: b.artifact.dir,
      functionName: 'mcp-server-go-everything',
      env: sandboxEnv,
    });
    try {
      const list = (await fn.invoke({ jsonrpc: '2.0', id: 1, method: 'tools/list' })) as {
        result: { tools: { name: string }[] };
      };
      assert.ok(
        list.result.tools.some((t) => t.name === 'add'),
        fn.output(),
      );
      assert.match(text(await fn.invoke({ a: 2, b: 3 }, call('go-everything___add'))), /is 5\.0+\.?$/);
    } finally {
      await fn.stop();
    }
  });
});

describe('PyPI server', () => {
  test('an image build context on the Lambda Node.js base, with the exact resolved set', async () => {
    const b = byId(first, 'git');
    assert.equal(b.artifact.kind, 'image');
    const dockerfile = await readFile(path.join(b.artifact.dir, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^FROM public\.ecr\.aws\/lambda\/nodejs:22$/m);
    assert.match(dockerfile, /dnf install -y git/);
    assert.match(dockerfile, /^COPY requirements\.txt \/opt\/requirements\.txt$/m);
    assert.match(dockerfile, /CMD \["index\.handler"\]/);
    // Checked by the Dockerfile validator of VS Code's Docker language server (no engine runs here).
    assert.deepEqual(validateDockerfile(dockerfile), []);
    const requirements = (await readFile(path.join(b.artifact.dir, 'requirements.txt'), 'utf8'))
      .trim()
      .split('\n');
    assert.ok(requirements.includes('mcp-server-git==2026.10.19'));
    const lock = await readLock(first.lockFile);
    assert.deepEqual(lock.servers['git']?.resolved, requirements);
    const launch = JSON.parse(await readFile(path.join(b.artifact.dir, 'launch.json'), 'utf8')) as {
      path: string[];
    };
    assert.deepEqual(launch.path, ['/opt/venv/bin']);
    assert.equal(lock.servers['git']?.resolution, 'universal');
    // Every file the Dockerfile copies is in the context.
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm))
      for (const f of (m[1] ?? '').split(' ')) assert.ok(existsSync(path.join(b.artifact.dir, f)), f);
  });

  test('the host install runs the server (a real git_status through the runtime)', async () => {
    const b = byId(first, 'git');
    assert.ok(b.hostLaunch !== undefined);
    const spec = JSON.parse(await readFile(b.hostLaunch, 'utf8')) as {
      path: string[];
      env: Record<string, string>;
    };
    const bin = path.resolve(path.dirname(b.hostLaunch), spec.path[0] ?? '');
    const handler = createHandler(
      { ...spec, command: path.join(bin, 'mcp-server-git') },
      { front: 'jsonrpc', log: new RecordingLog() },
    );
    try {
      const answer = (await handler({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'git_status', arguments: { repo_path: path.resolve('.') } },
      })) as { result?: unknown };
      assert.match(text(answer.result), /On branch|HEAD/);
    } finally {
      await handler.close();
    }
  });
});

describe('PyPI server: one installer, one set, bytecode', () => {
  test('the image installs the locked set with the very command the host install ran', async () => {
    const b = byId(first, 'git');
    const dir = path.dirname(b.artifact.dir);
    const log = await readFile(path.join(dir, 'build.log'), 'utf8');
    // The host's commands, without the path of the uv binary.
    const ran = [...log.matchAll(/^\$ \S*\buv (.*)$/gm)].map((m) => m[1] ?? '');
    const hostInstall = ran.filter((c) => c.startsWith('pip install'));
    assert.equal(hostInstall.length, 1, ran.join('\n'));
    assert.match(hostInstall[0] ?? '', /--no-deps/);
    assert.match(hostInstall[0] ?? '', /--compile-bytecode/);
    const dockerfile = await readFile(path.join(b.artifact.dir, 'Dockerfile'), 'utf8');
    const imageInstall = [...dockerfile.matchAll(/\buv (pip install [^\\\n]*?)\s*(?:\\|$)/gm)].map(
      (m) => m[1],
    );
    assert.deepEqual(imageInstall, hostInstall);
    // Both run it in the folder of venv/ and requirements.txt, on the same set.
    assert.match(dockerfile, /^RUN cd \/opt && uv venv --python 3\.\d+ venv \\$/m);
    assert.deepEqual(
      await readFile(path.join(dir, 'host', 'requirements.txt'), 'utf8'),
      await readFile(path.join(b.artifact.dir, 'requirements.txt'), 'utf8'),
    );
    // The uv of the image is the release the host install used.
    const version = /^uv (\S+)/.exec((await run(ranUv(log), ['--version'])).stdout)?.[1];
    assert.match(
      dockerfile,
      new RegExp(`^FROM ghcr\\.io/astral-sh/uv:${String(version).replace(/\./g, '\\.')} AS uv$`, 'm'),
    );
    // PYTHONDONTWRITEBYTECODE is for the read-only code at run time, set after the install.
    assert.ok(dockerfile.indexOf('PYTHONDONTWRITEBYTECODE=1') > dockerfile.indexOf('--compile-bytecode'));
  });

  test('the host install carries the bytecode of every module (compiled at build time)', async () => {
    const b = byId(first, 'git');
    const venv = path.join(path.dirname(b.artifact.dir), 'host', 'venv');
    const pkgDir = (await readdir(path.join(venv, 'lib'))).map((py) =>
      path.join(venv, 'lib', py, 'site-packages', 'mcp_server_git'),
    )[0];
    assert.ok(pkgDir !== undefined && existsSync(pkgDir));
    const sources = (await readdir(pkgDir)).filter((f) => f.endsWith('.py'));
    const compiled = await readdir(path.join(pkgDir, '__pycache__'));
    assert.ok(sources.length > 0);
    for (const f of sources)
      assert.ok(
        compiled.some((c) => c.startsWith(`${f.slice(0, -3)}.cpython-`) && c.endsWith('.pyc')),
        `${f} has no .pyc`,
      );
  });

  test('without a Python >= 3.11 on PATH, the build says what is missing', async () => {
    const { dir: tmp, cleanup: clean } = await tempDir();
    try {
      const file = path.join(tmp, 'servers.yaml');
      await writeFile(
        file,
        'servers:\n  git:\n    package: { pypi: mcp-server-git==2026.10.19 }\n    command: mcp-server-git\n',
      );
      const none = await runCli(['build', '--config', file, '--plain'], {
        env: { ...process.env, PATH: path.join(tmp, 'empty-bin') },
      });
      assert.equal(none.code, 1);
      assert.match(
        none.stderr,
        /FAILED git: Python servers need Python ≥ 3\.11 on PATH as python3, and there is no python3 on PATH/,
      );
      // A python3 that is too old.
      const bin = path.join(tmp, 'old-bin');
      await mkdir(bin);
      await writeFile(path.join(bin, 'python3'), '#!/bin/sh\necho 3.9\n');
      await chmod(path.join(bin, 'python3'), 0o755);
      const old = await runCli(['build', '--config', file, '--plain'], {
        env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` },
      });
      assert.equal(old.code, 1);
      assert.match(
        old.stderr,
        /FAILED git: Python servers need Python ≥ 3\.11 on PATH as python3; python3 there is 3\.9/,
      );
    } finally {
      await clean();
    }
  });
});

describe('image server and failures', () => {
  test('an image server: a Dockerfile copying from that image, tools from the checked-in file', async () => {
    const b = byId(first, 'pinned-image');
    const dockerfile = await readFile(path.join(b.artifact.dir, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^FROM ghcr\.io\/example\/weather-mcp:1\.2\.0 AS server$/m);
    assert.match(
      dockerfile,
      /^COPY --from=server \/usr\/local\/bin\/weather-mcp \/usr\/local\/bin\/weather-mcp$/m,
    );
    assert.deepEqual(validateDockerfile(dockerfile), []);
    assert.equal(b.manifest.tools.source, 'file');
    assert.deepEqual(b.tools[0]?.inputSchema['properties'], {
      place: { type: 'string' },
      unit: { type: 'string', description: 'One of: c, f. May be null.' },
    });
  });

  test('a failing install names the server and shows the installer output; the others are built', () => {
    assert.equal(first.built.length, 5);
    assert.deepEqual(
      first.failed.map((f) => f.serverId),
      ['broken'],
    );
    const f = first.failed[0];
    assert.match(
      f?.message ?? '',
      /uv pip compile mcp-fleet-no-such-package-7f3a==1\.0\.0 failed with exit code 1/,
    );
    assert.match(
      f?.output.join('\n') ?? '',
      /mcp-fleet-no-such-package-7f3a was not found in the package registry/,
    );
    assert.ok(f?.logFile !== undefined && existsSync(f.logFile));
  });
});

describe('incremental builds and the lock file', () => {
  test('a second build of an unchanged fleet stages nothing again', async () => {
    const config = await loadConfigOrThrow(configFile);
    const second = await buildFleet(config, {
      discover: discoverLocally,
      only: ['memory', 'git', 'github', 'go-everything', 'pinned-image'],
    });
    assert.deepEqual(
      second.built.map((b) => [b.server.id, b.staged]),
      [
        ['memory', false],
        ['git', false],
        ['github', false],
        ['go-everything', false],
        ['pinned-image', false],
      ],
    );
    assert.deepEqual(
      second.built.map((b) => b.tools),
      first.built.map((b) => b.tools),
    );
    process.stderr.write(
      `# first build ${(first.ms / 1000).toFixed(1)} s, second ${(second.ms / 1000).toFixed(2)} s\n`,
    );
  });

  test('a changed env rewrites the launch spec without staging again; a changed architecture stages again', async () => {
    await writeFile(configFile, CONFIG.replace('/tmp/mcp-fleet-build-test-memory.jsonl', '/tmp/other.jsonl'));
    const changedEnv = await buildFleet(await loadConfigOrThrow(configFile), {
      only: ['memory'],
      discover: discoverLocally,
    });
    assert.equal(changedEnv.built[0]?.staged, false);
    const launch = JSON.parse(
      await readFile(path.join(changedEnv.built[0]?.artifact.dir ?? '', 'launch.json'), 'utf8'),
    ) as { env: Record<string, string> };
    assert.equal(launch.env['MEMORY_FILE_PATH'], '/tmp/other.jsonl');

    const x86 = CONFIG.replace(
      'command: mcp-server-memory',
      'command: mcp-server-memory\n    aws: { architecture: x86_64 }',
    );
    await writeFile(configFile, x86);
    const rearch = await buildFleet(await loadConfigOrThrow(configFile), {
      only: ['memory'],
      discover: discoverLocally,
    });
    assert.equal(rearch.built[0]?.staged, true);
    const logOf = async (b: FleetBuild): Promise<string> =>
      readFile(path.join(path.dirname(b.built[0]?.artifact.dir ?? ''), 'build.log'), 'utf8');
    assert.match(await logOf(rearch), /^\$ npm install .*--cpu=x64/m);
    // A forced rebuild of the same pin and architecture installs exactly the locked tree.
    const forced = await buildFleet(await loadConfigOrThrow(configFile), {
      only: ['memory'],
      force: true,
      discover: discoverLocally,
    });
    assert.equal(forced.built[0]?.staged, true);
    assert.match(await logOf(forced), /^\$ npm ci /m);
    await writeFile(configFile, CONFIG);
  });

  test('the CLI builds with plain progress and reports a failure with exit code 1', async () => {
    const r = await runCli(['build', '--config', configFile, '--plain']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /FAILED broken: uv pip compile mcp-fleet-no-such-package-7f3a==1\.0\.0 failed/);
    assert.match(r.stdout, /git +image .* tools.*\(up to date\)/);
    assert.match(r.stdout, /5 built, 1 failed/);
    const ok = await runCli(['build', '--config', configFile, '--only', 'memory', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const json = JSON.parse(ok.stdout) as { servers: { id: string; staged: boolean }[] };
    assert.deepEqual(
      json.servers.map((s) => [s.id, s.staged]),
      [['memory', false]],
    );
  });

  test('mcp-fleet dev runs built servers from their host installs, following the config', async () => {
    const config = await loadConfigOrThrow(configFile);
    const fleet = await startFleet(config, {
      port: 0,
      env: {
        ...process.env,
        POWERTOOLS_METRICS_DISABLED: 'true',
        GITHUB_PERSONAL_ACCESS_TOKEN: 'local-dev-token',
      },
    });
    try {
      assert.deepEqual(fleet.fromBuild.sort(), ['git', 'github', 'go-everything', 'memory']);
      // The secret comes from the developer's environment rather than Secrets Manager.
      assert.deepEqual(fleet.lambda.resolve('mcp-server-github').localSecrets, [
        'GITHUB_PERSONAL_ACCESS_TOKEN',
      ]);
      const launch = JSON.parse(
        await readFile(path.join(dir, '.mcp-fleet', 'dev', 'git', 'launch.json'), 'utf8'),
      ) as { path: string[] };
      assert.deepEqual(launch.path, [path.join(dir, '.mcp-fleet', 'build', 'git', 'host', 'venv', 'bin')]);
      const github = fleet.discovery.find((e) => e.serverId === 'github');
      assert.ok((github?.tools.length ?? 0) > 0, github?.error);
      const out = await fleet.lambda.invoke(
        'mcp-server-git',
        { repo_path: path.resolve('.') },
        {
          clientContext: { custom: { bedrockAgentCoreToolName: 'git___git_status' } },
        },
      );
      assert.match(text(out.payload), /On branch|HEAD/);
    } finally {
      await fleet.close();
    }
  });

  test('no process is left behind by builds and discovery', async () => {
    await assertNoneLeft(mark.value);
  });
});
