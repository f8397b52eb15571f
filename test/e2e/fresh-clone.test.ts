/**
 * The README's two commands, from a fresh clone, as a new user runs them: `npm ci && npm start`
 * brings the default fleet up (4 of 4 servers; the git server installed by `npm start` itself
 * under .mcp-fleet/), and npm test's Python tool set-up works there. The shell has a clean venv's
 * python3 first on PATH and no Python package of this project anywhere on it (no global pip
 * installs, no uv). Slow: a clone, `npm ci`, a first build.
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

const run = promisify(execFile);
const mark = marker();
let dir: string;
let cleanup: () => Promise<void>;
let clone: string;
let venv: string;
/** The new user's environment: a clean venv first on PATH, then the system's (node, npm, git). */
let env: NodeJS.ProcessEnv;
let sitePackagesBefore: string[];

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
  let stdout = '';
  let stderr = '';
  // `-- --port 0`: any free port (4040 may be taken on a shared machine); otherwise `npm start`.
  const start: ChildProcessWithoutNullStreams = spawn('npm', ['start', '--', '--port', '0'], {
    cwd: clone,
    env,
    detached: true,
  });
  start.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  start.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise((r) => start.once('exit', r));
  try {
    const until = Date.now() + 600_000;
    while (!/servers up/.test(stdout) && start.exitCode === null && Date.now() < until)
      await new Promise((r) => setTimeout(r, 250));
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
  } finally {
    // npm and the fleet: SIGINT to the group, as Ctrl-C in a terminal.
    if (start.pid !== undefined && start.exitCode === null) process.kill(-start.pid, 'SIGINT');
    await exited;
  }
  assert.match(stdout, /stopped\./);
  // Nothing went into the Python on PATH.
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
