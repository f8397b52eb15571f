import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  InvokeCommand,
  LambdaClient,
  ListFunctionsCommand,
  ResourceNotFoundException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import type { InvocationRecord } from '../../src/local/lambda/function.js';
import { CLI, ROOT, runCli } from '../helpers.js';
import { eventually, exited, outputOf, waitForText } from '../support/eventually.js';
import { processState, processTree } from '../../src/platform/processes.js';
import { assertNoneLeft, isAlive, text } from '../runtime/support.js';
import { rpc, testFleet, type TestFleetFiles } from './support.js';

const run = promisify(execFile);
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

let files: TestFleetFiles;
let fleet: RunningFleet;
/** Every invocation the fleet made, as it made it. */
const invocations: InvocationRecord[] = [];

before(async () => {
  files = await testFleet();
  fleet = await startFleet(files.config, {
    port: 0,
    env: files.env,
    queueLimit: 1,
    onInvoke: (record) => invocations.push(record),
  });
});

after(async () => {
  await fleet.close();
  await assertNoneLeft(files.mark.value);
  await files.cleanup();
});

const lambda = (): LambdaClient =>
  new LambdaClient({
    endpoint: fleet.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    maxAttempts: 1,
  });
const agentCore = (tool: string): string =>
  Buffer.from(JSON.stringify({ custom: { bedrockAgentCoreToolName: tool } })).toString('base64');
const payloadOf = (p: Uint8Array | undefined): Record<string, unknown> =>
  JSON.parse(Buffer.from(p ?? new Uint8Array()).toString('utf8')) as Record<string, unknown>;

describe('start-up', () => {
  test('every server that can start lists its tools; the broken one fails fast with its reason', () => {
    const byId = new Map(fleet.discovery.map((e) => [e.serverId, e]));
    for (const id of ['memory', 'everything', 'filesystem', 'git', 'fault']) {
      assert.ok((byId.get(id)?.tools.length ?? 0) > 0, `${id}: ${byId.get(id)?.error ?? 'no tools'}`);
    }
    assert.match(
      byId.get('broken')?.error ?? '',
      /server "broken" exited with code 3 before it finished initialize; its last stderr output: fatal: cannot open config/,
    );
    const fs = byId.get('filesystem')?.tools.map((t) => t.name) ?? [];
    assert.ok(fs.includes('filesystem___read_text_file'));
    assert.ok(!fs.includes('filesystem___write_file'), 'denied tools are not served');
  });
});

describe('the gateway at /mcp', () => {
  for (const era of ['2025', '2026-07-28'] as const) {
    test(`MCP SDK client, ${era} era: prefixed tools, lowered schemas, calls routed through Invoke`, async () => {
      const client = new Client(
        { name: 'test', version: '1' },
        era === '2025' ? {} : { versionNegotiation: { mode: { pin: '2026-07-28' } } },
      );
      await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)));
      assert.equal(client.getProtocolEra(), era === '2025' ? 'legacy' : 'modern');
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      for (const n of [
        'memory___read_graph',
        'everything___echo',
        'git___git_status',
        'filesystem___read_text_file',
      ])
        assert.ok(names.includes(n), n);
      assert.ok(!names.some((n) => n.startsWith('broken___')));
      const allowed = new Set(['type', 'description', 'properties', 'required', 'items']);
      const check = (s: Record<string, unknown>): void => {
        for (const k of Object.keys(s)) assert.ok(allowed.has(k), `schema key ${k}`);
        for (const v of Object.values(
          (s['properties'] as Record<string, Record<string, unknown>> | undefined) ?? {},
        ))
          check(v);
        if (s['items']) check(s['items'] as Record<string, unknown>);
      };
      for (const t of tools) check(t.inputSchema);
      const echo = await client.callTool({
        name: 'everything___echo',
        arguments: { message: `via gateway ${era}` },
      });
      assert.match(text(echo), new RegExp(`Echo: via gateway ${era}`));
      const status = await client.callTool({
        name: 'git___git_status',
        arguments: { repo_path: files.repo },
      });
      assert.match(text(status), /On branch/);
      const broken = await client.callTool({ name: 'broken___echo', arguments: { text: 'x' } });
      assert.equal(broken.isError, true);
      assert.match(text(broken), /exited with code 3/);
      await client.close();
    });
  }

  test('an unknown tool is a JSON-RPC error', async () => {
    const { body } = await rpc(`${fleet.url}/mcp`, {
      id: 1,
      method: 'tools/call',
      params: { name: 'nope___x', arguments: {} },
    });
    assert.deepEqual(body['error'], { code: -32602, message: 'Unknown tool: nope___x' });
  });
});

