// The gateway's interceptors in process: a REQUEST interceptor's function over scripted
// environments on a manual clock (no bundling, no process), its timeout kept to the millisecond.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { GatewayInterceptors, INTERCEPTOR_ERROR_CODE } from '../../src/local/gateway/interceptors.js';
import { answerOf, type Answer, type MessageHandler } from '../../src/protocol/bridge.js';
import type { JsonRpcRequest, JsonRpcResponse } from '../../src/protocol/jsonrpc.js';
import { ManualClock, settle } from '../support/clock.js';
import { result, scriptedEnvironments, type EnvironmentScript } from '../support/scripted-environment.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'mcp-fleet-unit-interceptors-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A REQUEST interceptor (timeout 2 s) whose n-th environment runs `script(n)`, on a manual clock. */
async function requestInterceptor(script: (n: number) => EnvironmentScript) {
  const dir = mkdtempSync(path.join(work, 'fleet-'));
  writeFileSync(path.join(dir, 'gate.mjs'), 'export const handler = (event) => event;\n');
  writeFileSync(
    path.join(dir, 'servers.yaml'),
    `gateway:
  name: unit
  interceptors:
    request: { handler: gate.mjs, timeout: 2 }
servers:
  notes: { command: notes-server }
`,
  );
  const config = await loadConfigOrThrow(path.join(dir, 'servers.yaml'));
  assert.ok(config.gateway.interceptors);
  const clock = new ManualClock();
  const envs = scriptedEnvironments((n) => script(n));
  const interceptors = await GatewayInterceptors.start(config.gateway.interceptors, {
    buildDir: path.join(dir, 'build'),
    workDir: path.join(dir, 'work'),
    cwd: dir,
    region: 'us-east-1',
    environments: envs.factory,
    clock,
    // Scripted environments load no handler: nothing to bundle.
    bundle: (i, buildDir) =>
      Promise.resolve({
        point: i.point,
        functionName: i.functionName,
        dir: buildDir,
        file: path.join(buildDir, 'index.mjs'),
        bytes: 0,
      }),
  });
  return { interceptors, clock, envs };
}

/** What the target answers once the interceptors let a request through. */
const served: JsonRpcRequest[] = [];
const inner: MessageHandler = {
  handle: (message) => {
    const req = message as JsonRpcRequest;
    served.push(req);
    return Promise.resolve({ jsonrpc: '2.0', id: req.id, result: { content: [] } });
  },
};

/** The interceptor's answer that lets the request through unchanged. */
const passThrough: EnvironmentScript = {
  answer: (msg) => {
    const event = msg.event as { mcp: { gatewayRequest: { body: unknown } } };
    return result(msg, {
      interceptorOutputVersion: '1.0',
      mcp: { transformedGatewayRequest: { body: event.mcp.gatewayRequest.body } },
    });
  },
};

const responseOf = (out: JsonRpcResponse | Answer | undefined, what: string): JsonRpcResponse => {
  const answer = answerOf(out);
  assert.ok(answer, what);
  return answer.response;
};

