// The one way a function is called and its answer read (src/contract/function-call.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  agentCoreClientContext,
  agentCoreToolName,
  FunctionCallError,
  isErrorResult,
  LAMBDA_PAYLOAD_MAX_BYTES,
  listTools,
  overResponseLimit,
  type InvokeAnswer,
} from '../../src/contract/function-call.js';

describe('calling a function', () => {
  test('tools/list is paged through nextCursor, each page asked with the cursor it was given', async () => {
    const asked: unknown[] = [];
    const pages: Record<string, { tools: { name: string }[]; nextCursor?: string }> = {
      start: { tools: [{ name: 'a' }, { name: 'b' }], nextCursor: 'p2' },
      p2: { tools: [{ name: 'c' }], nextCursor: 'p3' },
      p3: { tools: [{ name: 'd' }] },
    };
    const tools = await listTools((event) => {
      asked.push(event);
      const cursor = (event as { params: { cursor?: string } }).params.cursor ?? 'start';
      return Promise.resolve({ payload: { jsonrpc: '2.0', id: 1, result: pages[cursor] } });
    }, 't');
    assert.deepEqual(
      tools.map((t) => t['name']),
      ['a', 'b', 'c', 'd'],
    );
    assert.deepEqual(
      asked.map((e) => (e as { id: string; params: unknown }).params),
      [{}, { cursor: 'p2' }, { cursor: 'p3' }],
    );
    assert.deepEqual(
      asked.map((e) => (e as { id: string }).id),
      ['t-1', 't-2', 't-3'],
    );
  });

  test("a function error becomes FunctionCallError with Lambda's message; a JSON-RPC error keeps its message", async () => {
    const failing = (): Promise<InvokeAnswer> =>
      Promise.resolve({
        functionError: 'Unhandled',
        payload: { errorType: 'Runtime.ExitError', errorMessage: 'Runtime exited with error: exit status 3' },
      });
    await assert.rejects(listTools(failing), (err: unknown) => {
      assert.ok(err instanceof FunctionCallError);
      assert.equal(err.functionError, 'Unhandled');
      assert.equal(err.message, 'Runtime exited with error: exit status 3');
      return true;
    });
    await assert.rejects(
      listTools(() =>
        Promise.resolve({ payload: { jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'boom' } } }),
      ),
      /^Error: boom$/,
    );
    await assert.rejects(
      listTools(() => Promise.resolve({ payload: { jsonrpc: '2.0', id: 1, result: {} } })),
      /without a "tools" list/,
    );
  });

  test('a server that never stops paging is stopped', async () => {
    await assert.rejects(
      listTools(() => Promise.resolve({ payload: { result: { tools: [], nextCursor: 'again' } } })),
      /after 1000 pages/,
    );
  });

  test("AgentCore's client context, and reading its tool name back", () => {
    const cc = agentCoreClientContext({ toolName: 'git___git_status', messageId: '7', targetId: 'git' });
    assert.deepEqual(cc, {
      custom: {
        bedrockAgentCoreToolName: 'git___git_status',
        bedrockAgentCoreMessageVersion: '1.0',
        bedrockAgentCoreMcpMessageId: '7',
        bedrockAgentCoreTargetId: 'git',
      },
    });
    assert.equal(agentCoreToolName(cc), 'git___git_status');
    assert.equal(agentCoreToolName({ custom: { bedrockAgentCoreToolName: 3 } }), undefined);
    assert.equal(agentCoreToolName(undefined), undefined);
  });

  test('isError results, and the one payload limit (exactly 6 MB serialized)', () => {
    assert.equal(isErrorResult({ isError: true, content: [] }), true);
    assert.equal(isErrorResult({ content: [] }), false);
    assert.equal(isErrorResult(null), false);
    const atLimit = 'x'.repeat(LAMBDA_PAYLOAD_MAX_BYTES - 2); // with its quotes: exactly the limit
    assert.equal(overResponseLimit(atLimit), undefined);
    assert.equal(overResponseLimit(`${atLimit}y`), LAMBDA_PAYLOAD_MAX_BYTES + 1);
  });
});