describe('one server at /servers/<id>/mcp (its Function URL front)', () => {
  for (const era of ['2025', '2026-07-28'] as const) {
    test(`MCP SDK client, ${era} era: the server's own tool names`, async () => {
      const client = new Client(
        { name: 'test', version: '1' },
        era === '2025' ? {} : { versionNegotiation: { mode: { pin: '2026-07-28' } } },
      );
      await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/servers/memory/mcp`)));
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'read_graph'));
      const r = await client.callTool({ name: 'read_graph', arguments: {} });
      assert.match(text(r), /entities/);
      await client.close();
    });
  }
});

describe('the MCP Inspector CLI through /mcp', () => {
  const build = path.join(ROOT, 'node_modules', '@modelcontextprotocol', 'inspector-cli', 'build');
  const inspector = path.join(build, 'cli.js');
  // inspector-cli 1.0.3 checks for "../package.json" relative to the working directory but imports
  // it relative to itself: run it from its own build folder so both agree.
  const cwd = build;
  test('lists and calls tools', async () => {
    const list = await run(
      process.execPath,
      [inspector, '--cli', `${fleet.url}/mcp`, '--transport', 'http', '--method', 'tools/list'],
      { timeout: 60_000, cwd },
    );
    assert.match(list.stdout, /"memory___read_graph"/);
    const call = await run(
      process.execPath,
      [
        inspector,
        '--cli',
        `${fleet.url}/mcp`,
        '--transport',
        'http',
        '--method',
        'tools/call',
        '--tool-name',
        'everything___echo',
        '--tool-arg',
        'message=from the inspector',
      ],
      { timeout: 60_000, cwd },
    );
    assert.match(call.stdout, /Echo: from the inspector/);
  });
});

describe('the Lambda Invoke API', () => {
  test('the AWS SDK LambdaClient: an AgentCore-style call with a client context', async () => {
    const res = await lambda().send(
      new InvokeCommand({
        FunctionName: 'mcp-server-everything',
        Payload: Buffer.from(JSON.stringify({ message: 'sdk' })),
        ClientContext: agentCore('everything___echo'),
      }),
    );
    assert.equal(res.StatusCode, 200);
    assert.equal(res.ExecutedVersion, '$LATEST');
    assert.equal(res.FunctionError, undefined);
    assert.match(text(payloadOf(res.Payload)), /Echo: sdk/);
  });

  test('the AWS SDK LambdaClient: a JSON-RPC invoke, by ARN', async () => {
    const res = await lambda().send(
      new InvokeCommand({
        FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:mcp-server-git',
        Payload: Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' })),
      }),
    );
    const body = payloadOf(res.Payload) as { id: number; result: { tools: unknown[] } };
    assert.equal(body.id, 3);
    assert.ok(body.result.tools.length >= 7);
  });

  test('Event and DryRun invocation types', async () => {
    const event = await lambda().send(
      new InvokeCommand({
        FunctionName: 'mcp-server-memory',
        InvocationType: 'Event',
        Payload: Buffer.from('{}'),
      }),
    );
    assert.equal(event.StatusCode, 202);
    // The 202's request id is the invocation's (its START line's, its record's), as in Lambda.
    const requestId = event.$metadata.requestId;
    assert.ok(requestId);
    const record = await eventually(() => invocations.find((r) => r.requestId === requestId), {
      what: 'the event invocation',
    });
    assert.equal(record.functionName, 'mcp-server-memory');
    const dry = await lambda().send(
      new InvokeCommand({ FunctionName: 'mcp-server-memory', InvocationType: 'DryRun' }),
    );
    assert.equal(dry.StatusCode, 204);
  });

  test('an unknown function is ResourceNotFoundException; ListFunctions lists the fleet', async () => {
    await assert.rejects(
      lambda().send(new InvokeCommand({ FunctionName: 'mcp-server-nope' })),
      (err: unknown) => err instanceof ResourceNotFoundException && /Function not found/.test(err.message),
    );
    const list = await lambda().send(new ListFunctionsCommand({}));
    assert.deepEqual(
      list.Functions?.map((f) => f.FunctionName).sort(),
      ['broken', 'everything', 'fault', 'filesystem', 'git', 'memory'].map((id) => `mcp-server-${id}`).sort(),
    );
  });

  test('a function is named as Lambda names it: name, partial or full ARN, with $LATEST only (no other version or alias)', async () => {
    const call = (FunctionName: string, Qualifier?: string) =>
      lambda().send(
        new InvokeCommand({
          FunctionName,
          ...(Qualifier !== undefined ? { Qualifier } : {}),
          Payload: Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })),
        }),
      );
    for (const name of [
      'mcp-server-memory:$LATEST',
      '123456789012:function:mcp-server-memory',
      'arn:aws:lambda:eu-west-1:123456789012:function:mcp-server-memory',
    ])
      assert.equal((await call(name)).StatusCode, 200, name);
    assert.equal((await call('mcp-server-memory', '$LATEST')).StatusCode, 200);
    for (const [name, qualifier] of [
      ['mcp-server-memory:7', undefined],
      ['mcp-server-memory', '42'],
      ['mcp-server-memory:live', undefined],
      ['arn:aws:lambda:eu-west-1:999999999999:function:mcp-server-memory:7', undefined],
      ['arn:aws:s3:::bucket:mcp-server-memory', undefined],
      ['arn:aws:lambda:us-east-1:123456789012:layer:mcp-server-memory', undefined],
    ] as const)
      await assert.rejects(
        call(name, qualifier),
        (err: unknown) => err instanceof ResourceNotFoundException && /Function not found/.test(err.message),
        `${name} ${qualifier ?? ''}`,
      );
  });

  test('a bad client context or body is refused with the reason', async () => {
    const url = `${fleet.url}/2015-03-31/functions/mcp-server-memory/invocations`;
    const badCc = await fetch(url, {
      method: 'POST',
      headers: { 'X-Amz-Client-Context': '%%%not-base64' },
      body: '{}',
    });
    assert.equal(badCc.status, 400);
    assert.equal(badCc.headers.get('x-amzn-errortype'), 'InvalidRequestContentException');
    const badBody = await fetch(url, { method: 'POST', body: '{"unterminated' });
    assert.equal(badBody.status, 400);
    assert.match(
      ((await badBody.json()) as { message: string }).message,
      /Could not parse request body into json/,
    );
  });

  test("the function timeout is enforced Lambda's way, and the next call gets a new environment", async () => {
    const fault = fleet.lambda.resolve('mcp-server-fault');
    const timeouts = fault.stats.timeouts;
    const res = await lambda().send(
      new InvokeCommand({
        FunctionName: 'mcp-server-fault',
        Payload: Buffer.from('{}'),
        ClientContext: agentCore('fault___hang'),
      }),
    );
    // The runtime answers before the deadline (1 s before it: its own tests), so the platform
    // does not cut the call: no function error, no timeout counted, the environment stays up.
    assert.equal(res.FunctionError, undefined);
    assert.match(text(payloadOf(res.Payload)), /did not answer within/);
    assert.equal(fault.stats.timeouts, timeouts, 'not a platform timeout');
    assert.equal(fault.environments.total, 1, 'the environment stays up');
    // A handler that itself overruns (the deadline margin exhausted by a slow call) is cut by the service.
    const slow = await lambda().send(
      new InvokeCommand({
        FunctionName: 'mcp-server-fault',
        Payload: Buffer.from(JSON.stringify({ ms: 5000 })),
        ClientContext: agentCore('fault___slow'),
      }),
    );
    assert.ok(
      slow.FunctionError === 'Unhandled' || /did not answer within/.test(text(payloadOf(slow.Payload))),
    );
    const after = await lambda().send(
      new InvokeCommand({
        FunctionName: 'mcp-server-fault',
        Payload: Buffer.from(JSON.stringify({ text: 'alive' })),
        ClientContext: agentCore('fault___echo'),
      }),
    );
    assert.equal(text(payloadOf(after.Payload)), 'alive');
  });

  test('beyond reserved concurrency, calls queue (bounded), then get TooManyRequestsException', async () => {
    const client = lambda();
    const fault = fleet.lambda.resolve('mcp-server-fault');
    const slow = () =>
      client.send(
        new InvokeCommand({
          FunctionName: 'mcp-server-fault',
          Payload: Buffer.from(JSON.stringify({ ms: 700 })),
          ClientContext: agentCore('fault___slow'),
        }),
      );
    // One call at a time, each sent once the one before is where it should be.
    const seen = (): string => JSON.stringify(fault.environments);
    const running = slow();
    await eventually(() => fault.environments.busy === 1, { what: 'the first call running', seen });
    const queued = slow();
    await eventually(() => fault.environments.queued === 1, { what: 'the second call queued', seen });
    await assert.rejects(slow(), TooManyRequestsException, 'the third finds the queue (1) full');
    for (const r of await Promise.all([running, queued]))
      assert.equal(text(payloadOf(r.Payload)), 'slow done');
  });
});

describe('the aws CLI against the Invoke API', () => {
  const aws = ['/usr/bin/aws', '/usr/local/bin/aws'].find((p) => existsSync(p));
  test(
    'aws lambda invoke --endpoint-url',
    { skip: aws === undefined ? 'the aws CLI is not installed (Debian package awscli)' : false },
    async () => {
      const out = path.join(files.dir, 'out.json');
      const res = await run(
        aws as string,
        [
          'lambda',
          'invoke',
          '--endpoint-url',
          fleet.url,
          '--region',
          'us-east-1',
          '--function-name',
          'mcp-server-everything',
          '--cli-binary-format',
          'raw-in-base64-out',
          '--payload',
          '{"message":"aws cli"}',
          '--client-context',
          agentCore('everything___echo'),
          out,
        ],
        { env: { ...process.env, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' }, timeout: 60_000 },
      );
      assert.match(res.stdout, /"StatusCode": 200/);
      assert.match(text(JSON.parse(await readFile(out, 'utf8'))), /Echo: aws cli/);
    },
  );
});

describe('status', () => {
  test('/status: per function state, environments, calls, errors, latency, last error, tools', async () => {
    const res = await fetch(`${fleet.url}/status`);
    const { functions } = (await res.json()) as { functions: Record<string, unknown>[] };
    const byId = new Map(functions.map((f) => [f['id'], f]));
    assert.equal(byId.get('memory')?.['state'], 'warm');
    assert.equal(byId.get('broken')?.['state'], 'failed');
    assert.match((byId.get('broken')?.['lastError'] as { message: string }).message, /exited with code 3/);
    const everything = byId.get('everything');
    assert.ok(Number(everything?.['calls']) >= 2);
    assert.equal(typeof everything?.['p50Ms'], 'number');
    assert.ok((everything?.['tools'] as string[]).includes('everything___echo'));
    // What a user sizes `memory` with: the function's setting and the most an environment used.
    assert.equal(everything?.['memorySizeMb'], 1024);
    const used = Number(everything?.['maxMemoryUsedMb']);
    assert.ok(used > 0 && used < 1024, `max memory used ${used} MB`);
    assert.deepEqual(Object.keys(everything?.['environments'] as Record<string, number>).sort(), [
      'busy',
      'calls',
      'frozen',
      'queued',
      'total',
    ]);
    assert.equal((everything?.['environments'] as Record<string, number>)['queued'], 0, 'no call waits now');
  });
});

describe('the dev command', () => {
  test('prints a summary, serves, and stops cleanly on SIGTERM with every process reaped', async (t) => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'dist', 'cli', 'main.js'), 'dev', '--config', files.configFile, '--port', '0'],
      {
        env: files.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const output = outputOf(child);
    const out = output.all;
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    });
    await waitForText(out, /Ctrl-C to stop/, { child, what: 'the ready line' });
    assert.match(out(), /5 of 6 servers up, \d+ tools; 1 failed/);
    assert.match(out(), /broken\s+FAILED {2}server "broken" exited with code 3/);
    const gateway = /MCP gateway \(AgentCore-compatible\)\s+(\S+)/.exec(out())?.[1];
    assert.ok(gateway);
    const { body } = await rpc(gateway, {
      id: 1,
      method: 'tools/call',
      params: { name: 'memory___read_graph', arguments: {} },
    });
    assert.match(text(body['result']), /entities/);
    await waitForText(out, /mcp-server-memory memory___read_graph [\d.]+ ms \d+\/1024 MB ok/, {
      child,
      what: "the call's line",
    });
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0);
    // Its last lines may come after the exit event: the pipes end on their own time.
    await waitForText(out, /SIGTERM: stopping every server …\nstopped\./);
  });

  test('every wrong option is reported at once, with the usage exit code, before anything starts', async () => {
    const r = await runCli(
      [
        'dev',
        '--config',
        files.configFile,
        '--port',
        'eighty',
        '--concurrency',
        '0',
        '--memory-limits',
        'lots',
        '--allowed-origin',
        '*',
        '--allowed-host',
        'http://devbox:1',
      ],
      { env: files.env },
    );
    assert.equal(r.code, 2, r.stderr);
    for (const what of [
      '--port eighty',
      '--concurrency 0',
      '--memory-limits lots',
      "--allowed-origin '*'",
      '--allowed-host http://devbox:1',
    ])
      assert.ok(r.stderr.includes(what), `${what} in: ${r.stderr}`);
    assert.doesNotMatch(r.stdout, /starting/);
  });

  test('--json: one JSON object per line — ready (with the state file in place), each call, stopped', async (t) => {
    const child = spawn(
      process.execPath,
      [CLI, 'dev', '--config', files.configFile, '--port', '0', '--json', '--no-watch'],
      { env: files.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = outputOf(child);
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stateAtReady: boolean | undefined;
    const events = (): Record<string, unknown>[] =>
      output
        .stdout()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ready = await eventually(
      () => {
        const e = events().find((x) => x['event'] === 'ready');
        if (e !== undefined) stateAtReady ??= existsSync(path.join(files.dir, '.mcp-fleet', 'dev.json'));
        return e;
      },
      { what: 'the ready event', seen: output.all },
    );
    assert.equal(stateAtReady, true, 'the state file is written before ready is printed');
    const url = String(ready['url']);
    assert.deepEqual(ready['endpoints'], {
      gateway: `${url}/mcp`,
      server: `${url}/servers/<id>/mcp`,
      invoke: url,
      status: `${url}/`,
    });
    const status = ready['status'] as { functions: { id: string; tools: string[] }[]; notRunning?: unknown };
    assert.deepEqual(
      status.functions.map((f) => f.id),
      ['memory', 'everything', 'filesystem', 'git', 'fault', 'broken'],
    );
    assert.ok(status.functions.find((f) => f.id === 'memory')?.tools.includes('memory___read_graph'));
    await rpc(`${url}/mcp`, {
      id: 1,
      method: 'tools/call',
      params: { name: 'memory___read_graph', arguments: {} },
    });
    const call = await eventually(() => events().find((x) => x['event'] === 'call'), {
      what: 'the call event',
      seen: output.all,
    });
    assert.equal(call['functionName'], 'mcp-server-memory');
    assert.equal(call['toolName'], 'memory___read_graph');
    assert.equal(call['outcome'], 'ok');
    assert.equal(call['payload'], undefined, 'no payload on the terminal');
    // Through the server's own endpoint the record names the tool too (from the request's body).
    await rpc(`${url}/servers/memory/mcp`, {
      id: 2,
      method: 'tools/call',
      params: { name: 'read_graph', arguments: {} },
    });
    await eventually(() => events().filter((x) => x['event'] === 'call').length >= 2, {
      what: 'the second call event',
      seen: output.all,
    });
    assert.equal(events().filter((x) => x['event'] === 'call')[1]?.['toolName'], 'memory___read_graph');
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0);
    // Its last lines may come after the exit event: the pipe ends on its own time.
    await waitForText(output.stdout, /"event":"stopped"/);
    assert.deepEqual(
      events()
        .slice(-2)
        .map((e) => e['event']),
      ['stopping', 'stopped'],
    );
    assert.ok(!existsSync(path.join(files.dir, '.mcp-fleet', 'dev.json')), 'the state file is removed');
  });

  test('killed outright (SIGKILL), it leaves no frozen environment behind', async () => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'dist', 'cli', 'main.js'), 'dev', '--config', files.configFile, '--port', '0'],
      { env: files.env, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const output = outputOf(child);
    await waitForText(output.stdout, /Ctrl-C to stop/, { child, what: 'the ready line' });
    // The start-up listed every server's tools: their environments are frozen now.
    const tree = (): { pid: number; state: string | undefined }[] =>
      processTree(child.pid ?? 0)
        .slice(1)
        .map((pid) => ({ pid, state: processState(pid) }));
    let procs = tree();
    await eventually(
      () => {
        procs = tree();
        return procs.filter((p) => p.state === 'T').length >= 2;
      },
      { what: 'frozen environments (state T)', seen: () => JSON.stringify(procs) },
    );
    child.kill('SIGKILL');
    await exited(child);
    const left = async (): Promise<{ pid: number; state: string | undefined }[]> => {
      const alive = [];
      for (const p of procs) if (await isAlive(p.pid)) alive.push({ ...p, state: processState(p.pid) });
      return alive;
    };
    let still: { pid: number; state: string | undefined }[] = [];
    await eventually(async () => (still = await left()).length === 0, {
      what: 'every process of the fleet gone',
      seen: () => JSON.stringify(still),
    });
  });

  test('binding off loopback without a token is refused; with a token, requests must carry it', async () => {
    await assert.rejects(
      startFleet(files.config, { host: '0.0.0.0', port: 0, env: files.env }),
      /refusing to listen on 0\.0\.0\.0 without --token/,
    );
    const guarded = await startFleet(files.config, { port: 0, env: files.env, token: 's3cret' });
    try {
      assert.equal((await fetch(`${guarded.url}/status`)).status, 401);
      assert.equal(
        (await fetch(`${guarded.url}/status`, { headers: { Authorization: 'Bearer s3cret' } })).status,
        200,
      );
      const client = new Client({ name: 't', version: '1' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${guarded.url}/mcp`), {
          requestInit: { headers: { Authorization: 'Bearer s3cret' } },
        }),
      );
      assert.ok((await client.listTools()).tools.length > 10);
      await client.close();
    } finally {
      await guarded.close();
    }
  });
});
