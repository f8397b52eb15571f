/**
 * The README's commands, from a fresh clone, as a new user runs them: `npm ci && npm start`
 * brings the default fleet up (4 of 4 servers; the git server installed by `npm start` itself
 * under .mcp-fleet/) and prints the catalog the README shows; the README's CLI commands from
 * another terminal (`npm run mcp-fleet -- …`) run the clone's own build at once, installing
 * nothing; npm test's Python tool set-up works there. The shell has a clean venv's python3 first
 * on PATH and no Python package of this project anywhere on it (no global pip installs, no uv).
 * Slow: a clone, `npm ci`, a first build.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, tempDir } from '../helpers.js';
import { rpc } from '../local/support.js';
import { assertNoneLeft, marker } from '../runtime/support.js';
import { waitForText } from '../support/eventually.js';

const run = promisify(execFile);
const mark = marker();
let dir: string;
let cleanup: () => Promise<void>;
let clone: string;
let venv: string;
/** The new user's environment: a clean venv first on PATH, then the system's (node, npm, git). */
let env: NodeJS.ProcessEnv;
let sitePackagesBefore: string[];
/** `npm start`, running from the test that starts it to the one that stops it. */
let start: ChildProcessWithoutNullStreams | undefined;
let startExited: Promise<unknown>;
let stdout = '';
let stderr = '';

/** The README's fenced code block that contains `marker`, as lines. */
async function readmeBlock(marker: string): Promise<string[]> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)]
    .map((m) => m[1] ?? '')
    .find((b) => b.includes(marker));
  assert.ok(block !== undefined, `README.md has no code block with ${marker}`);
  return block.replace(/\n$/, '').split('\n');
}

/** Lines with the dev server's port replaced (it is the one thing that differs between runs). */
const withoutPort = (lines: readonly string[]): string[] =>
  lines.map((l) => l.replace(/http:\/\/127\.0\.0\.1:\d+/g, 'http://127.0.0.1:PORT'));

const sitePackages = async (): Promise<string[]> => {
  const lib = path.join(venv, 'lib');
  const [py] = await readdir(lib);
  return (await readdir(path.join(lib, py ?? '', 'site-packages'))).sort();
};

