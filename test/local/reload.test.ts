/**
 * Hot reload of `mcp-fleet dev` (the real CLI process, watching its servers.yaml): a changed
 * server is rebuilt and replaced while an unchanged one keeps serving, an added one appears, a
 * removed one is stopped (its processes reaped), and an invalid edit is reported the way
 * `validate` reports it while the fleet keeps running on the last good config.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CLI, gitRepo, runCli, tempDir } from '../helpers.js';
import { assertNoneLeft, BIN, markedProcesses, marker } from '../runtime/support.js';
import { eventually, exited, outputOf, waitForText } from '../support/eventually.js';
import { rpc } from './support.js';

const mark = marker();
/** The memory server's own marker, to find its processes once it is removed. */
const memoryMark = randomUUID();
let dir: string;
let cleanup: () => Promise<void>;
let configFile: string;
let dev: ChildProcessWithoutNullStreams;
let stdout = '';
let stderr = '';
let url = '';
/** Whether .mcp-fleet/dev.json existed at the moment the ready line reached us (set once). */
let stateAtReady: boolean | undefined;

const config = (git: string, extra = ''): string => `stack: ReloadTest
gateway: { name: reload-test }
defaults:
  timeout: 30
  env: { MCP_FLEET_TEST_MARKER: "${mark.value}", POWERTOOLS_METRICS_DISABLED: "true" }
servers:
  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
  git:
    package: { pypi: mcp-server-git==${git}, system: [git] }
    command: mcp-server-git
    args: ["--repository", "repo"]
  memory:
    command: ${BIN('mcp-server-memory')}
    env: { MEMORY_FILE_PATH: memory.jsonl, MCP_FLEET_TEST_MARKER: "${memoryMark}" }
${extra}`;
const FILESYSTEM = `  filesystem:
    command: ${BIN('mcp-server-filesystem')}
    args: ["."]
`;

/** Waits until `pattern` has appeared in stdout or stderr after `from` characters of it. */
const waitFor = (stream: () => string, pattern: RegExp, from: number): Promise<RegExpExecArray> =>
  waitForText(stream, pattern, {
    from,
    child: dev,
    seen: () => `stdout:\n${stdout}\nstderr:\n${stderr}`,
  });

/** Writes the config the way many editors save: a new file renamed over the old one. */
async function save(text: string): Promise<void> {
  const tmp = path.join(dir, `.servers.yaml.${randomUUID()}.swp`);
  await writeFile(tmp, text);
  await rename(tmp, configFile);
}

let calls = 0;
const call = async (tool: string, args: Record<string, unknown>): Promise<Record<string, unknown>> => {
  const r = await rpc(`${url}/mcp`, {
    id: ++calls,
    method: 'tools/call',
    params: { name: tool, arguments: args },
  });
  assert.equal(r.status, 200);
  return r.body;
};
const toolNames = async (): Promise<string[]> => {
  const r = await rpc(`${url}/mcp`, { id: ++calls, method: 'tools/list' });
  return ((r.body['result'] as { tools: { name: string }[] }).tools ?? []).map((t) => t.name);
};
const statusOf = async (id: string): Promise<Record<string, unknown> | undefined> => {
  const s = (await (await fetch(`${url}/status`)).json()) as { functions: Record<string, unknown>[] };
  return s.functions.find((f) => f['id'] === id);
};
/** Pids of the marked processes whose command line matches. */
const pids = async (value: string, cmd: RegExp): Promise<number[]> =>
  (await markedProcesses(value)).filter((p) => cmd.test(p.cmdline)).map((p) => p.pid);

