import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/fleet.js';
import type { Verification } from '../../src/verify/verify.js';
import { gitRepo, runCli, tempDir } from '../helpers.js';
import { assertNoneLeft, BIN, marker } from '../runtime/support.js';

const TOKEN = 'verify-test-token';
const mark = marker();
let dir: string;
let cleanup: () => Promise<void>;
let configFile: string;
let fleet: RunningFleet;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  const repo = path.join(dir, 'repo');
  await gitRepo(repo);
  await writeFile(path.join(dir, 'hello.txt'), 'hello from the verify test\n');
  configFile = path.join(dir, 'servers.yaml');
  await writeFile(
    configFile,
    `stack: VerifyTest
defaults:
  env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
servers:
  memory:
    command: ${BIN('mcp-server-memory')}
    env: { MEMORY_FILE_PATH: ${JSON.stringify(path.join(dir, 'memory.jsonl'))} }
    verify: { tool: read_graph }
  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    verify: { tool: echo, arguments: { message: verified } }
  filesystem:
    command: ${BIN('mcp-server-filesystem')}
    args: [${JSON.stringify(dir)}]
    verify: { tool: read_text_file, arguments: { path: ${JSON.stringify(path.join(dir, 'hello.txt'))} } }
  git:
    command: mcp-server-git
    verify: { tool: git_status, arguments: { repo_path: ${JSON.stringify(repo)} } }
  no-verify:
    command: ${BIN('mcp-server-memory')}
  wrong:
    description: its verify call fails (the file does not exist)
    command: ${BIN('mcp-server-filesystem')}
    args: [${JSON.stringify(dir)}]
    verify: { tool: read_text_file, arguments: { path: ${JSON.stringify(path.join(dir, 'missing.txt'))} } }
`,
  );
  fleet = await startFleet(await loadConfigOrThrow(configFile), {
    port: 0,
    token: TOKEN,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
  });
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(mark.value);
  await cleanup();
});

const verify = async (
  ...args: string[]
): Promise<{ code: number | null; result: Verification; stderr: string }> => {
  const r = await runCli(['verify', '--config', configFile, '--endpoint', fleet.url, '--json', ...args]);
  return { code: r.code, result: JSON.parse(r.stdout) as Verification, stderr: r.stderr };
};

describe('mcp-fleet verify against the local fleet', () => {
  test('passes: Lambda tools/list, the AgentCore-style call and the gateway, for every server', async () => {
    const { code, result, stderr } = await verify(
      '--token',
      TOKEN,
      '--only',
      'memory',
      'everything',
      'filesystem',
      'git',
      'no-verify',
    );
    assert.equal(code, 0, stderr);
    assert.equal(result.ok, true);
    assert.equal(result.gateway.status, 'pass');
    for (const s of result.servers) {
      assert.equal(s.toolsList.status, 'pass', `${s.id}: ${s.toolsList.detail}`);
      assert.equal(s.gateway.status, 'pass', `${s.id}: ${s.gateway.detail}`);
      assert.equal(
        s.agentCoreCall.status,
        s.id === 'no-verify' ? 'skip' : 'pass',
        `${s.id}: ${s.agentCoreCall.detail}`,
      );
      assert.ok((s.toolsList.ms ?? -1) >= 0);
    }
    const detail = (id: string): string =>
      result.servers.find((s) => s.id === id)?.agentCoreCall.detail ?? '';
    assert.match(detail('everything'), /Echo: verified/);
    assert.match(detail('filesystem'), /hello from the verify test/);
    assert.match(detail('git'), /On branch/);
  });

  test('a failing verify call fails the run (exit 1) and says why', async () => {
    const { code, result } = await verify('--token', TOKEN, '--only', 'wrong', 'memory');
    assert.equal(code, 1);
    assert.equal(result.ok, false);
    const wrong = result.servers.find((s) => s.id === 'wrong');
    assert.equal(wrong?.toolsList.status, 'pass');
    assert.equal(wrong?.agentCoreCall.status, 'fail');
    assert.match(wrong?.agentCoreCall.detail ?? '', /ENOENT|no such file|not found/i);
    assert.equal(wrong?.gateway.status, 'fail');
    assert.equal(result.servers.find((s) => s.id === 'memory')?.gateway.status, 'pass');
  });

  test('without the token every check is refused, and says so', async () => {
    const { code, result } = await verify('--only', 'memory');
    assert.equal(code, 1);
    assert.equal(result.gateway.status, 'fail');
    assert.match(result.gateway.detail, /401|Unauthorized/i);
    assert.equal(result.servers[0]?.toolsList.status, 'fail');
    assert.match(result.servers[0]?.toolsList.detail ?? '', /HTTP 401/);
  });

  test('invoke and tools take the same token', async () => {
    const tools = await runCli(['tools', 'memory', '--endpoint', fleet.url, '--token', TOKEN, '--json']);
    assert.equal(tools.code, 0, tools.stderr);
    assert.ok((JSON.parse(tools.stdout) as Record<string, unknown[]>)['mcp-server-memory']?.length);
    const call = await runCli(['invoke', 'memory', 'read_graph', '--endpoint', fleet.url, '--token', TOKEN]);
    assert.equal(call.code, 0, call.stderr);
    const refused = await runCli(['invoke', 'memory', 'read_graph', '--endpoint', fleet.url]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused the call \(401\): give the dev fleet's --token/);
  });

  test('the table form', async () => {
    const r = await runCli([
      'verify',
      '--config',
      configFile,
      '--endpoint',
      fleet.url,
      '--token',
      TOKEN,
      '--only',
      'everything',
      'wrong',
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^everything +PASS +\d+ ms +PASS +\d+ ms +PASS +\d+ ms +\d+ tools; echo: Echo: verified/m,
    );
    assert.match(r.stdout, /^wrong +PASS .*FAIL/m);
    assert.match(r.stdout, /NOT verified: \d+ passed, 2 failed, 0 skipped/);
  });
});
