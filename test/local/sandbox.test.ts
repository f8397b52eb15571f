/**
 * `mcp-fleet dev --sandbox`: built zip functions run in the Lambda-like sandbox, so what would
 * fail in Lambda fails here, with the path or program in the error: a write outside /tmp, a
 * program the function does not carry (the npm git server needs the git binary).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildFleet } from '../../src/build/build.js';
import { discoverLocally } from '../../src/local/lambda/discovery.js';
import { loadConfigOrThrow, type FleetConfig } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { gitRepo, tempDir } from '../helpers.js';
import { assertNoneLeft, FAULT_SERVER, marker, text } from '../runtime/support.js';

const mark = marker();
let dir: string;
let cleanup: () => Promise<void>;
let config: FleetConfig;
let repo: string;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  repo = path.join(dir, 'repo');
  await gitRepo(repo);
  const file = path.join(dir, 'servers.yaml');
  await writeFile(
    file,
    `servers:
  memory:
    package: { npm: "@modelcontextprotocol/server-memory@2026.8.31" }
    command: mcp-server-memory
    env: { MEMORY_FILE_PATH: /tmp/memory.jsonl }
  memory-in-task:
    description: keeps its file beside its code, which Lambda does not allow
    package: { npm: "@modelcontextprotocol/server-memory@2026.8.31" }
    command: mcp-server-memory
    env: { MEMORY_FILE_PATH: /var/task/memory.jsonl }
  git:
    description: an npm server that runs the git program, which Lambda's Node.js runtime does not carry
    package: { npm: "@cyanheads/git-mcp-server@2.15.3" }
    command: git-mcp-server
    aws: { architecture: x86_64 }
  fault:
    description: not built
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FAULT_SERVER)}]
`,
  );
  config = await loadConfigOrThrow(file);
  const built = await buildFleet(config, {
    only: ['memory', 'memory-in-task', 'git'],
    discover: discoverLocally,
  });
  assert.deepEqual(built.failed, [], JSON.stringify(built.failed));
});

after(async () => {
  await assertNoneLeft(mark.value);
  await cleanup();
});

const call = async (
  fleet: RunningFleet,
  id: string,
  tool: string,
  args: Record<string, unknown>,
): Promise<{ isError: boolean; text: string }> => {
  const out = await fleet.lambda.invoke(`mcp-server-${id}`, args, {
    clientContext: { custom: { bedrockAgentCoreToolName: `${id}___${tool}` } },
  });
  assert.equal(out.functionError, undefined, JSON.stringify(out.payload));
  return { isError: (out.payload as { isError?: boolean }).isError === true, text: text(out.payload) };
};

describe('dev --sandbox', () => {
  let fleet: RunningFleet;
  let sandboxRoot: string | undefined;
  before(async () => {
    fleet = await startFleet(config, {
      port: 0,
      sandbox: true,
      env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    });
  });
  after(async () => {
    await fleet.close();
    assert.ok(sandboxRoot !== undefined);
    assert.equal(existsSync(sandboxRoot), false, 'its root folder is removed with the environment');
  });

  test('built zip functions run in it; the others outside, each with the reason', () => {
    assert.deepEqual(fleet.sandbox?.inside.sort(), ['git', 'memory', 'memory-in-task']);
    assert.deepEqual(fleet.sandbox?.outside, [
      { id: 'fault', why: 'it is not built (mcp-fleet build stages the function the sandbox runs)' },
    ]);
  });

  test('a server that keeps to /tmp works as usual', async () => {
    const created = await call(fleet, 'memory', 'create_entities', {
      entities: [{ name: 'sandbox', entityType: 'test', observations: ['only /tmp is writable'] }],
    });
    assert.equal(created.isError, false, created.text);
    assert.match((await call(fleet, 'memory', 'read_graph', {})).text, /only \/tmp is writable/);
  });

  test('its processes live in the sandbox root, and the host is not visible', async () => {
    const env = fleet.lambda.resolve('mcp-server-memory').environmentList[0];
    assert.ok(env?.serverPid !== undefined);
    const root = await readlink(`/proc/${env.serverPid}/root`);
    assert.ok(root.startsWith(path.join(os.tmpdir(), 'mcp-fleet-sandbox-')), root);
    sandboxRoot = root;
    // Its file system, as the process sees it.
    const inside = (p: string): boolean => existsSync(`/proc/${String(env.serverPid)}/root${p}`);
    assert.ok(inside('/var/task/index.mjs'), 'the function is at /var/task');
    assert.ok(inside('/var/lang/bin/node'), 'Node.js at /var/lang');
    assert.equal(inside('/home'), false);
    assert.equal(inside(dir), false, 'not the project folder either');
    assert.equal(inside('/usr/bin/git'), false, 'nor programs Lambda does not have');
  });

  test('a write outside /tmp fails with the path in the error', async () => {
    const created = await call(fleet, 'memory-in-task', 'create_entities', {
      entities: [{ name: 'x', entityType: 'test', observations: [] }],
    });
    assert.equal(created.isError, true);
    assert.match(created.text, /EROFS: read-only file system, open '\/var\/task\/memory\.jsonl/);
  });

  test('a program the function does not carry is missing, and the error names it', async () => {
    const status = await call(fleet, 'git', 'git_status', { path: '/tmp' });
    assert.equal(status.isError, true);
    assert.match(status.text, /\bgit\b.*(ENOENT|not found)|(ENOENT|not found).*\bgit\b/i);
  });
});

describe('the same build without --sandbox', () => {
  test('the git server finds the host’s git: what would only fail after deploy', async () => {
    const fleet = await startFleet(config, {
      port: 0,
      env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    });
    try {
      const status = await call(fleet, 'git', 'git_status', { path: repo });
      assert.equal(status.isError, false, status.text);
      assert.match(status.text, /"currentBranch"/);
    } finally {
      await fleet.close();
    }
  });
});