before(async () => {
  ({ dir, cleanup } = await tempDir());
  clone = path.join(dir, 'mcp-fleet');
  venv = path.join(dir, 'venv');
  if (existsSync(path.join(ROOT, '.git'))) await run('git', ['clone', '--quiet', ROOT, clone]);
  else {
    // Not a git checkout (an unpacked archive): the same files a clone has, without what is
    // built or installed locally.
    const local = new Set(['node_modules', 'dist', '.mcp-fleet', 'cdk.out']);
    await cp(ROOT, clone, { recursive: true, filter: (src) => !local.has(path.basename(src)) });
  }
  await run('python3', ['-m', 'venv', venv]);
  sitePackagesBefore = await sitePackages();
  const system = [...new Set([path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'])];
  env = {
    HOME: process.env['HOME'] ?? '/root',
    PATH: [path.join(venv, 'bin'), ...system].join(':'),
    LANG: 'C.UTF-8',
    ...(process.env['NODE_EXTRA_CA_CERTS'] !== undefined
      ? { NODE_EXTRA_CA_CERTS: process.env['NODE_EXTRA_CA_CERTS'] }
      : {}),
    ...(process.env['SSL_CERT_FILE'] !== undefined ? { SSL_CERT_FILE: process.env['SSL_CERT_FILE'] } : {}),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    ...mark.env,
  };
});

after(async () => {
  // Still running when a test failed before the one that stops it (a signal leaves exitCode null).
  if (start?.pid !== undefined && start.exitCode === null && start.signalCode === null) {
    process.kill(-start.pid, 'SIGINT');
    await startExited;
  }
  await assertNoneLeft(mark.value, 10_000);
  await cleanup();
});

test('the shell is a fair stand-in: a clean venv python3, no project Python tools on PATH', async () => {
  const { stdout } = await run('sh', ['-c', 'command -v python3; python3 --version'], { env });
  assert.match(stdout, new RegExp(`^${path.join(venv, 'bin', 'python3')}\\nPython 3\\.(1[1-9])`));
  for (const tool of ['uv', 'mcp-server-git', 'moto_server', 'cfn-lint']) {
    await assert.rejects(run('sh', ['-c', `command -v ${tool}`], { env }), `${tool} is on PATH`);
  }
  assert.ok(!existsSync(path.join(clone, '.mcp-fleet')), 'the clone has no .mcp-fleet yet');
});

test('npm ci && npm start: the default fleet, 4 of 4 servers up', { timeout: 900_000 }, async () => {
  await run('npm', ['ci', '--no-audit'], { cwd: clone, env, maxBuffer: 64 * 1024 * 1024 });
  // `-- --port 0`: any free port (4040 may be taken on a shared machine); otherwise `npm start`.
  const npmStart = spawn('npm', ['start', '--', '--port', '0'], { cwd: clone, env, detached: true });
  start = npmStart;
  npmStart.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  npmStart.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  startExited = new Promise((r) => npmStart.once('exit', r));
  await waitForText(() => stdout, /servers up/, {
    what: "npm start's ready line",
    child: npmStart,
    seen: () => `stdout:\n${stdout}\nstderr:\n${stderr}`,
    timeoutMs: 600_000,
  });
  assert.match(stdout, /4 of 4 servers up, \d+ tools/, `stdout:\n${stdout}\nstderr:\n${stderr}`);
  assert.match(stdout, /building what is not built yet \(4 servers\)/);
  assert.match(stdout, /run from the build \(\.mcp-fleet\/build\): filesystem, memory, everything, git/);
  // The git server was installed by npm start itself, into its own environment under .mcp-fleet/.
  const bin = path.join(clone, '.mcp-fleet', 'build', 'git', 'host', 'venv', 'bin');
  assert.ok(existsSync(path.join(bin, 'mcp-server-git')));
  assert.ok(existsSync(path.join(clone, '.mcp-fleet', 'tools')), 'uv in mcp-fleet tools folder');
  // A real call through the gateway.
  const { url } = JSON.parse(await readFile(path.join(clone, '.mcp-fleet', 'dev.json'), 'utf8')) as {
    url: string;
  };
  const status = await rpc(`${url}/mcp`, {
    id: 1,
    method: 'tools/call',
    params: { name: 'git___git_status', arguments: { repo_path: '.' } },
  });
  assert.match(JSON.stringify(status.body), /On branch/);
});

test('npm start prints the catalog and addresses the README shows (all but the port)', async () => {
  const shown = await readmeBlock('MCP gateway (AgentCore-compatible)');
  const printed = stdout.split('\n');
  // The block ends with the status page's line; it is the lines of the same count ending there.
  const last = printed.findIndex((l) => /^ {2}status {2,}http:/.test(l));
  assert.ok(last >= 0, `npm start printed no status line:\n${stdout}`);
  assert.deepEqual(
    withoutPort(printed.slice(last + 1 - shown.length, last + 1)),
    withoutPort(shown),
    `README.md's sample output of npm start differs from what it printed:\n${stdout}`,
  );
});

test("the README's CLI commands (npm run mcp-fleet -- …) run the clone's build, installing nothing", async () => {
  const commands = (await readmeBlock('npm run mcp-fleet -- tools')).filter((l) =>
    l.startsWith('npm run mcp-fleet -- '),
  );
  assert.ok(commands.length >= 3, `README.md shows ${commands.length} npm run mcp-fleet commands`);
  // A new user's npm cache: empty, so that anything npm would install lands in it.
  const cache = path.join(dir, 'npm-cache');
  const outputs: string[] = [];
  for (const command of commands) {
    const r = await run('sh', ['-c', command], { cwd: clone, env: { ...env, npm_config_cache: cache } });
    outputs.push(r.stdout);
  }
  const [tools = '', graph = '', notes = ''] = outputs;
  for (const server of ['filesystem', 'memory', 'everything', 'git']) assert.match(tools, new RegExp(server));
  assert.match(tools, /git_status/);
  assert.match(graph, /entities/);
  assert.equal(
    notes.includes((await readFile(path.join(clone, 'examples', 'sample', 'notes.txt'), 'utf8')).trim()),
    true,
    notes,
  );
  // npx would have installed the clone into the cache's _npx folder (and built it again there).
  assert.ok(!existsSync(path.join(cache, '_npx')), 'something was installed into the npx cache');
});

test('Ctrl-C stops npm start and every server; nothing went into the Python on PATH', async () => {
  assert.ok(
    start?.pid !== undefined && start.exitCode === null && start.signalCode === null,
    'npm start is running',
  );
  // npm and the fleet: SIGINT to the group, as Ctrl-C in a terminal.
  process.kill(-start.pid, 'SIGINT');
  await startExited;
  assert.match(stdout, /stopped\./);
  assert.deepEqual(await sitePackages(), sitePackagesBefore);
});

test(
  "npm test's Python tool set-up works there (into .mcp-fleet/tools/test)",
  { timeout: 600_000 },
  async () => {
    const { stderr } = await run('npm', ['run', 'python-tools'], { cwd: clone, env });
    assert.match(stderr, /installed test\/python-tools\.txt into \.mcp-fleet\/tools\/test/);
    const bin = path.join(clone, '.mcp-fleet', 'tools', 'test', 'bin');
    const moto = await run(path.join(bin, 'moto_server'), ['--help'], { env });
    assert.match(moto.stdout, /usage: moto_server/);
    const cfnLint = await run(path.join(bin, 'cfn-lint'), ['--version'], { env });
    assert.match(cfnLint.stdout, /cfn-lint 1\.58\.0/);
    // Run again: nothing to do.
    const again = await run('npm', ['run', 'python-tools'], { cwd: clone, env });
    assert.match(again.stderr, /up to date/);
    assert.deepEqual(await sitePackages(), sitePackagesBefore);
  },
);
