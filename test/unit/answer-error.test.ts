/**
 * What an answer says went wrong (`answerError`): the status page, the terminal's call line and
 * the measurements `mcp-fleet plan` reads all count a call as failed from it, for event functions'
 * results and for the HTTP answers of web functions and Function URLs alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answerError } from '../../src/contract/function-call.js';

const http = (statusCode: number, body: string, contentType = 'application/json') => ({
  statusCode,
  headers: { 'content-type': contentType },
  body,
});
const sse = (...messages: unknown[]) =>
  messages.map((m) => `event: message\ndata: ${JSON.stringify(m)}\n\n`).join('');

test('an event function: an isError result, a JSON-RPC error; a good result is not an error', () => {
  assert.equal(
    answerError({ content: [{ type: 'text', text: 'no such file' }], isError: true }),
    'no such file',
  );
  assert.equal(
    answerError({ jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'bad params' } }),
    'bad params',
  );
  assert.equal(answerError({ content: [{ type: 'text', text: 'fine' }] }), undefined);
  assert.equal(answerError(null), undefined);
  assert.equal(answerError('text'), undefined);
});

test('an HTTP answer: a JSON-RPC error or an isError result in its JSON or SSE body, with status 200', () => {
  const timedOut = {
    jsonrpc: '2.0',
    id: 7,
    error: { code: -32001, message: 'did not answer within 2000 ms' },
  };
  assert.equal(answerError(http(200, JSON.stringify(timedOut))), 'did not answer within 2000 ms');
  assert.equal(
    answerError(
      http(
        200,
        sse({ jsonrpc: '2.0', method: 'notifications/progress', params: {} }, timedOut),
        'text/event-stream',
      ),
    ),
    'did not answer within 2000 ms',
  );
  const failedTool = {
    jsonrpc: '2.0',
    id: 2,
    result: { content: [{ type: 'text', text: 'denied' }], isError: true },
  };
  assert.equal(answerError(http(200, JSON.stringify(failedTool))), 'denied');
  assert.equal(answerError(http(200, JSON.stringify([failedTool]))), 'denied', 'a batch');
});

test('an HTTP answer: an error status is an error; a good answer, even one whose text says "error", is not', () => {
  assert.equal(
    answerError(http(415, 'Unsupported Media Type', 'text/plain')),
    'HTTP 415: Unsupported Media Type',
  );
  assert.equal(answerError(http(202, '')), undefined, 'an accepted notification');
  const says = {
    jsonrpc: '2.0',
    id: 3,
    result: { content: [{ type: 'text', text: '{"error": "quoted, not a key"}' }] },
  };
  assert.equal(answerError(http(200, JSON.stringify(says))), undefined);
  assert.equal(answerError(http(200, sse(says), 'text/event-stream')), undefined);
});
