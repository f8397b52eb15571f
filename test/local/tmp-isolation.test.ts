/**
 * Each local environment has its own /tmp, as each Lambda execution environment does: a server
 * that keeps a file in /tmp (server-memory's graph) sees its own file on its next call and never
 * another environment's, and the environment's /tmp is gone once the environment ends — however
 * it ends. Without the sandbox the environment's /tmp is a folder of its own (its TMPDIR, the
 * config's /tmp values moved into it); in the sandbox (`--sandbox`, root) a tmpfs of its own.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { build } from 'esbuild';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { DevSession, devSettings } from '../../src/local/dev/session.js';
import { HANDLER_BUNDLE } from '../../src/contract/bundle.js';
import type { ExecutionEnvironment } from '../../src/local/lambda/environment.js';
import { tmpIsolationNotes } from '../../src/local/lambda/own-tmp.js';
import { sandboxUnavailable } from '../../src/local/lambda/sandbox.js';
import { planSandbox } from '../../src/local/lambda/sandboxed.js';
import { LocalLambda } from '../../src/local/lambda/service.js';
import { startFleet } from '../../src/local/dev/fleet.js';
import { eventually } from '../support/eventually.js';
import { ROOT } from '../helpers.js';
import { assertNoneLeft, BIN, marker, text } from '../runtime/support.js';

const mark = marker();
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-tmp-isolation-'));
});

after(async () => {
  await assertNoneLeft(mark.value);
  await rm(dir, { recursive: true, force: true });
});

/** A function's tool, called as the gateway calls it. */
async function call(
  lambda: LocalLambda,
  id: string,
  tool: string,
  args: Record<string, unknown>,
): Promise<string> {
  const out = await lambda.invoke(`mcp-server-${id}`, args, {
    clientContext: { custom: { bedrockAgentCoreToolName: `${id}___${tool}` } },
  });
  assert.equal(out.functionError, undefined, JSON.stringify(out.payload));
  assert.notEqual((out.payload as { isError?: boolean }).isError, true, text(out.payload));
  return text(out.payload);
}

const entity = (name: string) => ({
  entities: [{ name, entityType: 'test', observations: [`kept by ${name}`] }],
});

/** A variable of a running process, from /proc. */
function variableOf(pid: number, name: string): string | undefined {
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  return environ.find((v) => v.startsWith(`${name}=`))?.slice(name.length + 1);
}

/**
 * Two environments of the memory function, each of which wrote an entity of its own (two calls at
 * once on a cold function start two). Returns the names each wrote.
 */
async function twoEnvironments(lambda: LocalLambda): Promise<[string, string]> {
  const names: [string, string] = [`alpha-${randomUUID()}`, `beta-${randomUUID()}`];
  await Promise.all(names.map((n) => call(lambda, 'memory', 'create_entities', entity(n))));
  const fn = lambda.resolve('mcp-server-memory');
  assert.equal(fn.environmentList.length, 2, 'two calls at once started two environments');
  return names;
}

/** What each environment's server reads back: two calls at once, one in each warm environment. */
async function graphs(lambda: LocalLambda): Promise<string[]> {
  return Promise.all([1, 2].map(() => call(lambda, 'memory', 'read_graph', {})));
}

/** Each environment read back exactly its own entity, never the other's. */
function assertOwnGraphs(read: string[], names: readonly [string, string]): void {
  const [a, b] = names;
  const sees = read.map((g) => [g.includes(a), g.includes(b)]);
  assert.deepEqual(
    sees.sort(),
    [
      [false, true],
      [true, false],
    ],
    `each environment sees its own entity only: ${JSON.stringify(read)}`,
  );
}

async function config(yaml: string): Promise<ReturnType<typeof loadConfigOrThrow>> {
  const file = path.join(dir, `servers-${randomUUID().slice(0, 8)}.yaml`);
  await writeFile(file, yaml);
  return loadConfigOrThrow(file);
}