describe('a REQUEST interceptor over its timeout', () => {
  test('the caller is answered at exactly its timeout with why; its environment is killed, the next request served', async () => {
    const { interceptors, clock, envs } = await requestInterceptor((n) =>
      n === 0 ? { answer: () => undefined } : passThrough,
    );
    const request: JsonRpcRequest = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'notes___x', arguments: {} },
    };
    const box: { out?: JsonRpcResponse | Answer | undefined } = {};
    void interceptors
      .handle(inner, request, { deadline: clock.now() + 60_000 })
      .then((out) => (box.out = out));
    await clock.advance(1_999);
    assert.equal(box.out, undefined, 'still waiting 1 ms before the timeout');
    await clock.advance(1);
    const hung = responseOf(box.out, 'answered at its timeout (2 s)');
    assert.ok('error' in hung, JSON.stringify(hung));
    assert.equal(hung.error.code, INTERCEPTOR_ERROR_CODE);
    assert.match(
      hung.error.message,
      /^REQUEST interceptor mcp-fleet-interceptor-request-unit \(gate\.mjs#handler\) failed: timed out after 2 s/,
    );
    assert.equal(served.length, 0, 'the target was not called');
    assert.equal(envs.started[0]?.killedBecause, 'timeout');
    const status = interceptors.status()[0];
    assert.equal(status?.['timeouts'], 1);
    assert.deepEqual(status?.['failures'], { timeout: 1 });

    const next = responseOf(
      await interceptors.handle(inner, { ...request, id: 2 }, { deadline: clock.now() + 60_000 }),
      'the next request answered',
    );
    assert.ok('result' in next, JSON.stringify(next));
    assert.deepEqual(
      served.map((r) => r.id),
      [2],
    );
    assert.equal(envs.started.length, 2, 'a new environment');
    await settle();
    await interceptors.shutdown();
  });
});

describe("what Lambda would not carry out of a REQUEST interceptor's handler", () => {
  test('output JSON cannot hold (a BigInt, a cycle), output over 6 MB, a short-circuit status without a body: each a clear error; the target is not called', async () => {
    const cyclic: Record<string, unknown> = { interceptorOutputVersion: '1.0' };
    cyclic['mcp'] = cyclic;
    const shortCircuit = (body: { id: unknown }, statusCode: number) => ({
      interceptorOutputVersion: '1.0',
      mcp: {
        transformedGatewayResponse: {
          statusCode,
          body: { jsonrpc: '2.0', id: body.id, result: { content: [] } },
        },
      },
    });
    const outputs: ((body: { id: unknown }) => unknown)[] = [
      (body) => ({
        interceptorOutputVersion: '1.0',
        mcp: { transformedGatewayRequest: { body: { ...body, big: 10n } } },
      }),
      () => cyclic,
      (body) => ({
        interceptorOutputVersion: '1.0',
        mcp: { transformedGatewayRequest: { body: { ...body, padding: 'x'.repeat(7_000_000) } } },
      }),
      (body) => shortCircuit(body, 204),
      (body) => shortCircuit(body, 101),
    ];
    const { interceptors, clock } = await requestInterceptor(() => ({
      answer: (msg) => {
        const event = msg.event as { mcp: { gatewayRequest: { body: { id: number } } } };
        const body = event.mcp.gatewayRequest.body;
        return result(msg, outputs[body.id]?.(body));
      },
    }));
    const before = served.length;
    const messages: string[] = [];
    for (let id = 0; id < outputs.length; id++) {
      const out = responseOf(
        await interceptors.handle(
          inner,
          { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'notes___x', arguments: {} } },
          { deadline: clock.now() + 60_000 },
        ),
        `answer ${id}`,
      );
      assert.ok('error' in out, JSON.stringify(out).slice(0, 300));
      assert.equal(out.error.code, INTERCEPTOR_ERROR_CODE);
      messages.push(out.error.message.replace(/^.*? failed: /, ''));
    }
    assert.equal(served.length, before, 'the target was not called');
    assert.match(
      messages[0] ?? '',
      /^its output is not JSON \(.*BigInt.*\); Lambda would fail the invocation$/,
    );
    assert.match(
      messages[1] ?? '',
      /^its output is not JSON \(.*circular.*\); Lambda would fail the invocation$/i,
    );
    assert.match(
      messages[2] ?? '',
      /^its output: the response is \d+ bytes, over Lambda's 6291456-byte \(6 MB\) response limit$/,
    );
    for (const [i, status] of [
      [3, 204],
      [4, 101],
    ] as const)
      assert.equal(
        messages[i],
        `mcp.transformedGatewayResponse.statusCode is ${status}, which carries no body: the JSON-RPC answer would not reach the caller; use 200, or an error status`,
      );
    assert.deepEqual(interceptors.status()[0]?.['failures'], { malformed: 5 });
    await interceptors.shutdown();
  });
});
