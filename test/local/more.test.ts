import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { CLI } from '../helpers.js';
import { assertNoneLeft, BIN, FAULT_SERVER, text } from '../runtime/support.js';
import { rpc, testFleet, type TestFleetFiles } from './support.js';

const run = promisify(execFile);
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

let files: TestFleetFiles;
let fleet: RunningFleet;
/** A TCP server that accepts and never answers: a secret store that hangs. */
let blackhole: Server;
const sockets = new Set<Socket>();

before(async () => {
  blackhole = createServer((s) => {
    sockets.add(s);
  });
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  const { port } = blackhole.address() as { port: number };
  files = await testFleet(`  stuck:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FAULT_SERVER)}]
    timeout: 2
    secrets: { TOKEN: { ssm: /never/answered } }
  an-everything-server-with-a-long-id:
    command: ${JSON.stringify(BIN('mcp-server-everything'))}
    args: [stdio]
`);
  fleet = await startFleet(files.config, {
    port: 0,
    search: true,
    env: {
      ...files.env,
      AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
      AWS_REGION: 'us-east-1',
    },
  });
});

after(async () => {
  await fleet.close();
  for (const s of sockets) s.destroy();
  await new Promise((r) => blackhole.close(r));
  await assertNoneLeft(files.mark.value);
  await files.cleanup();
});

describe('the local Lambda service', () => {
  test('a server whose secrets never arrive: the call is answered before the function timeout, with why', async () => {
    const client = new LambdaClient({
      endpoint: fleet.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const res = await client.send(
      new InvokeCommand({
        FunctionName: 'mcp-server-stuck',
        Payload: Buffer.from('{}'),
        ClientContext: Buffer.from(
          JSON.stringify({ custom: { bedrockAgentCoreToolName: 'stuck___echo' } }),
        ).toString('base64'),
      }),
    );
    // Init ends at the runtime's budget (the secret store never answers), then the call waits what
    // its 2 s timeout leaves it less the margin kept to answer in time, and answers with why. (The
    // timings: the runtime's tests and, for the local service, test/unit/lambda-function.test.ts.)
    assert.equal(res.FunctionError, undefined, 'answered by the handler, not cut by the platform');
    assert.equal(fleet.lambda.resolve('mcp-server-stuck').stats.timeouts, 0, 'no platform timeout');
    const payload = JSON.parse(Buffer.from(res.Payload ?? new Uint8Array()).toString('utf8')) as {
      isError: boolean;
      content: { text: string }[];
    };
    assert.equal(payload.isError, true);
    assert.match(
      payload.content[0]?.text ?? '',
      /^server "stuck" needs longer to start than the function's timeout allows/,
    );
    const waited = Number(/this invocation could wait (\d+) ms/.exec(payload.content[0]?.text ?? '')?.[1]);
    assert.ok(waited > 0 && waited < 2_000, `the call's budget is below the 2 s timeout: ${waited} ms`);
    const status = (await (await fetch(`${fleet.url}/status`)).json()) as {
      functions: { id: string; errors: number; environments: { total: number } }[];
    };
    const stuck = status.functions.find((f) => f.id === 'stuck');
    assert.ok((stuck?.errors ?? 0) >= 1, 'counted as an error');
    assert.equal(stuck?.environments.total, 1, 'the environment lives on');
  });
});

describe('tool names the deployed gateway would refuse', () => {
  test('are reported in the status with the fix', async () => {
    const status = (await (await fetch(`${fleet.url}/status`)).json()) as {
      functions: { id: string; warnings: string[] }[];
    };
    const long = status.functions.find((f) => f.id === 'an-everything-server-with-a-long-id');
    assert.ok(
      long?.warnings.includes(
        'AgentCore would refuse: an-everything-server-with-a-long-id___trigger-long-running-operation: 68 characters, over the 64 many model APIs accept; shorten it with tools.rename or gateway.target',
      ),
      JSON.stringify(long?.warnings),
    );
  });
});

describe('the gateway search tool', () => {
  test('x_amz_bedrock_agentcore_search is listed and finds tools by what they do', async () => {
    const list = await rpc(`${fleet.url}/mcp`, { id: 1, method: 'tools/list' });
    const names = (list.body['result'] as { tools: { name: string }[] }).tools.map((t) => t.name);
    assert.ok(names.includes('x_amz_bedrock_agentcore_search'));
    const found = await rpc(`${fleet.url}/mcp`, {
      id: 2,
      method: 'tools/call',
      params: { name: 'x_amz_bedrock_agentcore_search', arguments: { query: 'git working tree status' } },
    });
    const tools = (JSON.parse(text(found.body['result'])) as { tools: { name: string }[] }).tools;
    assert.equal(tools[0]?.name, 'git___git_status');
    const none = await rpc(`${fleet.url}/mcp`, {
      id: 3,
      method: 'tools/call',
      params: { name: 'x_amz_bedrock_agentcore_search', arguments: { query: 'zzzz' } },
    });
    assert.deepEqual(JSON.parse(text(none.body['result'])), { tools: [] });
  });
});

describe('the invoke and tools commands', () => {
  test('invoke calls a tool through the Lambda API; tools lists every function', async () => {
    const echo = await run(process.execPath, [
      CLI,
      'invoke',
      'everything',
      'echo',
      '{"message":"from the cli"}',
      '--endpoint',
      fleet.url,
    ]);
    assert.equal(echo.stdout, 'Echo: from the cli\n');
    // Two functions of this fleet cannot list their tools: the listing says so and exits 1.
    const list = await run(process.execPath, [CLI, 'tools', '--endpoint', fleet.url, '--json']).catch(
      (err: unknown) => {
        const e = err as { code: number; stdout: string };
        assert.equal(e.code, 1);
        return { stdout: e.stdout };
      },
    );
    const all = JSON.parse(list.stdout) as Record<string, unknown>;
    assert.ok(Array.isArray(all['mcp-server-memory']));
    assert.match(JSON.stringify(all['mcp-server-broken']), /exited with code 3/);
    const one = await run(process.execPath, [CLI, 'tools', 'git', '--endpoint', fleet.url]);
    assert.match(
      one.stdout,
      /^mcp-server-git \(\d+ tools\)\n {2}git_status {2}Shows the working tree status/,
    );
  });

  test('failures give exit code 1 with the reason', async () => {
    await assert.rejects(
      run(process.execPath, [CLI, 'invoke', 'broken', 'echo', '--endpoint', fleet.url]),
      (err: { code: number; stdout: string }) => err.code === 1 && /exited with code 3/.test(err.stdout),
    );
    await assert.rejects(
      run(process.execPath, [CLI, 'invoke', 'nope', 'x', '--endpoint', fleet.url]),
      (err: { code: number; stderr: string }) =>
        err.code === 1 && /no function mcp-server-nope/.test(err.stderr),
    );
    await assert.rejects(
      run(process.execPath, [CLI, 'invoke', 'memory', 'read_graph', '{not json', '--endpoint', fleet.url]),
      (err: { code: number; stderr: string }) =>
        err.code === 2 && /the arguments are not JSON/.test(err.stderr),
    );
    await assert.rejects(
      run(process.execPath, [CLI, 'tools', '--endpoint', 'http://127.0.0.1:9']),
      (err: { code: number; stderr: string }) => err.code === 1 && /nothing answers there/.test(err.stderr),
    );
  });
});
