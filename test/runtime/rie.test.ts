/**
 * The bundled handler under the real Lambda runtime contract: the AWS Lambda Runtime Interface
 * Emulator (RIE) running the Node.js runtime interface client (npm aws-lambda-ric), invoked over
 * HTTP with a client context.
 *
 * Needs two paths, so it runs where both exist:
 *   AWS_LAMBDA_RIE  the aws-lambda-rie binary (github.com/aws/aws-lambda-runtime-interface-emulator)
 *   AWS_LAMBDA_RIC  aws-lambda-ric's entry (bin/index.mjs in 3.x, index.mjs in 4.x)
 * The Go module proxy this project's machines reach refuses the emulator's module (HTTP 403), so
 * CI cannot build it; see docs/architecture.md.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, ROOT } from '../helpers.js';
import { assertNoneLeft, FAULT_SERVER, marker, text } from './support.js';

const RIE = process.env['AWS_LAMBDA_RIE'];
const RIC = process.env['AWS_LAMBDA_RIC'];
const missing =
  RIE === undefined || !existsSync(RIE)
    ? 'AWS_LAMBDA_RIE does not name an aws-lambda-rie binary'
    : RIC === undefined || !existsSync(RIC)
      ? "AWS_LAMBDA_RIC does not name aws-lambda-ric's entry (index.mjs)"
      : undefined;

describe('the bundled handler under the Lambda Runtime Interface Emulator', { skip: missing }, () => {
  const mark = marker();
  let dir: string;
  let rie: ChildProcess | undefined;
  let url: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcp-fleet-rie-'));
    await copyFile(path.join(ROOT, 'dist', 'runtime', 'lambda.bundle.mjs'), path.join(dir, 'index.mjs'));
    await writeFile(
      path.join(dir, 'launch.json'),
      JSON.stringify({
        id: 'fault',
        name: 'Fault server',
        command: process.execPath,
        args: [FAULT_SERVER],
        env: mark.env,
        timeout: 10,
      }),
    );
    const [port, apiPort] = [await freePort(), await freePort()];
    rie = spawn(
      RIE as string,
      [
        '--log-level',
        'error',
        '--runtime-interface-emulator-address',
        `127.0.0.1:${port}`,
        '--runtime-api-address',
        `127.0.0.1:${apiPort}`,
        process.execPath,
        RIC as string,
        'index.handler',
      ],
      {
        cwd: dir,
        detached: true,
        stdio: 'ignore',
        env: {
          PATH: process.env['PATH'] ?? '',
          AWS_LAMBDA_FUNCTION_NAME: 'mcp-server-fault',
          AWS_LAMBDA_FUNCTION_TIMEOUT: '10',
          AWS_REGION: 'us-east-1',
          LAMBDA_TASK_ROOT: dir,
          POWERTOOLS_METRICS_DISABLED: 'true',
          ...mark.env,
        },
      },
    );
    url = `http://127.0.0.1:${port}/2015-03-31/functions/function/invocations`;
    for (let i = 0; i < 100; i++) {
      try {
        await fetch(`http://127.0.0.1:${port}/`);
        break;
      } catch {
        await sleep(100);
      }
    }
  });

  after(async () => {
    if (rie?.pid !== undefined) process.kill(-rie.pid, 'SIGTERM');
    await sleep(300);
    if (rie?.pid !== undefined) {
      try {
        process.kill(-rie.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await assertNoneLeft(mark.value);
    await rm(dir, { recursive: true, force: true });
  });

  const invoke = async (event: unknown, custom?: Record<string, unknown>): Promise<unknown> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (custom) headers['X-Amz-Client-Context'] = Buffer.from(JSON.stringify({ custom })).toString('base64');
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(event) });
    assert.equal(res.status, 200);
    return res.json();
  };

  test('an AgentCore call: tool name from the client context, arguments as the event', async () => {
    const result = await invoke(
      { text: 'through the runtime API' },
      { bedrockAgentCoreToolName: 'fault___echo' },
    );
    assert.equal(text(result), 'through the runtime API');
  });

  test('the server stays warm across invocations', async () => {
    const a = text(await invoke({}, { bedrockAgentCoreToolName: 'fault___pid' }));
    const b = text(await invoke({}, { bedrockAgentCoreToolName: 'fault___pid' }));
    assert.match(a, /^\d+$/);
    assert.equal(a, b);
  });

  test('no client context: the error result the seed expects', async () => {
    const result = (await invoke({})) as Record<string, unknown>;
    assert.equal(result['isError'], true);
    assert.match(
      text(result),
      /Missing bedrockAgentCoreToolName in context \(server_id: fault, server_name: Fault server\)/,
    );
  });

  test('a direct JSON-RPC invoke', async () => {
    const result = (await invoke({ jsonrpc: '2.0', id: 7, method: 'tools/list' })) as {
      id: number;
      result: { tools: unknown[] };
    };
    assert.equal(result.id, 7);
    assert.ok(result.result.tools.length > 5);
  });

  test('a hung call is answered with an error before the function times out', async () => {
    const t0 = Date.now();
    const result = (await invoke({}, { bedrockAgentCoreToolName: 'fault___hang' })) as Record<
      string,
      unknown
    >;
    assert.ok(Date.now() - t0 < 10_000, 'before the 10 s function timeout');
    assert.equal(result['isError'], true);
    assert.match(text(result), /did not answer within/);
    assert.equal(
      text(await invoke({ text: 'after' }, { bedrockAgentCoreToolName: 'fault___echo' })),
      'after',
    );
  });
});
