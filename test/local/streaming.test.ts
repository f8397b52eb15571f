/**
 * Response streaming in the local Lambda service: a handler in streaming mode (marked with
 * awslambda.streamifyResponse, as Lambda's Node.js runtime does it) runs in its worker, and its
 * pieces reach the caller as they are written; the function timeout, the REPORT line, freezing
 * and the payload limits hold as for a buffered function. Through the gateway's MCP-server
 * target path too: notifications before a platform timeout, then a clear error.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { LAMBDA_PAYLOAD_MAX_BYTES } from '../../src/contract/function-call.js';
import { LocalLambda } from '../../src/local/lambda/service.js';
import { McpTargets } from '../../src/local/gateway/mcp-target.js';
import { systemClock } from '../../src/platform/time.js';
import type { JsonRpcNotification } from '../../src/protocol/jsonrpc.js';
import { fixture, tempDir } from '../helpers.js';
import { assertNoneLeft, FAULT_SERVER, marker } from '../runtime/support.js';
import { eventually } from '../support/eventually.js';
import { gate } from './support.js';

const STREAMING_HANDLER = fixture('handlers', 'streaming.mjs');
const mark = marker();
let dir: string;
let cleanup: () => Promise<void>;
let lambda: LocalLambda;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  const file = path.join(dir, 'servers.yaml');
  const server = (id: string, extra: string): string =>
    `  ${id}:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FAULT_SERVER)}]
    env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
${extra}`;
  await writeFile(
    file,
    `servers:\n${server('stream', '    timeout: 3\n')}${server('target', '    timeout: 3\n    gateway: { targetType: mcp }\n')}`,
  );
  const config = await loadConfigOrThrow(file);
  lambda = new LocalLambda(config.servers, {
    workDir: path.join(dir, 'work'),
    cwd: dir,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    handlers: { stream: STREAMING_HANDLER, target: STREAMING_HANDLER },
  });
});

after(async () => {
  await lambda.shutdown();
  await assertNoneLeft(mark.value);
  await cleanup();
});

const log = async (id: string): Promise<string> => {
  await lambda.resolve(`mcp-server-${id}`).logFlushed();
  return readFile(path.join(dir, 'work', id, 'function.log'), 'utf8');
};

describe('a streaming function in the local Lambda service', () => {
  test('its pieces reach the caller as they are written; REPORT, then the environment is frozen', async () => {
    // The handler writes the next piece only once the caller has got this one (a gate).
    const got = gate(dir);
    const pieces: { text: string; type: string }[] = [];
    const outcome = await lambda.invoke(
      'mcp-server-stream',
      { pieces: 3, gate: got.dir },
      {
        onChunk: (data, type) => {
          pieces.push({ text: data.toString('utf8'), type });
          got.pass(pieces.length);
        },
      },
    );
    assert.equal(
      outcome.functionError,
      undefined,
      `each piece reached the caller while the handler ran: ${JSON.stringify(outcome.payload)}`,
    );
    assert.deepEqual(
      pieces.map((p) => p.text),
      ['piece 1\n', 'piece 2\n', 'piece 3\n'],
    );
    assert.ok(pieces.every((p) => p.type === 'text/plain'));
    assert.deepEqual(outcome.streamed, { contentType: 'text/plain', bytes: 24 });
    assert.equal(outcome.payload, null);
    assert.match(await log('stream'), new RegExp(`REPORT RequestId: ${outcome.requestId}\\tDuration: `));
    const fn = lambda.resolve('mcp-server-stream');
    await eventually(() => fn.environments.frozen === 1, {
      what: 'the environment frozen',
      seen: () => JSON.stringify(fn.environments),
    });
  });

  test('what the handler writes in one turn of its event loop reaches the caller as one piece; pieces apart in time stay apart', async () => {
    const oneTurn: string[] = [];
    const quick = await lambda.invoke(
      'mcp-server-stream',
      { pieces: 3 },
      { onChunk: (data) => oneTurn.push(data.toString('utf8')) },
    );
    assert.equal(quick.functionError, undefined);
    assert.deepEqual(oneTurn, ['piece 1\npiece 2\npiece 3\n'], 'written and ended in one turn: one piece');
    assert.deepEqual(quick.streamed, { contentType: 'text/plain', bytes: 24 });
    const apart: string[] = [];
    const slow = await lambda.invoke(
      'mcp-server-stream',
      { pieces: 3, gapMs: 30 },
      { onChunk: (data) => apart.push(data.toString('utf8')) },
    );
    assert.equal(slow.functionError, undefined);
    assert.deepEqual(apart, ['piece 1\n', 'piece 2\n', 'piece 3\n'], '30 ms apart: each piece on its own');
  });

  test('a buffered caller gets the whole stream as the payload (Invoke of a streaming function)', async () => {
    const outcome = await lambda.invoke('mcp-server-stream', { pieces: 2 });
    assert.equal(outcome.payload, 'piece 1\npiece 2\n');
    assert.equal(outcome.streamed?.body?.toString('utf8'), 'piece 1\npiece 2\n');
  });

  test("over 6 MB: Lambda's buffered limit fails a buffered caller; a streaming caller gets it all", async () => {
    const bytes = LAMBDA_PAYLOAD_MAX_BYTES + 1024;
    const buffered = await lambda.invoke('mcp-server-stream', { bytes });
    assert.equal(buffered.functionError, 'Unhandled');
    assert.equal((buffered.payload as { errorType?: string }).errorType, 'Function.ResponseSizeTooLarge');
    assert.match(
      (buffered.payload as { errorMessage?: string }).errorMessage ?? '',
      /exceeded maximum allowed payload size \(6291456 bytes\)/,
    );
    let got = 0;
    const streamed = await lambda.invoke(
      'mcp-server-stream',
      { bytes },
      { onChunk: (d) => (got += d.length) },
    );
    assert.equal(streamed.functionError, undefined);
    assert.equal(got, bytes);
    assert.equal(streamed.streamed?.bytes, bytes);
  });

  test('a handler that throws after some pieces: the pieces, then the function error', async () => {
    const pieces: string[] = [];
    const outcome = await lambda.invoke(
      'mcp-server-stream',
      { pieces: 2, fail: true },
      { onChunk: (d) => pieces.push(d.toString('utf8')) },
    );
    // Written in one turn, then the throw: one piece, sent before the error.
    assert.deepEqual(pieces, ['piece 1\npiece 2\n']);
    assert.equal(outcome.functionError, 'Unhandled');
    assert.equal((outcome.payload as { errorMessage?: string }).errorMessage, 'failed after the pieces');
  });

  test('the function timeout mid-stream: the pieces so far, Sandbox.Timedout, the environment killed', async () => {
    const fn = lambda.resolve('mcp-server-stream');
    const pieces: string[] = [];
    const outcome = await lambda.invoke(
      'mcp-server-stream',
      { pieces: 2, gapMs: 300, hang: true },
      { onChunk: (d) => pieces.push(d.toString('utf8')) },
    );
    assert.deepEqual(pieces, ['piece 1\n', 'piece 2\n']);
    assert.equal(outcome.functionError, 'Unhandled');
    assert.equal((outcome.payload as { errorType?: string }).errorType, 'Sandbox.Timedout');
    assert.match(
      (outcome.payload as { errorMessage?: string }).errorMessage ?? '',
      /Task timed out after 3\.00 seconds/,
    );
    assert.equal(outcome.report.status, 'timeout');
    assert.equal(outcome.streamed?.bytes, 16);
    assert.equal(fn.environments.total, 0, 'the timed-out environment is gone');
    assert.match(await log('stream'), /Status: timeout/);
  });
});

describe('the gateway path to an MCP-server target that streams', () => {
  test('notifications reach the caller as they come, then the response', async () => {
    const targets = new McpTargets(lambda, systemClock);
    const fn = lambda.resolve('mcp-server-target');
    const seen: JsonRpcNotification[] = [];
    const got = gate(dir);
    const response = await targets.call(
      fn,
      { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'target___x', arguments: {} } },
      'x',
      {
        deadline: Date.now() + 30_000,
        onNotification: (n) => seen.push(n),
      },
    );
    assert.deepEqual(response, {
      jsonrpc: '2.0',
      id: 7,
      result: { content: [{ type: 'text', text: 'done' }] },
    });
    assert.equal(seen.length, 0);
    const later = await targets.call(
      fn,
      {
        jsonrpc: '2.0',
        id: 8,
        method: 'tools/call',
        params: {
          name: 'target___x',
          arguments: { pieces: 3, gate: got.dir },
          _meta: { progressToken: 'p' },
        },
      },
      'x',
      {
        deadline: Date.now() + 30_000,
        // The handler sends the next notification only once this one has reached the caller.
        onNotification: (n) => {
          seen.push(n);
          got.pass(seen.length);
        },
      },
    );
    assert.deepEqual(later, { jsonrpc: '2.0', id: 8, result: { content: [{ type: 'text', text: 'done' }] } });
    assert.deepEqual(
      seen.map((n) => n.params?.['progress']),
      [1, 2, 3],
    );
  });

  test('a platform timeout mid-stream: the notifications so far, then an error that says what happened', async () => {
    const targets = new McpTargets(lambda, systemClock);
    const fn = lambda.resolve('mcp-server-target');
    const seen: JsonRpcNotification[] = [];
    await assert.rejects(
      targets.call(
        fn,
        {
          jsonrpc: '2.0',
          id: 9,
          method: 'tools/call',
          params: { name: 'target___x', arguments: { pieces: 2, gapMs: 200, hang: true } },
        },
        'x',
        { deadline: Date.now() + 30_000, onNotification: (n) => seen.push(n) },
      ),
      /mcp-server-target failed while it streamed its answer \(the Function URL's stream ends there\): .*Task timed out after 3\.00 seconds/,
    );
    assert.equal(seen.length, 2);
    assert.equal(fn.environments.total, 0, 'the timed-out environment is gone');
  });
});
