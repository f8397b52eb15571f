/**
 * The tool a `/servers/<id>/mcp` request calls, read from its body for the invocation's record:
 * named as the gateway names it; nothing for any other body, a body that is not JSON, or one over
 * the size that is read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toolOfBody } from '../../src/local/dev/mcp-routes.js';

const body = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

test("a tools/call's tool under its gateway name; nothing for anything else", () => {
  const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'read_graph', arguments: {} } };
  assert.equal(toolOfBody(body(call), 'memory'), 'memory___read_graph');
  assert.equal(toolOfBody(body({ ...call, method: 'tools/list' }), 'memory'), undefined);
  assert.equal(toolOfBody(body({ ...call, params: { name: 7 } }), 'memory'), undefined);
  assert.equal(
    toolOfBody(body({ jsonrpc: '2.0', method: 'tools/call' }), 'memory'),
    undefined,
    'a notification',
  );
  assert.equal(toolOfBody(body([call]), 'memory'), undefined, 'a batch');
  assert.equal(toolOfBody(Buffer.from('{not json'), 'memory'), undefined);
  const big = { ...call, params: { name: 'write', arguments: { text: 'x'.repeat(70 * 1024) } } };
  assert.equal(toolOfBody(body(big), 'memory'), undefined, 'over 64 KiB: not read');
});