const fleetEnv = { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' };

describe('without the sandbox: a folder of its own, its TMPDIR', () => {
  let lambda: LocalLambda;
  let names: [string, string];
  let hostFolder: string;

  before(async () => {
    // A folder of the developer's under the machine's /tmp (this test's), named by a value.
    hostFolder = path.join(dir, 'mine');
    await mkdir(hostFolder);
    const c = await config(`servers:
  memory:
    command: ${BIN('mcp-server-memory')}
    env: { MEMORY_FILE_PATH: /tmp/memory.jsonl, MCP_FLEET_TEST_MARKER: "${mark.value}" }
    aws: { reservedConcurrency: 2 }
  files:
    command: ${BIN('mcp-server-filesystem')}
    args: ["/tmp", ${JSON.stringify(hostFolder)}]
    cwd: /tmp
    env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
`);
    lambda = new LocalLambda(c.servers, { workDir: path.join(dir, 'dev'), cwd: dir, env: fleetEnv });
  });

  after(async () => {
    await lambda.shutdown();
  });

  test('two environments of one function do not see each other’s file; each sees its own', async () => {
    names = await twoEnvironments(lambda);
    assertOwnGraphs(await graphs(lambda), names);
    // And again: an environment keeps its file for as long as it lives.
    assertOwnGraphs(await graphs(lambda), names);
    assert.equal(lambda.resolve('mcp-server-memory').stats.coldStarts, 2);
  });

  test('the server’s /tmp is its environment’s folder: the configured file, TMPDIR and HOME are in it', async () => {
    const envs = lambda.resolve('mcp-server-memory').environmentList;
    const tmps = envs.map((e) => e.tmp);
    assert.equal(new Set(tmps).size, 2, 'a folder each');
    for (const env of envs) {
      assert.ok(env.tmp !== undefined && env.serverPid !== undefined);
      assert.equal(variableOf(env.serverPid, 'TMPDIR'), env.tmp);
      assert.equal(variableOf(env.serverPid, 'MEMORY_FILE_PATH'), path.join(env.tmp, 'memory.jsonl'));
      assert.ok(variableOf(env.serverPid, 'HOME')?.startsWith(`${env.tmp}/`), 'HOME under it, as under /tmp');
      const own = await readFile(path.join(env.tmp, 'memory.jsonl'), 'utf8');
      assert.equal(names.filter((n) => own.includes(n)).length, 1, own);
    }
    // The machine's /tmp got none of it.
    const shared = existsSync('/tmp/memory.jsonl') ? await readFile('/tmp/memory.jsonl', 'utf8') : '';
    assert.equal(
      names.some((n) => shared.includes(n)),
      false,
    );
  });

  test('cwd and arguments naming /tmp are the environment’s folder; a folder of the machine’s is left', async () => {
    const listed = await call(lambda, 'files', 'list_allowed_directories', {});
    const env = lambda.resolve('mcp-server-files').environmentList[0];
    assert.ok(env?.tmp !== undefined && env.serverPid !== undefined);
    assert.match(listed, new RegExp(`^${env.tmp}$`, 'm'), listed);
    assert.match(listed, new RegExp(`^${hostFolder}$`, 'm'), 'the developer’s folder stays as it is');
    assert.doesNotMatch(listed, /^\/tmp$/m, 'not the machine’s /tmp');
    assert.equal(await readlink(`/proc/${env.serverPid}/cwd`), env.tmp);
    await call(lambda, 'files', 'write_file', { path: path.join(env.tmp, 'note.txt'), content: 'mine' });
    assert.equal(await readFile(path.join(env.tmp, 'note.txt'), 'utf8'), 'mine');
  });

  test('the dev banner says which isolation is in force, and which values stay shared', () => {
    const notes = tmpIsolationNotes([...lambda.functions.values()]);
    assert.match(
      notes[0] ?? '',
      /environments: own TMPDIR each.*no sandbox: a server that writes to a literal path outside \/tmp is not isolated/,
    );
    assert.deepEqual(notes.slice(1), [
      `  files: args[1] ${hostFolder} is in a folder of this machine's /tmp: shared by every environment (Lambda's /tmp would not have it)`,
    ]);
    assert.match(
      tmpIsolationNotes([...lambda.functions.values()], { inside: ['memory'] })[0] ?? '',
      /own \/tmp each \(a tmpfs in its mount namespace, as in Lambda\): memory; own TMPDIR each.*: files$/,
    );
  });

  test('its folder is gone when the environment ends: reclaimed, crashed, or the service stopped', async () => {
    const fn = lambda.resolve('mcp-server-memory');
    const [first, second] = fn.environmentList as [ExecutionEnvironment, ExecutionEnvironment];
    const [reclaimed, crashed] = [first.tmp, second.tmp];
    assert.ok(reclaimed !== undefined && crashed !== undefined);
    // Reclaimed (idle): a graceful stop.
    await first.stop();
    await first.gone();
    assert.equal(existsSync(path.dirname(reclaimed)), false, 'the reclaimed environment’s folder is gone');
    assert.equal(existsSync(crashed), true, 'the other environment keeps its own');
    // Crashed: its worker dies.
    assert.ok(second.pid !== undefined);
    process.kill(second.pid, 'SIGKILL');
    await second.gone();
    await eventually(() => !existsSync(path.dirname(crashed)), {
      what: 'the crashed environment’s folder to go',
    });
    // The service stopped with environments running.
    await call(lambda, 'memory', 'read_graph', {});
    const left = [fn, lambda.resolve('mcp-server-files')].map((f) => f.environmentList[0]?.tmp);
    for (const tmp of left) assert.ok(tmp !== undefined && existsSync(tmp));
    await lambda.shutdown();
    for (const tmp of left) assert.equal(existsSync(path.dirname(tmp ?? '')), false, 'gone with the service');
  });
});

describe('a web function', () => {
  test('its environment has a folder of its own too, removed when it ends', async () => {
    const c = await config(`servers:
  files:
    command: ${BIN('mcp-server-filesystem')}
    args: ["/tmp"]
    host: web-function
    env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
`);
    const fleet = await startFleet(c, { port: 0, buildDir: false, env: fleetEnv });
    let tmp: string | undefined;
    try {
      const client = new Client({ name: 'tmp-isolation', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/servers/files/mcp`)));
      const listed = text(await client.callTool({ name: 'list_allowed_directories', arguments: {} }));
      await client.close();
      tmp = fleet.lambda.resolve('mcp-server-files').environmentList[0]?.tmp;
      assert.ok(tmp !== undefined);
      assert.match(listed, new RegExp(`^${tmp}$`, 'm'), listed);
    } finally {
      await fleet.close();
    }
    assert.equal(existsSync(path.dirname(tmp)), false);
  });
});

describe('mcp-fleet dev', () => {
  test('its banner says which isolation is in force', async () => {
    const file = path.join(dir, 'banner', 'servers.yaml');
    await mkdir(path.dirname(file));
    await writeFile(
      file,
      `servers:
  memory:
    command: ${BIN('mcp-server-memory')}
    env: { MEMORY_FILE_PATH: /tmp/memory.jsonl, MCP_FLEET_TEST_MARKER: "${mark.value}" }
`,
    );
    const settings = await devSettings({
      config: file,
      host: '127.0.0.1',
      port: '0',
      freeze: true,
      memoryLimits: 'auto',
      build: false,
      watch: false,
      plain: true,
    });
    const out: string[] = [];
    const session = new DevSession(settings, {
      build: () => Promise.resolve({ built: [], staged: [], failed: [] }),
      out: (line) => out.push(line),
      err: (line) => out.push(line),
    });
    try {
      await session.start();
    } finally {
      await session.stop();
    }
    assert.match(
      out.join('\n'),
      /^ {2}environments: own TMPDIR each, \/tmp in env, args and cwd moved into it \(no sandbox: a server that writes to a literal path outside \/tmp is not isolated\)$/m,
    );
  });
});

describe('an environment idle-reclaimed by the function', () => {
  test('its folder is gone too', async () => {
    const c = await config(`servers:
  memory:
    command: ${BIN('mcp-server-memory')}
    env: { MEMORY_FILE_PATH: /tmp/memory.jsonl, MCP_FLEET_TEST_MARKER: "${mark.value}" }
`);
    const lambda = new LocalLambda(c.servers, { workDir: path.join(dir, 'dev2'), cwd: dir, env: fleetEnv });
    try {
      const fn = lambda.resolve('mcp-server-memory');
      await call(lambda, 'memory', 'create_entities', entity('idle'));
      const tmp = fn.environmentList[0]?.tmp;
      assert.ok(tmp !== undefined && existsSync(tmp));
      fn.reclaimIdle(-1); // every idle environment
      await eventually(() => fn.environments.total === 0, { what: 'the idle environment to be reclaimed' });
      assert.equal(existsSync(path.dirname(tmp)), false);
      // The next environment starts with an empty /tmp: the graph is not there any more.
      assert.doesNotMatch(await call(lambda, 'memory', 'read_graph', {}), /"idle"/);
    } finally {
      await lambda.shutdown();
    }
  });
});

describe('in the sandbox (--sandbox, as root): a tmpfs of its own', { skip: sandboxUnavailable() }, () => {
  let lambda: LocalLambda;

  before(async () => {
    // A built zip function, staged by hand: the runtime's handler and server-memory bundled alone.
    const buildDir = path.join(dir, 'build');
    const root = path.join(buildDir, 'memory', 'function');
    await mkdir(root, { recursive: true });
    await writeFile(
      path.join(buildDir, 'memory', 'manifest.json'),
      JSON.stringify({ artifact: { kind: 'zip', dir: 'function' } }),
    );
    await copyFile(HANDLER_BUNDLE, path.join(root, 'index.mjs'));
    await build({
      entryPoints: [
        path.join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-memory', 'dist', 'index.js'),
      ],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: path.join(root, 'server.mjs'),
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'error',
    });
    const c = await config(`servers:
  memory:
    command: /var/lang/bin/node
    args: [/var/task/server.mjs]
    env: { MEMORY_FILE_PATH: /tmp/memory.jsonl, MCP_FLEET_TEST_MARKER: "${mark.value}" }
    aws: { reservedConcurrency: 2 }
`);
    const plan = await planSandbox(c, buildDir);
    assert.deepEqual(Object.keys(plan.roots), ['memory']);
    lambda = new LocalLambda(c.servers, {
      workDir: path.join(dir, 'dev-sandbox'),
      cwd: dir,
      env: fleetEnv,
      launcher: plan.launcher,
      launchPaths: plan.launchPaths,
    });
  });

  after(async () => {
    await lambda.shutdown();
  });

  test('two environments do not see each other’s file; each sees its own', async () => {
    const names = await twoEnvironments(lambda);
    assertOwnGraphs(await graphs(lambda), names);
    const envs = lambda.resolve('mcp-server-memory').environmentList;
    for (const env of envs) {
      assert.equal(env.tmp, undefined, 'no folder: the sandbox mounts its own /tmp');
      assert.ok(env.serverPid !== undefined);
      assert.equal(
        variableOf(env.serverPid, 'MEMORY_FILE_PATH'),
        '/tmp/memory.jsonl',
        'the path as configured',
      );
      const own = await readFile(`/proc/${env.serverPid}/root/tmp/memory.jsonl`, 'utf8');
      assert.equal(names.filter((n) => own.includes(n)).length, 1, own);
    }
  });

  test('its /tmp is gone with the environment', async () => {
    const fn = lambda.resolve('mcp-server-memory');
    const env = fn.environmentList[0];
    assert.ok(env?.pid !== undefined && env.serverPid !== undefined);
    assert.ok(existsSync(`/proc/${env.serverPid}/root/tmp/memory.jsonl`));
    // The sandbox's root on this machine: its /tmp was mounted there, in its own mount namespace.
    const root = await readlink(`/proc/${env.serverPid}/root`);
    assert.equal(existsSync(path.join(root, 'tmp')), false, 'its /tmp is not seen from outside');
    process.kill(env.pid, 'SIGKILL');
    await env.gone();
    assert.equal(existsSync(root), false, 'its root is removed with it');
    // The environment started next has an empty /tmp.
    await eventually(() => fn.environments.busy === 0, { what: 'no call running' });
    const reads = await graphs(lambda);
    assert.ok(
      reads.some((g) => !/alpha-|beta-/.test(g)),
      `a fresh environment has no graph: ${JSON.stringify(reads)}`,
    );
  });
});
