/**
 * The bundled handler under the real Lambda runtime contract: the AWS Lambda Runtime Interface
 * Emulator running the Node.js runtime interface client (npm aws-lambda-ric) on Node.js 22, as
 * Lambda's nodejs22.x does, in the Lambda-like sandbox (read-only /var/task, a fresh /tmp,
 * Lambda's environment variables only), invoked over HTTP with a client context.
 *
 * scripts/lambda-tools.ts installs the three pieces (.ci/run does it first; here it is a no-op
 * when they are there).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { faultFunctionUnderRie, type RieFunction } from './rie-support.js';
import { marker, text } from './support.js';

describe('the bundled handler under the Lambda Runtime Interface Emulator, Node.js 22, in the sandbox', () => {
  const mark = marker();
  let fn: RieFunction;

  before(async () => {
    fn = await faultFunctionUnderRie(mark);
  });

  after(async () => {
    await fn.stop();
  });

  test('an AgentCore call: tool name from the client context, arguments as the event', async () => {
    const result = await fn.invoke(
      { text: 'through the runtime API' },
      { bedrockAgentCoreToolName: 'fault___echo' },
    );
    assert.equal(text(result), 'through the runtime API');
  });

  test('the server stays warm across invocations', async () => {
    const a = text(await fn.invoke({}, { bedrockAgentCoreToolName: 'fault___pid' }));
    const b = text(await fn.invoke({}, { bedrockAgentCoreToolName: 'fault___pid' }));
    assert.match(a, /^\d+$/);
    assert.equal(a, b);
  });

  test('no client context: the error result the seed expects', async () => {
    const result = (await fn.invoke({})) as Record<string, unknown>;
    assert.equal(result['isError'], true);
    assert.match(
      text(result),
      /Missing bedrockAgentCoreToolName in context \(server_id: fault, server_name: Fault server\)/,
    );
  });

  test('a direct JSON-RPC invoke', async () => {
    const result = (await fn.invoke({ jsonrpc: '2.0', id: 7, method: 'tools/list' })) as {
      id: number;
      result: { tools: unknown[] };
    };
    assert.equal(result.id, 7);
    assert.ok(result.result.tools.length > 5);
  });

  test('a hung call is answered with an error before the function times out', async () => {
    const result = (await fn.invoke({}, { bedrockAgentCoreToolName: 'fault___hang' })) as Record<
      string,
      unknown
    >;
    // Our answer, not the emulator's Sandbox.Timedout: the call was cut before the function's
    // 10 s, at what Lambda left of it less the 1 s margin.
    assert.equal(result['isError'], true, JSON.stringify(result));
    const cut = /did not answer within (\d+) ms/.exec(text(result));
    assert.ok(cut, text(result));
    const ms = Number(cut[1]);
    assert.ok(ms > 0 && ms <= 9000, `cut 1 s before the 10 s function timeout (${ms} ms were left)`);
    assert.equal(
      text(await fn.invoke({ text: 'after' }, { bedrockAgentCoreToolName: 'fault___echo' })),
      'after',
    );
  });

  test("the server runs as in Lambda: Node.js 22 from /var/lang, in /var/task, with Lambda's variables only", async () => {
    const info = JSON.parse(
      text(await fn.invoke({}, { bedrockAgentCoreToolName: 'fault___info' })),
    ) as Record<string, string>;
    assert.match(info['node'] ?? '', /^v22\./);
    assert.equal(info['execPath'], '/var/lang/bin/node');
    const env = JSON.parse(
      text(
        await fn.invoke(
          { text: 'PATH,AWS_REGION,HOME,USER,SHELL' },
          { bedrockAgentCoreToolName: 'fault___env' },
        ),
      ),
    ) as Record<string, string | null>;
    assert.match(env['PATH'] ?? '', /(^|:)\/var\/lang\/bin(:|$)/, "Lambda's PATH");
    assert.equal(env['AWS_REGION'], 'us-east-1', "the function's region");
    assert.equal(env['USER'], null, "nothing of the host's environment");
    assert.equal(env['SHELL'], null);
    assert.match(env['HOME'] ?? '', /^\/tmp\//, 'HOME points into /tmp, the only writable place');
  });

  test('only /tmp is writable: /var/task and the rest of the file system are read-only', async () => {
    const write = async (p: string): Promise<string> =>
      text(await fn.invoke({ path: p, text: 'x' }, { bedrockAgentCoreToolName: 'fault___write' }));
    assert.equal(await write('/tmp/ok.txt'), 'wrote /tmp/ok.txt');
    assert.match(
      await write('/var/task/state.json'),
      /^EROFS: .*read-only file system, open '\/var\/task\/state\.json'$/,
    );
    assert.match(await write('/etc/mcp-fleet'), /^EROFS: /);
    assert.match(await write('/root/.config'), /^(EROFS|ENOENT): /);
  });
});
