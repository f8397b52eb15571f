// verify on a web function or an AgentCore Runtime: neither has a Lambda Invoke, so the direct
// checks say so (skipped, with the reason) and are never sent to Lambda; the gateway checks them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { parseConfig } from '../../src/config/load.js';
import { verifyFleet } from '../../src/verify/verify.js';

test('a web function and a runtime are not invoked through Lambda: their direct checks are skipped with the reason', async () => {
  const { config } = parseConfig(
    [
      'fs:',
      '  command: mcp-server-filesystem',
      '  host: web-function',
      '  verify: { tool: list_allowed_directories }',
      'memory:',
      '  command: mcp-server-memory',
      '  host: agentcore-runtime',
      '  verify: { tool: read_graph }',
      '',
    ].join('\n'),
  );
  assert.ok(config);
  let sent = 0;
  const lambda = new LambdaClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  lambda.middlewareStack.add(
    (next) => (args) => {
      sent += 1;
      return next(args);
    },
    { step: 'initialize' },
  );
  const result = await verifyFleet(config, { lambda });
  const [fs] = result.servers;
  assert.equal(fs?.toolsList.status, 'skip');
  assert.match(fs?.toolsList.detail ?? '', /web function has no Lambda Invoke/);
  assert.equal(fs?.agentCoreCall.status, 'skip');
  const memory = result.servers[1];
  assert.equal(memory?.toolsList.status, 'skip');
  assert.match(memory?.toolsList.detail ?? '', /an AgentCore Runtime has no Lambda Invoke/);
  assert.equal(memory?.agentCoreCall.status, 'skip');
  assert.equal(sent, 0, 'nothing was sent to Lambda');
});