before(async () => {
  ({ dir, cleanup } = await tempDir());
  await gitRepo(path.join(dir, 'repo'));
  configFile = path.join(dir, 'servers.yaml');
  await writeFile(configFile, config('2026.10.19'));
  dev = spawn(process.execPath, [CLI, 'dev', '--port', '0', '--plain'], {
    cwd: dir,
    env: { ...process.env, ...mark.env },
  });
  dev.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    // Checked as the line arrives: anything started on it (a script, `mcp-fleet tools`) finds the file.
    if (stateAtReady === undefined && /servers up/.test(stdout))
      stateAtReady = existsSync(path.join(dir, '.mcp-fleet', 'dev.json'));
  });
  dev.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await waitFor(() => stdout, /3 of 3 servers up, \d+ tools\. Watching servers\.yaml/, 0);
  url = (JSON.parse(await readFile(path.join(dir, '.mcp-fleet', 'dev.json'), 'utf8')) as { url: string }).url;
});

after(async () => {
  if (dev.exitCode === null) {
    dev.kill('SIGINT');
    await exited(dev);
  }
  await assertNoneLeft(mark.value, 10_000);
  await assertNoneLeft(memoryMark, 10_000);
  await cleanup();
});

test('the state file (.mcp-fleet/dev.json) is in place when the ready line is printed', () => {
  assert.equal(stateAtReady, true);
});

test('dev built the PyPI server itself (into .mcp-fleet/build) before starting', async () => {
  assert.match(stdout, /building what is not built yet \(1 server\)/);
  assert.match(stdout, /run from the build \(\.mcp-fleet\/build\): git; the others: their command on PATH/);
  const listing = await readdir(path.join(dir, '.mcp-fleet', 'build', 'git', 'host', 'venv', 'bin'));
  assert.ok(listing.includes('mcp-server-git'));
});

