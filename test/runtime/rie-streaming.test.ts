/**
 * The bundled handler in Lambda's response-streaming mode (MCP_FLEET_RESPONSE_STREAM=true, as
 * the stack sets it for an MCP-server target's function), under the Runtime Interface Emulator
 * and aws-lambda-ric on Node.js 22 in the sandbox: the runtime interface client runs it as a
 * streamified handler, and a Function URL event's answer is Lambda's HTTP integration prelude,
 * eight NUL bytes, then the SSE events — the notifications first, then the result.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { messagesOf } from '../../src/local/gateway/mcp-target.js';
import { splitIntegration } from '../support/integration.js';
import { faultFunctionUnderRie, type RieFunction } from './rie-support.js';
import { marker, text } from './support.js';

/** A Function URL event (payload format 2.0) with one MCP POST. */
function urlEvent(message: unknown, accept = 'application/json, text/event-stream'): Record<string, unknown> {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', accept, 'mcp-protocol-version': '2025-11-25' },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abc',
      domainName: 'abc.lambda-url.us-east-1.on.aws',
      http: { method: 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'r1',
      routeKey: '$default',
      stage: '$default',
      timeEpoch: Date.now(),
    },
    body: JSON.stringify(message),
    isBase64Encoded: false,
  };
}

describe('the response-streaming handler under the Runtime Interface Emulator', () => {
  const mark = marker();
  let fn: RieFunction;

  before(async () => {
    fn = await faultFunctionUnderRie(mark, { MCP_FLEET_RESPONSE_STREAM: 'true' });
  });

  after(async () => {
    await fn.stop();
  });

  test('a tools/call: streamed by the runtime; the notifications come before the result', async () => {
    const answer = await fn.invokeRaw(
      urlEvent({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'progress', arguments: {}, _meta: { progressToken: 'p1' } },
      }),
    );
    assert.equal(answer.status, 200, fn.output());
    // The prelude and its delimiter are written by awslambda.HttpResponseStream, which only a
    // streamified handler gets to use: the runtime interface client ran it in streaming mode (the
    // emulator passes the body on, not the runtime's headers).
    const { prelude, body } = splitIntegration(answer.body);
    assert.equal(prelude.statusCode, 200);
    assert.equal(prelude.headers['content-type'], 'text/event-stream');
    const messages = messagesOf('text/event-stream', body) as Record<string, unknown>[];
    assert.deepEqual(
      messages.map((m) => m['method'] ?? `response ${String(m['id'])}`),
      [
        'notifications/message',
        'notifications/progress',
        'notifications/progress',
        'notifications/progress',
        'response 1',
      ],
    );
    assert.deepEqual(
      messages.slice(1, 4).map((m) => (m['params'] as { progress: number }).progress),
      [1, 2, 3],
    );
    assert.equal(text((messages[4] as { result: unknown }).result), 'progress done');
  });

  test('an answer without notifications: the prelude with its status and a JSON body', async () => {
    const answer = await fn.invokeRaw(urlEvent({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
    const { prelude, body } = splitIntegration(answer.body);
    assert.equal(prelude.statusCode, 200);
    assert.equal(prelude.headers['content-type'], 'application/json');
    const response = JSON.parse(body) as { id: number; result: { tools: { name: string }[] } };
    assert.equal(response.id, 2);
    assert.ok(response.result.tools.some((t) => t.name === 'progress'));
  });

  test('an HTTP error keeps its status: a wrong Accept is 406', async () => {
    const answer = await fn.invokeRaw(urlEvent({ jsonrpc: '2.0', id: 3, method: 'tools/list' }, 'text/html'));
    const { prelude, body } = splitIntegration(answer.body);
    assert.equal(prelude.statusCode, 406);
    assert.match(body, /Not Acceptable/);
  });

  test('a direct Invoke (JSON-RPC, AgentCore) still gets its JSON result', async () => {
    const rpc = await fn.invokeRaw({ jsonrpc: '2.0', id: 4, method: 'tools/list' });
    const parsed = JSON.parse(rpc.body.toString('utf8')) as { id: number; result: { tools: unknown[] } };
    assert.equal(parsed.id, 4);
    assert.ok(parsed.result.tools.length > 0);
  });
});
