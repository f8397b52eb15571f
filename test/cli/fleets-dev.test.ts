/**
 * Two dev fleets running at once from one folder (servers.yaml and servers.prod.yaml): each writes
 * its own state file and work folder, and `tools` / `invoke` reach the fleet of their --config.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { devStateFile } from '../../src/cli/commands/lambda-client.js';
import { CLI, runCli, tempDir } from '../helpers.js';
import { assertNoneLeft, BIN, marker } from '../runtime/support.js';

const mark = marker();
const header = `defaults:
  env: { MCP_FLEET_TEST_MARKER: "${mark.value}", POWERTOOLS_METRICS_DISABLED: "true" }
servers:
`;
const DEFAULT = `${header}  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
`;
const PROD = `${header}  memory:
    command: ${BIN('mcp-server-memory')}
    env: { MEMORY_FILE_PATH: memory.jsonl }
`;

interface Dev {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  /** Resolves once the ready line is printed; rejects if the process exits first. */
  ready: Promise<void>;
}

let dir: string;
let cleanup: () => Promise<void>;
let devs: Dev[] = [];

/** `mcp-fleet dev` with these arguments, in the test folder. */
function startDev(args: string[]): Dev {
  const child = spawn(process.execPath, [CLI, 'dev', '--port', '0', '--plain', '--no-watch', ...args], {
    cwd: dir,
    env: { ...process.env, ...mark.env },
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (/servers up/.test(out)) resolve();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('exit', (code) => {
      reject(new Error(`mcp-fleet dev ${args.join(' ')} exited (${code}) before it was ready:\n${out}`));
    });
  });
  return { child, output: () => out, ready };
}

async function stop(dev: Dev): Promise<void> {
  if (dev.child.exitCode !== null || dev.child.signalCode !== null) return;
  const exited = new Promise((r) => dev.child.once('exit', r));
  dev.child.kill('SIGINT');
  await exited;
}

before(async () => {
  ({ dir, cleanup } = await tempDir());
  await writeFile(path.join(dir, 'servers.yaml'), DEFAULT);
  await writeFile(path.join(dir, 'servers.prod.yaml'), PROD);
  devs = [startDev([]), startDev(['--config', 'servers.prod.yaml'])];
  await Promise.all(devs.map((d) => d.ready));
});

after(async () => {
  await Promise.all(devs.map(stop));
  await assertNoneLeft(mark.value, 10_000);
  await cleanup();
});

test("invoke, tools and verify read the state file of their --config's dev fleet", () => {
  assert.equal(devStateFile(path.join(dir, 'servers.yaml')), path.join(dir, '.mcp-fleet', 'dev.json'));
  assert.equal(
    devStateFile(path.join(dir, 'servers.prod.yaml')),
    path.join(dir, '.mcp-fleet', 'servers.prod', 'dev.json'),
  );
});

test('each running fleet wrote its own state file', async () => {
  const state = async (file: string): Promise<{ url: string; config: string }> =>
    JSON.parse(await readFile(file, 'utf8')) as { url: string; config: string };
  const def = await state(path.join(dir, '.mcp-fleet', 'dev.json'));
  const prod = await state(path.join(dir, '.mcp-fleet', 'servers.prod', 'dev.json'));
  assert.equal(def.config, path.join(dir, 'servers.yaml'));
  assert.equal(prod.config, path.join(dir, 'servers.prod.yaml'));
  assert.notEqual(def.url, prod.url);
  assert.match(devs[0]?.output() ?? '', new RegExp(`Lambda Invoke API\\s+${def.url.replace(/\./g, '\\.')}`));
  assert.match(devs[1]?.output() ?? '', new RegExp(`Lambda Invoke API\\s+${prod.url.replace(/\./g, '\\.')}`));
});

test('tools lists the functions of the fleet of its --config', async () => {
  const def = await runCli(['tools', '--json'], { cwd: dir });
  assert.equal(def.code, 0, def.stderr);
  assert.deepEqual(Object.keys(JSON.parse(def.stdout) as object), ['mcp-server-everything']);
  const prod = await runCli(['tools', '--config', 'servers.prod.yaml', '--json'], { cwd: dir });
  assert.equal(prod.code, 0, prod.stderr);
  assert.deepEqual(Object.keys(JSON.parse(prod.stdout) as object), ['mcp-server-memory']);
});

test('invoke calls the fleet of its --config', async () => {
  const prod = await runCli(['invoke', 'memory', 'read_graph', '--config', 'servers.prod.yaml'], {
    cwd: dir,
  });
  assert.equal(prod.code, 0, prod.stderr);
  assert.match(prod.stdout, /entities/);
  // The default fleet has no memory server: its state file leads elsewhere.
  const def = await runCli(['invoke', 'memory', 'read_graph'], { cwd: dir });
  assert.equal(def.code, 1);
  assert.match(def.stderr, /no function mcp-server-memory/);
});

test('each fleet has its own work folder', () => {
  assert.ok(existsSync(path.join(dir, '.mcp-fleet', 'servers.prod', 'dev', 'memory', 'function.log')));
  assert.ok(existsSync(path.join(dir, '.mcp-fleet', 'dev', 'everything', 'function.log')));
  assert.ok(!existsSync(path.join(dir, '.mcp-fleet', 'dev', 'memory')));
  assert.ok(!existsSync(path.join(dir, '.mcp-fleet', 'servers.prod', 'dev', 'everything')));
});

test('a second dev of a config that runs is refused, naming the first; the first keeps its files', async () => {
  const first = devs[0];
  assert.ok(first);
  const stateFile = path.join(dir, '.mcp-fleet', 'dev.json');
  const before = await readFile(stateFile, 'utf8');
  const { url } = JSON.parse(before) as { url: string };
  const second = await runCli(['dev', '--port', '0', '--plain', '--no-watch'], {
    cwd: dir,
    env: { ...process.env, ...mark.env },
  });
  assert.equal(second.code, 1, second.stdout);
  assert.match(
    second.stderr,
    new RegExp(
      `another mcp-fleet dev \\(process ${first.child.pid}, at ${url.replace(/\./g, '\\.')}\\) runs ${path.join(dir, 'servers.yaml').replace(/\./g, '\\.')}`,
    ),
  );
  assert.doesNotMatch(second.stdout, /building|starting/, 'nothing was built or started');
  assert.equal(await readFile(stateFile, 'utf8'), before, 'the state file is the first one’s still');
  const tools = await runCli(['tools', '--json'], { cwd: dir });
  assert.equal(tools.code, 0, tools.stderr);
});

test('a stopped fleet removes its state file only', async () => {
  const [def, prod] = devs;
  assert.ok(def && prod);
  await stop(prod);
  assert.ok(!existsSync(path.join(dir, '.mcp-fleet', 'servers.prod', 'dev.json')));
  assert.ok(existsSync(path.join(dir, '.mcp-fleet', 'dev.json')));
  await stop(def);
  assert.ok(!existsSync(path.join(dir, '.mcp-fleet', 'dev.json')));
  for (const claim of ['dev.claim', path.join('servers.prod', 'dev.claim')])
    assert.ok(!existsSync(path.join(dir, '.mcp-fleet', claim)), `${claim} released`);
});
