/**
 * The hosts that take many calls per environment, in `mcp-fleet dev`, with real servers and real
 * MCP clients: a web function (the Web Function bundle under Node.js 24 on its own HTTP endpoint)
 * takes 64 concurrent calls in one environment, each answered with its own arguments; a server
 * that cannot take two calls at once runs as a pool with `concurrency: 1`; progress of two long
 * calls reaches each its own caller; a call past its timeout leaves the others served; an
 * environment that does not listen within the init limit is refused; idle web functions scale to
 * zero and back; managed instances take several invocations at once, never frozen; and nothing is
 * left running at the end.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  InvokeCommand,
  LambdaClient,
  ListFunctionsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfigOrThrow, toLaunchSpec } from '../../src/config/index.js';
import { discoverLocally } from '../../src/local/lambda/discovery.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { LocalLambda } from '../../src/local/lambda/service.js';
import { ensureWebFunctionNode } from '../../src/local/lambda/web-node.js';
import { processTree } from '../../src/platform/processes.js';
import { fixture, ROOT, tempDir } from '../helpers.js';
import { assertNoneLeft, BIN, isAlive, marker } from '../runtime/support.js';
import { post, toolCall, writeRecorder } from '../runtime/web-support.js';
import { eventually, exited, outputOf, waitForText } from '../support/eventually.js';

const mark = marker();
let dir: string;
let cleanup: () => Promise<void>;
let fleet: RunningFleet;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  const webNode = await ensureWebFunctionNode();
  assert.ok(webNode.exact, `Node.js 24 for web functions: ${webNode.why ?? ''}`);
  const recorder = await writeRecorder(dir);
  const file = path.join(dir, 'servers.yaml');
  await writeFile(
    file,
    `defaults:
  env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
servers:
  everything:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    host: web-function
    # One process takes them all (the default, 8 per process, would start up to 4).
    concurrency: 64
  serial:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(recorder)}]
    env: { SERIAL: "1" }
    host: web-function
    concurrency: 1
    processes: 3
    maxEnvironments: 3
  slow:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(recorder)}]
    host: web-function
    timeout: 3
  managed:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    host: managed-instances
    memory: 2048
`,
  );
  fleet = await startFleet(await loadConfigOrThrow(file), {
    port: 0,
    buildDir: false,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
  });
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(mark.value);
  await cleanup();
});

async function client(url: string): Promise<Client> {
  const c = new Client({ name: 'hosts-test', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  return c;
}

const text = (r: unknown): string => (r as { content: { text: string }[] }).content[0]?.text ?? '';

describe('host web-function in mcp-fleet dev', () => {
  test('64 concurrent calls with distinct arguments in one environment, every answer its own', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => client(`${fleet.url}/mcp`)));
    const answers = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        clients[i % 8]!.callTool({ name: 'everything___echo', arguments: { message: `call-${i}` } }),
      ),
    );
    assert.deepEqual(
      answers.map(text),
      Array.from({ length: 64 }, (_, i) => `Echo: call-${i}`),
    );
    await Promise.all(clients.map((c) => c.close()));
    const fn = fleet.lambda.forServer('everything');
    assert.ok(fn);
    assert.equal(fn.stats.coldStarts, 1, 'one environment took them all');
    assert.equal(fn.environments.total, 1);
  });

  test("its environment's port takes dev's requests only: a process that finds it is refused (403)", async () => {
    const fn = fleet.lambda.forServer('everything');
    assert.ok(fn);
    const pids = (await Promise.all(fn.environmentList.map((e) => e.members()))).flat();
    const environ = (pid: number): string[] => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      } catch {
        return []; // gone
      }
    };
    // What any process of the machine can learn: the entry's endpoint, from its environment.
    const endpoint = pids
      .flatMap(environ)
      .find((v) => v.startsWith('AWS_LAMBDA_HTTP_ENDPOINT='))
      ?.split('=')[1];
    assert.ok(endpoint, 'the entry listens on AWS_LAMBDA_HTTP_ENDPOINT');
    const around = await post(`http://${endpoint}/mcp`, toolCall(1, 'echo', { message: 'around dev' }));
    assert.equal(around.status, 403);
    assert.match(around.text, /takes requests from mcp-fleet dev only/);
    // The MCP server's own environment never has the key.
    const servers = pids.filter((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('mcp-server-everything'),
    );
    assert.ok(servers.length > 0);
    for (const pid of servers)
      assert.ok(!environ(pid).some((v) => v.startsWith('MCP_FLEET_LOCAL_KEY=')), `server ${pid}`);
    const c = await client(`${fleet.url}/mcp`);
    assert.equal(
      text(await c.callTool({ name: 'everything___echo', arguments: { message: 'through dev' } })),
      'Echo: through dev',
    );
    await c.close();
  });

  test('a serial server with concurrency 1 runs as a pool: never two calls in one process', async () => {
    const c = await client(`${fleet.url}/servers/serial/mcp`);
    // 3 processes per environment × up to 3 environments: nine places for six calls (and the
    // client's own requests, which may come at the same time).
    const settled = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        c.callTool({ name: 'work', arguments: { text: `w${i}`, ms: 200 } }),
      ),
    );
    const fn = fleet.lambda.forServer('serial');
    const answers = settled.map((r) => {
      if (r.status === 'rejected')
        assert.fail(
          `${String(r.reason)}; ${JSON.stringify({ envs: fn?.environments, list: fn?.environmentList.map((e) => e.state), stats: fn?.stats })}`,
        );
      return r.value;
    });
    await c.close();
    const parsed = answers.map((a) => text(a).split(':'));
    assert.deepEqual(
      parsed.map((p) => p[1]),
      Array.from({ length: 6 }, (_, i) => `w${i}`),
      'every answer its own',
    );
    assert.ok(
      parsed.every((p) => p[2] === '1'),
      `no process ran two calls at once: ${JSON.stringify(parsed)}`,
    );
    assert.ok(new Set(parsed.map((p) => p[0])).size > 1, 'several processes served them');
  });

  test('progress of two concurrent long calls reaches each its own caller', async () => {
    const [a, b] = await Promise.all([client(`${fleet.url}/mcp`), client(`${fleet.url}/mcp`)]);
    const got: Record<string, number[]> = { a: [], b: [] };
    const call = (c: Client, who: 'a' | 'b', steps: number) =>
      c.callTool(
        { name: 'everything___trigger-long-running-operation', arguments: { duration: 1, steps } },
        undefined,
        { onprogress: (p) => got[who]!.push(p.progress) },
      );
    await Promise.all([call(a, 'a', 3), call(b, 'b', 5)]);
    await Promise.all([a.close(), b.close()]);
    assert.deepEqual(got['a'], [1, 2, 3]);
    assert.deepEqual(got['b'], [1, 2, 3, 4, 5]);
  });

  test('a call past its timeout fails alone: the others are served and the environment goes on', async () => {
    const c = await client(`${fleet.url}/servers/slow/mcp`);
    await c.callTool({ name: 'echo', arguments: { text: 'warm' } });
    const fn = fleet.lambda.forServer('slow');
    assert.ok(fn);
    const envPid = fn.environmentList[0]?.pid;
    const errors = fn.stats.errors;
    const blocked = c.callTool({ name: 'block', arguments: { text: 'never' } }).then(
      () => 'answered',
      (err: unknown) => (err as Error).message,
    );
    const quick = await c.callTool({ name: 'echo', arguments: { text: 'meanwhile' } });
    assert.match(text(quick), /:meanwhile:/);
    assert.match(await blocked, /did not answer within \d+ ms/);
    // Answered with HTTP 200 and a JSON-RPC error: counted as failed (status page, plan's measurements).
    assert.equal(fn.stats.errors, errors + 1);
    assert.match(fn.stats.lastError?.message ?? '', /did not answer within \d+ ms/);
    // (That the server is told to cancel only that request when others share its process is
    // shown on a manual clock in test/runtime/multiplex.test.ts.)
    const after = await c.callTool({ name: 'echo', arguments: { text: 'after' } });
    assert.match(text(after), /:after:/);
    await c.close();
    assert.equal(fn.stats.coldStarts, 1, 'no new environment');
    assert.equal(fn.environmentList[0]?.pid, envPid);
  });

  test('a client that goes away from the gateway cancels its call on the web function (its place is free at once)', async () => {
    const fn = fleet.lambda.forServer('slow');
    assert.ok(fn);
    const gone = new AbortController();
    const call = fetch(`${fleet.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'gone-1',
        method: 'tools/call',
        params: { name: 'slow___block', arguments: { text: 'left' } },
      }),
      signal: gone.signal,
    }).catch((err: unknown) => err);
    await eventually(() => fn.environments.calls === 1, {
      what: 'the call reached the web function',
      seen: () => JSON.stringify(fn.environments),
    });
    gone.abort();
    assert.ok((await call) instanceof Error);
    const logFile = path.join(fleet.lambda.options.workDir, 'slow', 'function.log');
    let log = '';
    await eventually(
      async () => {
        log = await readFile(logFile, 'utf8');
        return fn.environments.calls === 0 && /cancelled requestId=\S+ reason=(?!timed out)/.test(log);
      },
      {
        what: 'the server told to cancel the call (not at its timeout)',
        seen: () => `${JSON.stringify(fn.environments)}\n${log}`,
      },
    );
  });

  test('idle, it scales to zero (SIGTERM, nothing left), and the next call starts a new environment', async () => {
    const fn = fleet.lambda.forServer('everything');
    assert.ok(fn);
    const pids = await Promise.all(fn.environmentList.map((e) => e.members()));
    assert.ok(pids.flat().length >= 2, 'the server and its runtime run');
    fn.reclaimIdle(0);
    await eventually(() => fn.environments.total === 0, { what: 'no environment left' });
    for (const pid of pids.flat()) assert.equal(await isAlive(pid), false, `process ${pid} is gone`);
    // The spin-down's report comes once every process of it is gone, a moment after the pool let it go.
    const logFile = path.join(fleet.lambda.options.workDir, 'everything', 'function.log');
    let log = '';
    await eventually(
      async () => {
        await fn.logFlushed();
        log = await readFile(logFile, 'utf8');
        return log.includes('"platform.spinDownReport"');
      },
      { what: 'the spin-down reported' },
    );
    const events = log
      .split('\n')
      .filter((l) => l.startsWith('{"timestamp"'))
      .map((l) => JSON.parse(l) as { type: string; record: Record<string, unknown> });
    const report = events.find((e) => e.type === 'platform.invokeReport');
    assert.ok(report, 'the environment reported what it served');
    const record = report.record as { requests: number; peakConcurrency: number };
    assert.ok(record.requests >= 64 && record.peakConcurrency > 1, JSON.stringify(record));
    // Its server exited on SIGTERM: a shutdown within the grace.
    assert.deepEqual(
      events.filter((e) => e.type.startsWith('platform.spinDown')).map((e) => [e.type, e.record['status']]),
      [
        ['platform.spinDownStart', undefined],
        ['platform.spinDownReport', 'success'],
      ],
    );
    const c = await client(`${fleet.url}/mcp`);
    assert.equal(
      text(await c.callTool({ name: 'everything___echo', arguments: { message: 'back' } })),
      'Echo: back',
    );
    await c.close();
    assert.equal(fn.stats.coldStarts, 2);
  });
});

describe('servers without Lambda Invoke (web functions) in mcp-fleet dev', () => {
  test('the Invoke API does not have them (ResourceNotFoundException saying where they are served), nor ListFunctions', async () => {
    const lambda = new LambdaClient({
      endpoint: fleet.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await assert.rejects(
      lambda.send(new InvokeCommand({ FunctionName: 'mcp-server-everything', Payload: Buffer.from('{}') })),
      (err: unknown) =>
        err instanceof ResourceNotFoundException &&
        /host web-function, which has no Lambda Invoke; call it over MCP at \/servers\/everything\/mcp/.test(
          err.message,
        ),
    );
    const listed = (await lambda.send(new ListFunctionsCommand({}))).Functions?.map((f) => f.FunctionName);
    assert.deepEqual(
      listed,
      ['mcp-server-managed'],
      'only the managed-instances function is an event function',
    );
  });

  test('`mcp-fleet invoke` and `tools` reach a web function over MCP', async () => {
    const cli = async (...args: string[]) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), ...args], { cwd: dir });
      const out = outputOf(child);
      const code = await exited(child);
      return { code, stdout: out.stdout(), stderr: out.stderr() };
    };
    const common = ['-c', path.join(dir, 'servers.yaml'), '--endpoint', fleet.url];
    const invoked = await cli('invoke', 'everything', 'echo', '{"message":"from the cli"}', ...common);
    assert.equal(invoked.code, 0, invoked.stderr);
    assert.match(invoked.stdout, /Echo: from the cli/);
    const listed = await cli('tools', 'everything', '--json', ...common);
    assert.equal(listed.code, 0, listed.stderr);
    const tools = JSON.parse(listed.stdout) as Record<string, { name: string }[]>;
    assert.ok(
      tools['mcp-server-everything']?.some((t) => t.name === 'echo'),
      listed.stdout,
    );
    const refused = await cli(
      'invoke',
      'everything',
      'echo',
      '{}',
      '-c',
      path.join(dir, 'servers.yaml'),
      '--region',
      'us-east-1',
    );
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /runs on host web-function, which has no Lambda Invoke; call it through the gateway/,
    );
  });
});

describe('mcp-fleet dev killed outright (SIGKILL)', () => {
  test('its web-function and managed-instances environments go with it: no process left', async () => {
    const file = path.join(dir, 'killed.yaml');
    await writeFile(
      file,
      `defaults:
  env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
servers:
  web:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    host: web-function
  managed:
    command: ${BIN('mcp-server-everything')}
    args: [stdio]
    host: managed-instances
    memory: 2048
`,
    );
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'dist', 'cli', 'main.js'), 'dev', '--config', file, '--port', '0', '--no-watch'],
      { env: { ...process.env, POWERTOOLS_METRICS_DISABLED: 'true' }, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const output = outputOf(child);
    await waitForText(output.stdout, /Ctrl-C to stop/, { child, what: 'the ready line' });
    const commands = (): string[] =>
      processTree(child.pid ?? 0).map((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
        } catch {
          return '';
        }
      });
    // Both environments stay up after the start-up listed their tools (neither is ever frozen).
    await eventually(
      () =>
        commands().some((c) => c.includes('web.bundle')) &&
        commands().filter((c) => c.includes('mcp-server-everything')).length >= 2,
      { what: "the web function's entry and both servers", seen: () => commands().join('\n') },
    );
    const pids = processTree(child.pid ?? 0).slice(1);
    child.kill('SIGKILL');
    await exited(child);
    let left: number[] = [];
    await eventually(
      async () => {
        left = [];
        for (const pid of pids) if (await isAlive(pid)) left.push(pid);
        return left.length === 0;
      },
      { what: 'every process of the fleet gone', seen: () => JSON.stringify(left) },
    );
  });
});

describe('host managed-instances in mcp-fleet dev', () => {
  test('several invocations at once in one environment, never frozen', async () => {
    const c = await client(`${fleet.url}/mcp`);
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        c.callTool({ name: 'managed___echo', arguments: { message: `m${i}` } }),
      ),
    );
    await c.close();
    assert.deepEqual(
      answers.map(text),
      Array.from({ length: 16 }, (_, i) => `Echo: m${i}`),
    );
    const fn = fleet.lambda.forServer('managed');
    assert.ok(fn);
    assert.equal(fn.environments.total, 1);
    assert.equal(fn.environments.frozen, 0);
  });
});

describe('build-time discovery of a web function', () => {
  test('lists its tools through its endpoint (a web function has no direct invoke)', async () => {
    const server = fleet.lambda.forServer('everything')?.server;
    assert.ok(server);
    const launchFile = path.join(dir, 'discover-launch.json');
    await writeFile(launchFile, JSON.stringify(toLaunchSpec(server)));
    const found = await discoverLocally({
      server,
      launchFile,
      workDir: path.join(dir, 'discover'),
      cwd: dir,
    });
    assert.ok(
      found.tools.some((t) => t['name'] === 'echo'),
      JSON.stringify(found.tools.map((t) => t['name'])),
    );
  });
});

describe('the web-function init limit', () => {
  test('an environment not listening within the limit is refused, and killed', async () => {
    const file = path.join(dir, 'slow-listener.yaml');
    await writeFile(
      file,
      `servers:\n  late:\n    command: unused\n    host: web-function\n    env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }\n`,
    );
    const config = await loadConfigOrThrow(file);
    const lambda = new LocalLambda(config.servers, {
      workDir: path.join(dir, 'late-work'),
      cwd: dir,
      env: { ...process.env, ...mark.env, LISTEN_AFTER_MS: '60000' },
      handlers: { late: fixture('handlers', 'slow-listener.mjs') },
      initTimeoutMs: 500,
    });
    try {
      const outcome = await lambda.invoke('mcp-server-late', { rawPath: '/mcp', body: '{}' });
      assert.equal(outcome.functionError, 'Unhandled');
      assert.match(JSON.stringify(outcome.payload), /did not listen on AWS_LAMBDA_HTTP_ENDPOINT within/);
      const fn = lambda.forServer('late');
      assert.equal(fn?.stats.initTimeouts, 1);
      await eventually(() => fn?.environments.total === 0, { what: 'the refused environment gone' });
    } finally {
      await lambda.shutdown();
    }
  });
});
