/**
 * `dev` stopping while calls are in flight: every caller still waiting gets an answer (a JSON-RPC
 * error that says its server was stopped) before the connections go, whatever host its server is
 * on, instead of a stream that ends without one (a real MCP client then waits for its own
 * timeout). Nothing is left running.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startFleet, type RunningFleet } from '../../src/local/dev/fleet.js';
import { tempDir } from '../helpers.js';
import { assertNoneLeft, FAULT_SERVER, marker } from '../runtime/support.js';
import { eventually } from '../support/eventually.js';

const mark = marker();
let cleanup: () => Promise<void>;
let fleet: RunningFleet;
let closed = false;

before(async () => {
  let dir: string;
  ({ dir, cleanup } = await tempDir());
  const server = (host: string): string => `    command: node
    args: [${JSON.stringify(FAULT_SERVER)}]
    host: ${host}
    timeout: 120`;
  await writeFile(
    path.join(dir, 'servers.yaml'),
    `defaults:
  env: { MCP_FLEET_TEST_MARKER: "${mark.value}" }
servers:
  fn:
${server('function')}
  web:
${server('web-function')}
  session:
${server('agentcore-runtime')}
    state: session
`,
  );
  fleet = await startFleet(await loadConfigOrThrow(path.join(dir, 'servers.yaml')), {
    port: 0,
    buildDir: false,
    env: { ...process.env, ...mark.env, POWERTOOLS_METRICS_DISABLED: 'true' },
  });
});

after(async () => {
  if (!closed) await fleet.close();
  await assertNoneLeft(mark.value);
  await cleanup();
});

describe('dev stopping with calls in flight', () => {
  test('every waiting caller is answered with an error that says its server was stopped', async () => {
    const clients: Client[] = [];
    const warm = new Set<string>();
    const calls = ['fn', 'web', 'session'].map(async (target) => {
      const client = new Client({ name: `shutdown-${target}`, version: '1' });
      clients.push(client);
      await client.connect(new StreamableHTTPClientTransport(new URL(`${fleet.url}/mcp`)));
      // A first call makes its environment (its session's, on the runtime) warm: the next one runs
      // in it, past any init.
      await client.callTool({ name: `${target}___echo`, arguments: { text: 'warm' } });
      warm.add(target);
      return client
        .callTool({ name: `${target}___hang`, arguments: {} }, undefined, { timeout: 600_000 })
        .then(
          // A Lambda target's failure is a tool result with isError (AgentCore's way).
          (r) => `${target}: ${r.isError === true ? 'isError ' : ''}${JSON.stringify(r.content)}`,
          (err: unknown) => `${target}: ${err instanceof Error ? err.message : String(err)}`,
        );
    });
    // Each call is running in its environment.
    await eventually(
      () =>
        ['fn', 'web', 'session'].every((id) => {
          const fn = fleet.lambda.forServer(id);
          return warm.has(id) && fn !== undefined && fn.environments.busy > 0;
        }),
      { what: 'the three calls in flight', timeoutMs: 30_000 },
    );
    const stopping = fleet.close();
    closed = true;
    const outcomes = await Promise.all(calls);
    await stopping;
    for (const outcome of outcomes) {
      assert.match(outcome, /^(fn|web|session): (isError |MCP error -32603: )/, outcome);
      // Its server stopped under it, or (a call that reached dev as it stopped) refused by the
      // stopped function: either way an answer that says so.
      assert.match(
        outcome,
        /was stopped \((the session ended \()?the (environment|entry) is shutting down\)|the local Lambda service is shutting down/,
        outcome,
      );
    }
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  });
});