test('a changed package: rebuilt and its environments replaced, while an unchanged server keeps serving', async (t) => {
  // Warm both, and note the processes of each.
  assert.equal((await call('git___git_status', { repo_path: path.join(dir, 'repo') }))['error'], undefined);
  await call('everything___echo', { message: 'warm' });
  const gitBefore = await pids(mark.value, /mcp-server-git/);
  const everythingBefore = await pids(mark.value, /mcp-server-everything/);
  assert.equal(gitBefore.length, 1);
  assert.equal(everythingBefore.length, 1);

  const from = stdout.length;
  await save(config('2026.10.10'));
  // Calls to the unchanged server, one after the other, all through the reload (build,
  // replacement, catalog refresh), until the reload says it is done.
  const failures: string[] = [];
  let served = 0;
  /** Calls sent after the reload said it started and answered before it said it ended. */
  let during = 0;
  const since = (pattern: RegExp): boolean => pattern.test(stdout.slice(from));
  await eventually(
    async () => {
      const message = `during reload ${served}`;
      const started = since(/servers\.yaml changed: building git/);
      try {
        const body = await call('everything___echo', { message });
        if (!JSON.stringify(body['result'] ?? body).includes(message)) failures.push(JSON.stringify(body));
      } catch (err) {
        failures.push((err as Error).message);
      }
      served += 1;
      const done = since(/reloaded servers\.yaml: replaced git; 2 servers unchanged, still serving/);
      if (started && !done) during += 1;
      return done;
    },
    {
      what: 'the reload of git, with calls to everything all through it',
      intervalMs: 20,
      seen: () =>
        `${served} calls, failures: ${JSON.stringify(failures)}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
    },
  );
  assert.match(stdout.slice(from), /servers\.yaml changed: building git/);
  assert.deepEqual(failures, []);
  assert.ok(during > 5, `only ${during} of ${served} calls were sent and answered while the reload ran`);
  t.diagnostic(`${during} of ${served} calls while the reload ran`);
  // The unchanged server kept its environment: the same process, no new cold start.
  assert.deepEqual(await pids(mark.value, /mcp-server-everything/), everythingBefore);
  assert.equal((await statusOf('everything'))?.['coldStarts'], 1);
  // The changed one runs the new install in a new environment; the old one is gone.
  const site = path.join(dir, '.mcp-fleet', 'build', 'git', 'host', 'venv', 'lib');
  const [py] = await readdir(site);
  const dists = await readdir(path.join(site, py ?? '', 'site-packages'));
  assert.ok(dists.includes('mcp_server_git-2026.10.10.dist-info'), dists.join(' '));
  const status = await call('git___git_status', { repo_path: path.join(dir, 'repo') });
  assert.match(JSON.stringify(status), /On branch|HEAD/);
  const gitAfter = await pids(mark.value, /mcp-server-git/);
  assert.equal(gitAfter.length, 1);
  assert.ok(!gitBefore.includes(gitAfter[0] ?? -1), 'the old git server process is still the one serving');
  const lock = JSON.parse(await readFile(path.join(dir, 'mcp-fleet.lock.json'), 'utf8')) as {
    servers: Record<string, { package: string }>;
  };
  assert.equal(lock.servers['git']?.package, 'mcp-server-git==2026.10.10');
});

test('an added server appears in the gateway', async () => {
  const from = stdout.length;
  await save(config('2026.10.10', FILESYSTEM));
  await waitFor(() => stdout, /reloaded servers\.yaml: added filesystem; 3 servers unchanged/, from);
  assert.match(stdout.slice(from), /^ {2}filesystem +\d+ tools/m);
  const names = await toolNames();
  assert.ok(names.includes('filesystem___list_allowed_directories'), names.join(' '));
  const answer = await call('filesystem___list_allowed_directories', {});
  assert.match(JSON.stringify(answer), new RegExp(path.basename(dir)));
});

test('a removed server is stopped: its processes reaped, its tools and function gone', async () => {
  await call('memory___read_graph', {});
  assert.ok((await markedProcesses(memoryMark)).length > 0, 'memory had no environment to stop');
  const from = stdout.length;
  await save(config('2026.10.10', FILESYSTEM).replace(/ {2}memory:\n(?: {4}.*\n)+/, ''));
  await waitFor(() => stdout, /reloaded servers\.yaml: removed memory; 3 servers unchanged/, from);
  await assertNoneLeft(memoryMark, 5000);
  assert.ok(!(await toolNames()).some((n) => n.startsWith('memory___')));
  const invoke = await fetch(`${url}/2015-03-31/functions/mcp-server-memory/invocations`, {
    method: 'POST',
    body: '{}',
  });
  assert.equal(invoke.status, 404);
  assert.equal(await statusOf('memory'), undefined);
});

test('an invalid edit is reported as validate reports it; the fleet keeps running on the last good config', async () => {
  const good = config('2026.10.10', FILESYSTEM).replace(/ {2}memory:\n(?: {4}.*\n)+/, '');
  const bad = good.replace('    args: [stdio]\n', '    args: [stdio]\n    timeout: 1200\n    timout: 3\n');
  const from = stderr.length;
  await save(bad);
  const validate = await runCli(['validate', 'servers.yaml'], { cwd: dir });
  assert.equal(validate.code, 1);
  const expected = validate.stdout.split('\n').filter((l) => /^servers\.yaml:\d+:\d+ /.test(l));
  assert.equal(expected.length, 2, validate.stdout);
  await waitFor(() => stderr, /still running the last good config/, from);
  const reported = stderr.slice(from).split('\n');
  for (const line of expected)
    assert.ok(reported.includes(line), `${line} not reported:\n${stderr.slice(from)}`);
  assert.match(stderr.slice(from), /✗ servers\.yaml: 2 errors; still running the last good config/);
  // Everything still serves, unchanged.
  const echo = await call('everything___echo', { message: 'after a bad edit' });
  assert.match(JSON.stringify(echo), /after a bad edit/);
  assert.equal((await statusOf('everything'))?.['coldStarts'], 1);
  // Fixed again: applied, nothing to rebuild.
  const out = stdout.length;
  await writeFile(configFile, good.replace('args: [stdio]\n', 'args: [stdio]\n    timeout: 60\n'));
  await waitFor(() => stdout, /reloaded servers\.yaml: replaced everything; 2 servers unchanged/, out);
  assert.equal(dev.exitCode, null);
});

test('a changed gateway rate limit applies at once, and the reload says so (no restart asked)', async () => {
  const good = config('2026.10.10', FILESYSTEM)
    .replace(/ {2}memory:\n(?: {4}.*\n)+/, '')
    .replace('args: [stdio]\n', 'args: [stdio]\n    timeout: 60\n');
  const limited = good.replace(
    'gateway: { name: reload-test }\n',
    `gateway:
  name: reload-test
  rateLimits:
    per-echo:
      dimensionKeys: [toolName]
      entries:
        - dimensions: { toolName: everything___echo }
          requests: 1/minute
`,
  );
  const out = stdout.length;
  await save(limited);
  await waitFor(() => stdout, /reloaded servers\.yaml: 3 servers unchanged, still serving/, out);
  await waitFor(() => stdout, /gateway\.rateLimits changed: applied/, out);
  assert.doesNotMatch(stdout.slice(out), /restart mcp-fleet dev/);
  await call('everything___echo', { message: 'first of the minute' });
  const second = await rpc(`${url}/mcp`, {
    id: ++calls,
    method: 'tools/call',
    params: { name: 'everything___echo', arguments: { message: 'second' } },
  });
  assert.equal(second.status, 429, JSON.stringify(second.body));
});

test('a server switched to agentcore-runtime is held back while the gateway keeps no sessions (its state would be lost), and said so', async () => {
  const good = config('2026.10.10', FILESYSTEM).replace(/ {2}memory:\n(?: {4}.*\n)+/, '');
  const from = stderr.length;
  const out = stdout.length;
  await save(
    good.replace('args: [stdio]\n', 'args: [stdio]\n    timeout: 60\n    host: agentcore-runtime\n'),
  );
  await waitFor(
    () => stderr,
    /everything: host agentcore-runtime keeps a server per client session, which needs the gateway's sessions \(gateway\.sessionTimeout\), set at start only: restart mcp-fleet dev to apply it; still running it as before/,
    from,
  );
  await waitFor(() => stdout, /gateway changed: restart mcp-fleet dev to apply it/, out);
  assert.equal((await statusOf('everything'))?.['host'], 'function', 'still an event function');
  const echo = await call('everything___echo', { message: 'held back' });
  assert.match(JSON.stringify(echo), /held back/);
});

test('without a Python >= 3.11 on PATH, dev says what is missing and runs the other servers', async () => {
  const { dir: other, cleanup: clean } = await tempDir();
  try {
    await writeFile(
      path.join(other, 'servers.yaml'),
      `defaults: { env: { MCP_FLEET_TEST_MARKER: "${mark.value}" } }
servers:
  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
  git:
    package: { pypi: mcp-server-git==2026.10.19 }
    command: mcp-server-git
`,
    );
    // A PATH with node only (the npm servers' scripts run \`env node\`).
    const bin = path.join(other, 'bin');
    await mkdir(bin);
    await symlink(process.execPath, path.join(bin, 'node'));
    const child = spawn(process.execPath, [CLI, 'dev', '--port', '0', '--plain', '--no-watch'], {
      cwd: other,
      env: { ...process.env, ...mark.env, PATH: bin },
    });
    const output = outputOf(child);
    const out = output.all;
    await waitForText(out, /servers up/, { child, what: 'the ready line' });
    child.kill('SIGINT');
    await exited(child);
    assert.match(
      out(),
      /^ {2}git +FAILED {2}build: Python servers need Python ≥ 3\.11 on PATH as python3, and there is no python3 on PATH/m,
    );
    assert.match(out(), /1 of 2 servers up, 13 tools; 1 failed/);
  } finally {
    await clean();
  }
});
