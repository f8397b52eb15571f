// verify on a web function: it has no Lambda Invoke, so the direct checks say so (skipped, with
// the reason) and are never sent to Lambda; the gateway checks it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { parseConfig } from '../../src/config/load.js';
import { verifyFleet } from '../../src/verify/verify.js';

test('a web function is not invoked through Lambda: its direct checks are skipped with the reason', async () => {
  const { config } = parseConfig(
    'fs:\n  command: mcp-server-filesystem\n  host: web-function\n  verify: { tool: list_allowed_directories }\n',
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
  assert.equal(sent, 0, 'nothing was sent to Lambda');
});
